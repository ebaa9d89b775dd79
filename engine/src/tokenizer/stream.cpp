// StreamDecoder: a token's piece may end inside a UTF-8 character (byte-level
// BPE and <0xNN> tokens split emoji and CJK), so the display only gets the
// complete characters and the rest waits for the next token.
#include "tokenizer/tokenizer.h"

namespace eg {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Expected length of a sequence led by c; 0 for a byte that cannot lead one.
size_t lead_length(unsigned char c) {
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xF0 && c <= 0xF4) return 4;
    return 0;
}

// Whether byte b may follow the lead byte `lead` at position k of a sequence
// (rules of RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF).
bool valid_continuation(unsigned char lead, size_t k, unsigned char b) {
    if ((b & 0xC0) != 0x80) return false;
    if (k != 1) return true;
    if (lead == 0xE0) return b >= 0xA0;
    if (lead == 0xED) return b <= 0x9F;
    if (lead == 0xF0) return b >= 0x90;
    if (lead == 0xF4) return b <= 0x8F;
    return true;
}

}  // namespace

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool render_special)
    : tokenizer_(tokenizer), render_special_(render_special) {}

std::string StreamDecoder::push(int32_t id) {
    pending_ += tokenizer_.token_to_piece(id, render_special_);
    std::string out;
    size_t i = 0;
    while (i < pending_.size()) {
        const auto c = static_cast<unsigned char>(pending_[i]);
        const size_t len = lead_length(c);
        if (len == 0) {  // can never start a character
            out += kReplacement;
            ++i;
            continue;
        }
        size_t k = 1;
        while (k < len && i + k < pending_.size() &&
               valid_continuation(c, k, static_cast<unsigned char>(pending_[i + k])))
            ++k;
        if (k == len) {
            out.append(pending_, i, len);
            i += len;
        } else if (i + k == pending_.size()) {
            break;  // a valid start that the next token may complete
        } else {
            out += kReplacement;  // broken sequence: replace its lead, resync on the next byte
            ++i;
        }
    }
    pending_.erase(0, i);
    return out;
}

std::string StreamDecoder::flush() {
    std::string out;
    for (size_t i = 0; i < pending_.size(); ++i) out += kReplacement;
    pending_.clear();
    return out;
}

}  // namespace eg
