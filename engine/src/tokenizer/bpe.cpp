// Byte-level BPE: the GPT-2 byte alphabet, merges keyed by token id pairs,
// and a priority-queue merge loop (O(n log n) per word, so a 10 KB word with
// no spaces is still fast). Ties between equal ranks go to the leftmost pair,
// as in llama.cpp, which decides the result when a word has overlapping pairs.
#include "tokenizer/bpe.h"

#include <queue>

#include "gguf/gguf.h"
#include "tokenizer/vocab.h"

namespace eg::tok {

namespace {

void append_utf8(std::string& s, uint32_t cp) {
    if (cp < 0x80) {
        s += static_cast<char>(cp);
    } else if (cp < 0x800) {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        s += static_cast<char>(0xE0 | (cp >> 12));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        s += static_cast<char>(0xF0 | (cp >> 18));
        s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// GPT-2's alphabet: printable Latin-1 bytes stand for themselves, the other
// 68 bytes are moved to U+0100.. in byte order so that no token holds a
// space or a control character.
std::array<uint32_t, 256> make_byte_to_cp() {
    std::array<uint32_t, 256> map{};
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
        const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        map[b] = printable ? b : next++;
    }
    return map;
}

const std::array<uint32_t, 256>& byte_to_cp() {
    static const auto map = make_byte_to_cp();
    return map;
}

// Decodes one UTF-8 character at s[i]; returns its length, or 0 if invalid.
size_t decode_utf8(std::string_view s, size_t i, uint32_t& cp) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return 0;
    cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) {
        const auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (cc & 0x3F);
    }
    return len;
}

}  // namespace

std::string bpe_text_to_bytes(std::string_view text) {
    static const auto cp_to_byte = [] {
        std::array<int, 512> m;
        m.fill(-1);
        const auto& fwd = byte_to_cp();
        for (int b = 0; b < 256; ++b) m[fwd[b]] = b;
        return m;
    }();
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        uint32_t cp = 0;
        size_t len = decode_utf8(text, i, cp);
        if (len > 0 && cp < cp_to_byte.size() && cp_to_byte[cp] >= 0) {
            out += static_cast<char>(cp_to_byte[cp]);
            i += len;
            continue;
        }
        // Not in the byte alphabet: llama.cpp writes a visible marker with the
        // character's bytes and the token text; so do we, to stay comparable.
        if (len == 0) len = 1;
        static const char* hex = "0123456789abcdef";
        out += "[UNK_BYTE_0x";
        for (size_t k = 0; k < len; ++k) {
            const auto b = static_cast<unsigned char>(text[i + k]);
            out += hex[b >> 4];
            out += hex[b & 15];
        }
        out += text;
        out += "]";
        i += len;
    }
    return out;
}

Result<std::unique_ptr<BpeModel>> BpeModel::create(const GgufFile& f, const Vocab& vocab) {
    std::unique_ptr<BpeModel> m(new BpeModel(vocab));

    const PreTokenizerSpec* spec = find_pre_tokenizer(vocab.pre);
    if (!spec) return f.error("tokenizer.ggml.pre", "pre-tokenizer '" + vocab.pre + "' is not supported");
    auto pre = PreTokenizer::create(*spec);
    if (!pre) return f.error("tokenizer.ggml.pre", pre.message());
    m->pre_ = std::move(pre.value());

    for (int b = 0; b < 256; ++b) {
        std::string ch;
        append_utf8(ch, byte_to_cp()[b]);
        m->byte_token_[b] = vocab.find(ch);
        m->byte_char_[b] = std::move(ch);
    }

    auto merges = f.get_string_array("tokenizer.ggml.merges");
    if (!merges) return merges.error();
    if (!merges.value()) return f.error("tokenizer.ggml.merges", "missing: a gpt2 tokenizer needs its merges");
    const auto& list = *merges.value();
    m->merges_.reserve(list.size());
    std::string joined;
    for (size_t i = 0; i < list.size(); ++i) {
        std::string_view line = list[i];
        // The separator is the first space after the first byte, so a merge
        // whose left half is a space token still splits correctly.
        const size_t sp = line.size() > 1 ? line.find(' ', 1) : std::string_view::npos;
        if (sp == std::string_view::npos)
            return f.error("tokenizer.ggml.merges",
                           "merge " + std::to_string(i) + " '" + std::string(line) + "' has no space between its halves");
        std::string_view left = line.substr(0, sp), right = line.substr(sp + 1);
        const int32_t l = vocab.find(left), r = vocab.find(right);
        if (l < 0 || r < 0)
            return f.error("tokenizer.ggml.merges", "merge " + std::to_string(i) + " '" + std::string(line) +
                                                        "' names unknown token '" +
                                                        std::string(l < 0 ? left : right) + "'");
        joined.assign(left);
        joined += right;
        // The first (best) rank of a repeated pair wins.
        m->merges_.emplace(pair_key(l, r), Merge{static_cast<int32_t>(i), vocab.find(joined)});
    }
    return m;
}

namespace {

// Pure ASCII text is always well-formed and is used as it is.
bool needs_sanitizing(std::string_view s) {
    for (unsigned char c : s)
        if (c >= 0x80) return true;
    return false;
}

// llama.cpp reads BPE input as code points first: a byte that does not start
// a well-formed sequence becomes U+FFFD, and an overlong form becomes the
// character it encodes. Doing the same keeps our ids equal on broken input.
// Sequences are judged by their shape only (lead byte + continuation bytes),
// as llama.cpp does; code points past U+10FFFF become U+FFFD.
std::string sanitize_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 8);
    for (size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        const size_t len = c < 0x80 ? 1 : c < 0xC0 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF8 ? 4 : 0;
        bool ok = len > 0 && i + len <= s.size();
        uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
        for (size_t k = 1; ok && k < len; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            ok = (cc & 0xC0) == 0x80;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if (!ok || cp > 0x10FFFF) {
            out += "\xEF\xBF\xBD";
            ++i;
            continue;
        }
        append_utf8(out, cp);
        i += len;
    }
    return out;
}

}  // namespace

void BpeModel::encode(std::string_view text, std::vector<int32_t>& out) const {
    std::string clean, for_split;
    std::string_view split_text = text;
    if (needs_sanitizing(text)) {
        clean = sanitize_utf8(text);
        text = split_text = clean;
        // Encoded surrogates (ED A0..BF xx) are kept as bytes, like llama.cpp,
        // but PCRE2 would never match them; llama.cpp's splitter treats them as
        // "other" characters, which U+FFFD (same length, 3 bytes) is to PCRE2.
        for (size_t i = 0; i + 2 < clean.size(); ++i) {
            if (static_cast<unsigned char>(clean[i]) == 0xED && static_cast<unsigned char>(clean[i + 1]) >= 0xA0) {
                if (for_split.empty()) for_split = clean;
                for_split.replace(i, 3, "\xEF\xBF\xBD");
            }
        }
        if (!for_split.empty()) split_text = for_split;
    }
    for (const Span& w : pre_->split(split_text)) encode_word(text.substr(w.begin, w.length), out);
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
    if (word.empty()) return;
    // The word in the byte alphabet: one symbol per input byte.
    std::string enc;
    enc.reserve(word.size() * 2);
    for (unsigned char b : word) enc += byte_char_[b];

    if (vocab_.ignore_merges) {
        if (int32_t id = vocab_.find(enc); id >= 0) {
            out.push_back(id);
            return;
        }
    }

    struct Symbol {
        uint32_t begin, length;  // bytes of `enc`; length 0 once merged away
        int32_t prev, next;
        int32_t id;              // token of the symbol's text, -1 if none
    };
    std::vector<Symbol> sym;
    sym.reserve(word.size());
    uint32_t pos = 0;
    for (size_t i = 0; i < word.size(); ++i) {
        const auto b = static_cast<unsigned char>(word[i]);
        const auto len = static_cast<uint32_t>(byte_char_[b].size());
        sym.push_back({pos, len, static_cast<int32_t>(i) - 1,
                       i + 1 < word.size() ? static_cast<int32_t>(i + 1) : -1, byte_token_[b]});
        pos += len;
    }

    struct Pair {
        int32_t rank, left, right;
        uint32_t left_length, right_length;  // to recognise a pair that has gone stale
        int32_t merged;
        bool operator<(const Pair& o) const {  // priority_queue pops the "largest"
            return rank != o.rank ? rank > o.rank : left > o.left;
        }
    };
    std::priority_queue<Pair> queue;
    auto try_pair = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        const Symbol &l = sym[left], &r = sym[right];
        // Merges only ever name tokens, so a symbol that is no token never merges.
        if (l.id < 0 || r.id < 0) return;
        auto it = merges_.find(pair_key(l.id, r.id));
        if (it == merges_.end()) return;
        queue.push({it->second.rank, left, right, l.length, r.length, it->second.merged});
    };
    for (size_t i = 1; i < sym.size(); ++i) try_pair(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));

    while (!queue.empty()) {
        const Pair p = queue.top();
        queue.pop();
        Symbol& l = sym[p.left];
        Symbol& r = sym[p.right];
        if (l.length == 0 || r.length == 0 || l.length != p.left_length || r.length != p.right_length) continue;
        l.length += r.length;
        l.id = p.merged;
        r.length = 0;
        l.next = r.next;
        if (r.next >= 0) sym[r.next].prev = p.left;
        try_pair(l.prev, p.left);
        try_pair(p.left, l.next);
    }

    for (int32_t i = 0; i >= 0; i = sym[i].next) {
        const Symbol& s = sym[i];
        if (s.id >= 0) {
            out.push_back(s.id);
            continue;
        }
        // A merge produced text that is no token: llama.cpp then emits the
        // single-byte tokens of its characters' bytes where they exist.
        for (uint32_t k = 0; k < s.length; ++k) {
            const int32_t id = vocab_.find(std::string_view(enc).substr(s.begin + k, 1));
            if (id >= 0) out.push_back(id);
        }
    }
}

}  // namespace eg::tok
