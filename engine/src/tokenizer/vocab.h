// The vocabulary of a model as read from its GGUF `tokenizer.ggml.*` keys:
// token texts, scores and attributes, the special token ids and the flags
// that steer encoding, with llama.cpp's defaults for each tokenizer type so
// that our ids match llama.cpp's for the same file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"

namespace eg {

class GgufFile;

namespace tok {

// Token attributes (bit set). The GGUF token_type array gives one base kind
// per token; LSTRIP/RSTRIP are added per model, as llama.cpp does.
enum TokenAttr : uint32_t {
    kAttrUndefined = 1u << 0,
    kAttrUnknown = 1u << 1,
    kAttrUnused = 1u << 2,
    kAttrNormal = 1u << 3,
    kAttrControl = 1u << 4,
    kAttrUserDefined = 1u << 5,
    kAttrByte = 1u << 6,
    kAttrLstrip = 1u << 8,
    kAttrRstrip = 1u << 9,
};

enum class VocabKind { kBpe, kSpm };

// Hash that lets unordered_map<std::string, ...> be searched with a string_view.
// Deliberately not noexcept: libstdc++ then stores each key's hash in its node
// instead of rehashing strings while walking a bucket, which made loading a
// 128k-token vocabulary with 280k merges several times slower.
struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenIndex = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

struct Vocab {
    VocabKind kind = VocabKind::kSpm;
    std::string pre;                 // tokenizer.ggml.pre ("default" when absent)
    std::vector<std::string> text;   // [n_vocab]
    std::vector<float> score;        // [n_vocab], 0 when the file has none
    std::vector<uint32_t> attr;      // [n_vocab], TokenAttr bits
    TokenIndex index;                // text -> id

    int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, sep = -1, pad = -1, mask = -1;
    int32_t fim_pre = -1, fim_suf = -1, fim_mid = -1, fim_pad = -1, fim_rep = -1, fim_sep = -1;
    std::vector<int32_t> eog;        // sorted end-of-generation ids

    bool add_bos = false;
    bool add_eos = false;
    bool add_space_prefix = false;   // SPM: a space before the first word
    bool clean_spaces = false;       // detokenize: " ," -> "," etc.
    bool ignore_merges = false;      // BPE: a word that is a token is not merged

    // Special tokens that are split out of the text before tokenizing
    // (control, user-defined, unknown), longest text first.
    std::vector<int32_t> special_by_length;

    int32_t n_vocab() const { return static_cast<int32_t>(text.size()); }
    bool valid(int32_t id) const { return id >= 0 && id < n_vocab(); }
    int32_t find(std::string_view s) const {
        auto it = index.find(s);
        return it == index.end() ? -1 : it->second;
    }
};

// Reads and validates every tokenizer key; BPE merges are read by bpe.cpp.
// Errors name the file, the key and the reason.
Result<std::unique_ptr<Vocab>> load_vocab(const GgufFile& f);

}  // namespace tok
}  // namespace eg
