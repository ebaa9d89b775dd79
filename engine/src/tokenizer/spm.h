// SentencePiece-style tokenizer (`tokenizer.ggml.model == "llama"`): spaces
// are written as "▁", adjacent pieces are merged best score first, and text
// that forms no token falls back to <0xNN> byte tokens.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace eg::tok {

struct Vocab;

// "▁" -> " " (token text to the text it stands for).
std::string spm_unescape(std::string_view token_text);

class SpmModel {
public:
    explicit SpmModel(const Vocab& vocab);

    // Appends the ids of one raw fragment; spaces are escaped here, the space
    // prefix is the caller's decision. Thread-safe.
    void encode(std::string_view text, std::vector<int32_t>& out) const;

    // The byte of a <0xNN> token (0 when the text is not of that form).
    static uint8_t byte_of_token(std::string_view token_text);

private:
    const Vocab& vocab_;
    std::array<int32_t, 256> byte_token_{};  // byte -> <0xNN> token (or the 1-char token, or unk, or -1)
};

}  // namespace eg::tok
