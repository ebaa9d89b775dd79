// SentencePiece-style merging as llama.cpp does it for "llama" vocabularies:
// start from UTF-8 characters, repeatedly join the adjacent pair whose joined
// text is the best-scoring token (leftmost on ties), then write each symbol as
// its token or, failing that, as byte tokens.
#include "tokenizer/spm.h"

#include <queue>

#include "tokenizer/vocab.h"

namespace eg::tok {

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

// Length of the UTF-8 sequence led by c; stray bytes count as one character.
size_t utf8_length(unsigned char c) {
    if (c < 0x80 || c < 0xC0) return 1;
    if (c < 0xE0) return 2;
    if (c < 0xF0) return 3;
    return 4;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

}  // namespace

std::string spm_unescape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        if (text.compare(i, kSpace.size(), kSpace) == 0) {
            out += ' ';
            i += kSpace.size();
        } else {
            out += text[i++];
        }
    }
    return out;
}

uint8_t SpmModel::byte_of_token(std::string_view t) {
    if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return 0;
    const int hi = hex_digit(t[3]), lo = hex_digit(t[4]);
    return hi < 0 || lo < 0 ? 0 : static_cast<uint8_t>(hi * 16 + lo);
}

SpmModel::SpmModel(const Vocab& vocab) : vocab_(vocab) {
    static const char* hex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
        const char name[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
        int32_t id = vocab.find(name);
        const char single = static_cast<char>(b);
        if (id < 0) id = vocab.find(std::string_view(&single, 1));
        // llama.cpp aborts here; a vocabulary without byte fallback gets <unk>.
        if (id < 0) id = vocab.unk;
        byte_token_[b] = id;
    }
}

void SpmModel::encode(std::string_view raw, std::vector<int32_t>& out) const {
    std::string text;
    text.reserve(raw.size() + 8);
    for (char c : raw) {
        if (c == ' ')
            text += kSpace;
        else
            text += c;
    }
    if (text.empty()) return;

    struct Symbol {
        uint32_t begin, length;  // bytes of `text`; length 0 once merged away
        int32_t prev, next;
    };
    std::vector<Symbol> sym;
    for (size_t pos = 0; pos < text.size();) {
        const size_t len = std::min(utf8_length(static_cast<unsigned char>(text[pos])), text.size() - pos);
        const auto i = static_cast<int32_t>(sym.size());
        sym.push_back({static_cast<uint32_t>(pos), static_cast<uint32_t>(len), i - 1,
                       pos + len < text.size() ? i + 1 : -1});
        pos += len;
    }

    struct Pair {
        float score;
        int32_t left, right;
        uint32_t length;  // joined length when queued; stale if it no longer adds up
        bool operator<(const Pair& o) const {  // priority_queue pops the "largest"
            return score != o.score ? score < o.score : left > o.left;
        }
    };
    std::priority_queue<Pair> queue;
    auto try_pair = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        const uint32_t length = sym[left].length + sym[right].length;
        const int32_t id = vocab_.find(std::string_view(text).substr(sym[left].begin, length));
        if (id < 0) return;
        queue.push({vocab_.score[id], left, right, length});
    };
    for (size_t i = 1; i < sym.size(); ++i) try_pair(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));

    while (!queue.empty()) {
        const Pair p = queue.top();
        queue.pop();
        Symbol& l = sym[p.left];
        Symbol& r = sym[p.right];
        if (l.length == 0 || r.length == 0 || l.length + r.length != p.length) continue;
        l.length += r.length;
        r.length = 0;
        l.next = r.next;
        if (r.next >= 0) sym[r.next].prev = p.left;
        try_pair(l.prev, p.left);
        try_pair(p.left, l.next);
    }

    for (int32_t i = 0; i >= 0; i = sym[i].next) {
        const std::string_view piece = std::string_view(text).substr(sym[i].begin, sym[i].length);
        if (int32_t id = vocab_.find(piece); id >= 0) {
            out.push_back(id);
            continue;
        }
        for (unsigned char b : piece)
            if (byte_token_[b] >= 0) out.push_back(byte_token_[b]);
    }
}

}  // namespace eg::tok
