// Special-token partition: for each special token, longest first, every raw
// fragment is cut at each occurrence. Tokens marked LSTRIP/RSTRIP also take
// the ASCII whitespace beside them (Phi-3's chat markers).
#include "tokenizer/special.h"

#include "tokenizer/vocab.h"

namespace eg::tok {

namespace {

bool ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

}  // namespace

std::vector<Fragment> split_special(const Vocab& vocab, std::string_view text, bool parse_special) {
    std::vector<Fragment> frags;
    if (text.empty()) return frags;
    frags.push_back({-1, 0, text.size()});

    std::vector<Fragment> next;
    for (int32_t id : vocab.special_by_length) {
        const uint32_t attr = vocab.attr[id];
        if (!parse_special && (attr & (kAttrControl | kAttrUnknown))) continue;
        const std::string_view tok = vocab.text[id];
        // Most special tokens do not occur at all: one scan of the text saves
        // rebuilding the fragment list for them.
        if (text.find(tok) == std::string_view::npos) continue;

        next.clear();
        for (const Fragment& f : frags) {
            if (f.token >= 0) {
                next.push_back(f);
                continue;
            }
            size_t begin = f.begin;
            const size_t end = f.begin + f.length;
            while (begin < end) {
                const size_t at = text.substr(0, end).find(tok, begin);
                if (at == std::string_view::npos) break;
                size_t left_end = at;
                if (attr & kAttrLstrip)
                    while (left_end > begin && ascii_space(text[left_end - 1])) --left_end;
                if (left_end > begin) next.push_back({-1, begin, left_end - begin});
                next.push_back({id, 0, 0});
                begin = at + tok.size();
                if (attr & kAttrRstrip)
                    while (begin < end && ascii_space(text[begin])) ++begin;
            }
            if (begin < end) next.push_back({-1, begin, end - begin});
        }
        frags.swap(next);
    }
    return frags;
}

}  // namespace eg::tok
