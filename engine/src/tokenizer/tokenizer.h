// Text <-> token ids for the models we run: byte-level BPE (`gpt2`) and
// SentencePiece-style (`llama`) vocabularies read from GGUF, matching
// llama.cpp's tokenizer id for id. StreamDecoder turns generated ids into
// complete UTF-8 text for display.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace eg {

class GgufFile;

namespace tok {
struct Vocab;
class BpeModel;
class SpmModel;
}  // namespace tok

struct DecodeOptions {
    // Drop a leading BOS and trailing EOS when the vocabulary adds them itself.
    bool remove_special = false;
    // Write control/unknown tokens as their text ("<|im_end|>") instead of nothing.
    bool render_special = false;
};

class Tokenizer {
public:
    // Reads the tokenizer.ggml.* keys; every index in them is checked.
    static Result<std::unique_ptr<Tokenizer>> from_gguf(const GgufFile& f);
    ~Tokenizer();
    Tokenizer(const Tokenizer&) = delete;
    Tokenizer& operator=(const Tokenizer&) = delete;

    // add_special: add BOS/EOS as the vocabulary says (add_bos()/add_eos()).
    // parse_special: control tokens written in the text ("<|im_start|>") become
    // those tokens; user-defined tokens are always recognised.
    std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

    // The bytes a token stands for: byte-level BPE decoded, SPM "▁" as space,
    // <0xNN> as that byte. Control and unknown tokens are empty unless
    // render_special. May be part of a UTF-8 character. Out-of-range ids: "".
    std::string token_to_piece(int32_t id, bool render_special = false) const;

    // llama.cpp's detokenize: the pieces joined, the SPM leading space removed
    // and, for vocabularies that ask for it, spaces before punctuation cleaned.
    std::string decode(const std::vector<int32_t>& ids, DecodeOptions options = {}) const;

    int32_t n_vocab() const;
    int32_t bos_id() const;  // -1 when the vocabulary has none
    int32_t eos_id() const;
    int32_t eot_id() const;
    bool add_bos() const;
    bool add_eos() const;
    bool is_eog(int32_t id) const;  // ends generation: EOS, EOT, <|im_end|>, <|eot_id|>, ...
    const std::vector<int32_t>& eog_ids() const;
    bool is_control(int32_t id) const;
    std::string_view token_text(int32_t id) const;  // as stored in the vocabulary
    std::optional<int32_t> find_token(std::string_view text) const;
    std::string_view model_type() const;  // "gpt2" or "llama"
    std::string_view pre_type() const;    // tokenizer.ggml.pre

private:
    Tokenizer();
    std::string_view piece(int32_t id, bool render_special) const;

    std::unique_ptr<tok::Vocab> vocab_;
    std::unique_ptr<tok::BpeModel> bpe_;
    std::unique_ptr<tok::SpmModel> spm_;
    std::vector<std::string> pieces_;  // [n_vocab] piece with specials rendered
};

// Streams detokenization: returns only complete UTF-8 and keeps an incomplete
// tail for the next call. Bytes that can never form a character come out as
// U+FFFD, so the output is always valid UTF-8. Pieces are joined as they are
// (no leading-space removal, no space cleaning): this is for text that
// continues a prompt.
class StreamDecoder {
public:
    explicit StreamDecoder(const Tokenizer& tokenizer, bool render_special = false);
    std::string push(int32_t id);
    std::string flush();  // the held tail, as U+FFFD per byte; then empty

private:
    const Tokenizer& tokenizer_;
    bool render_special_ = false;
    std::string pending_;
};

}  // namespace eg
