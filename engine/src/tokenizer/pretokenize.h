// Pre-tokenizers of byte-level BPE vocabularies: the regular expressions that
// cut text into words before merging, chosen by `tokenizer.ggml.pre`, run with
// PCRE2 in UTF + UCP mode (\p{L}, \p{N}, \s as Unicode defines them).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace eg::tok {

// What a pre-tokenizer name implies, besides its regexes (llama.cpp's defaults).
struct PreTokenizerSpec {
    std::vector<std::string_view> names;    // values of tokenizer.ggml.pre
    std::vector<const char*> regexes;       // applied in order, each splits the pieces of the last
    bool clean_spaces = true;               // detokenize cleans " ," etc.
    bool ignore_merges = false;             // a whole word found in the vocab is one token
    bool add_bos = false;                   // default of tokenizer.ggml.add_bos_token
    bool no_bos = false;                    // the type has no BOS token
};

// nullptr when the name is unknown.
const PreTokenizerSpec* find_pre_tokenizer(std::string_view pre);

// Byte range of one word inside the text given to split().
struct Span {
    size_t begin = 0;
    size_t length = 0;
};

class PreTokenizer {
public:
    // Compiles the regexes of `spec` once.
    static Result<std::unique_ptr<PreTokenizer>> create(const PreTokenizerSpec& spec);
    ~PreTokenizer();
    PreTokenizer(const PreTokenizer&) = delete;
    PreTokenizer& operator=(const PreTokenizer&) = delete;

    // Cuts text into words. Text between matches is kept as words too, so the
    // words always cover the whole text. Thread-safe.
    std::vector<Span> split(std::string_view text) const;

private:
    PreTokenizer() = default;
    struct Regex;
    std::vector<std::unique_ptr<Regex>> regexes_;
};

}  // namespace eg::tok
