// Byte-level BPE (GPT-2 style, `tokenizer.ggml.model == "gpt2"`): every byte
// is written as a printable character, words come from the pre-tokenizer, and
// adjacent symbols are merged by the rank of `tokenizer.ggml.merges`.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "tokenizer/pretokenize.h"

namespace eg {
class GgufFile;
}

namespace eg::tok {

struct Vocab;

// Token text in the byte-level alphabet -> the bytes it stands for.
std::string bpe_text_to_bytes(std::string_view token_text);

class BpeModel {
public:
    // Reads and validates the merges: both halves must be tokens.
    static Result<std::unique_ptr<BpeModel>> create(const GgufFile& f, const Vocab& vocab);

    // Appends the ids of raw (non-special) text. Thread-safe.
    void encode(std::string_view text, std::vector<int32_t>& out) const;

private:
    explicit BpeModel(const Vocab& vocab) : vocab_(vocab) {}
    void encode_word(std::string_view word, std::vector<int32_t>& out) const;

    struct Merge {
        int32_t rank = 0;
        int32_t merged = -1;  // id of the joined text; -1 when it is no token
    };
    static uint64_t pair_key(int32_t left, int32_t right) {
        return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
    }

    const Vocab& vocab_;
    std::unique_ptr<PreTokenizer> pre_;
    std::unordered_map<uint64_t, Merge> merges_;  // (left id, right id) -> merge
    std::array<std::string, 256> byte_char_;      // byte -> its character (UTF-8)
    std::array<int32_t, 256> byte_token_{};       // byte -> token of that character, -1 if none
};

}  // namespace eg::tok
