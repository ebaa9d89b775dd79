// Tokenizer: loads the vocabulary and its model (BPE or SPM), splits special
// tokens out of the text, adds BOS/EOS as the vocabulary asks, and turns ids
// back into text exactly as llama.cpp's detokenize does.
#include "tokenizer/tokenizer.h"

#include <algorithm>

#include "core/log.h"
#include "gguf/gguf.h"
#include "tokenizer/bpe.h"
#include "tokenizer/special.h"
#include "tokenizer/spm.h"
#include "tokenizer/vocab.h"

namespace eg {

using tok::kAttrByte;
using tok::kAttrControl;
using tok::kAttrNormal;
using tok::kAttrUnknown;
using tok::kAttrUserDefined;

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const GgufFile& f) {
    auto vocab = tok::load_vocab(f);
    if (!vocab) return vocab.error();

    std::unique_ptr<Tokenizer> t(new Tokenizer());
    t->vocab_ = std::move(vocab.value());
    const tok::Vocab& v = *t->vocab_;
    if (v.kind == tok::VocabKind::kBpe) {
        auto bpe = tok::BpeModel::create(f, v);
        if (!bpe) return bpe.error();
        t->bpe_ = std::move(bpe.value());
    } else {
        t->spm_ = std::make_unique<tok::SpmModel>(v);
    }

    // Pieces are computed once; token_to_piece and decode only copy them.
    t->pieces_.resize(v.text.size());
    for (size_t id = 0; id < v.text.size(); ++id) {
        const std::string& text = v.text[id];
        const uint32_t attr = v.attr[id];
        std::string& piece = t->pieces_[id];
        if (attr & (kAttrControl | kAttrUnknown | kAttrUserDefined)) {
            piece = text;
        } else if (attr & kAttrNormal) {
            piece = v.kind == tok::VocabKind::kBpe ? tok::bpe_text_to_bytes(text) : tok::spm_unescape(text);
        } else if ((attr & kAttrByte) && v.kind == tok::VocabKind::kSpm) {
            piece.assign(1, static_cast<char>(tok::SpmModel::byte_of_token(text)));
        }
        // Unused and undefined tokens stand for nothing, as in llama.cpp.
    }
    EG_LOG_DEBUG("tokenizer: {} ({}), {} tokens, bos {} eos {}, {} end-of-generation ids", f.path(),
                 v.kind == tok::VocabKind::kBpe ? "gpt2/" + v.pre : std::string("llama"), v.text.size(), v.bos,
                 v.eos, v.eog.size());
    return t;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
    const tok::Vocab& v = *vocab_;
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 4);
    const auto frags = tok::split_special(v, text, parse_special);

    if (add_special && v.add_bos) out.push_back(v.bos);
    if (spm_) {
        // The space prefix goes before the first text and after every special
        // token (llama.cpp's rule; SentencePiece saw each piece as a new text).
        bool after_special = true;
        std::string buf;
        for (const auto& f : frags) {
            if (f.token >= 0) {
                out.push_back(f.token);
                after_special = true;
                continue;
            }
            buf.clear();
            if (v.add_space_prefix && after_special) buf += ' ';
            buf.append(text.substr(f.begin, f.length));
            spm_->encode(buf, out);
            after_special = false;
        }
    } else {
        for (const auto& f : frags) {
            if (f.token >= 0)
                out.push_back(f.token);
            else
                bpe_->encode(text.substr(f.begin, f.length), out);
        }
    }
    if (add_special && v.add_eos) out.push_back(v.eos);
    return out;
}

std::string_view Tokenizer::piece(int32_t id, bool render_special) const {
    if (!vocab_->valid(id)) return {};
    if (!render_special && (vocab_->attr[id] & (kAttrControl | kAttrUnknown))) return {};
    return pieces_[id];
}

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
    return std::string(piece(id, render_special));
}

namespace {

// llama.cpp's clean_up_tokenization_spaces, three in-place passes. Kept
// byte-for-byte in the same order because golden detokenized text depends
// on how the passes interact (e.g. " ' " followed by "'s").
void clean_spaces(std::string& s) {
    if (s.size() < 2) return;
    size_t total = s.size();

    // 1: " ?", " !", " .", " ," lose the space.
    size_t w = 1;
    for (size_t i = 1; i < total; ++i) {
        const char x = s[i];
        if (s[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --w;
        s[w++] = x;
    }
    total = w;

    // 2: a lone apostrophe between spaces loses both spaces.
    w = total ? 1 : 0;
    for (size_t i = 1; i < total; ++i) {
        const char x = s[i];
        if (x == '\'' && i + 1 < total && s[i - 1] == ' ' && s[i + 1] == ' ') {
            --w;
            s[++i] = '\0';
        }
        s[w++] = x;
    }
    total = w;

    // 3: " 's", " 'm", " 're", " 've" lose the space (" 't", " 'd", " 'll" keep it).
    w = total ? 1 : 0;
    for (size_t i = 1; i < total; ++i) {
        const char x = s[i];
        if (s[i - 1] == ' ' && x == '\'' && i + 1 < total) {
            const char x1 = s[i + 1];
            if (x1 == 's' || x1 == 'm') {
                --w;
            } else if (x1 != 't' && x1 != 'd' && i + 2 < total) {
                const char x2 = s[i + 2];
                if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --w;
            }
        }
        s[w++] = x;
    }
    s.resize(w);
}

}  // namespace

std::string Tokenizer::decode(const std::vector<int32_t>& ids, DecodeOptions options) const {
    const tok::Vocab& v = *vocab_;
    size_t first = 0, last = ids.size();
    // SPM pieces start words with a space; the first one is not wanted.
    bool strip_space = v.add_space_prefix;
    if (options.remove_special && v.add_bos && last > first && ids[first] == v.bos) {
        strip_space = false;
        ++first;
    }
    if (options.remove_special && v.add_eos && last > first && ids[last - 1] == v.eos) --last;

    std::string out;
    for (size_t i = first; i < last; ++i) {
        std::string_view p = piece(ids[i], options.render_special);
        if (strip_space && !p.empty() && p.front() == ' ') p.remove_prefix(1);
        strip_space = false;
        out.append(p);
    }
    if (v.clean_spaces) clean_spaces(out);
    return out;
}

int32_t Tokenizer::n_vocab() const { return vocab_->n_vocab(); }
int32_t Tokenizer::bos_id() const { return vocab_->bos; }
int32_t Tokenizer::eos_id() const { return vocab_->eos; }
int32_t Tokenizer::eot_id() const { return vocab_->eot; }
bool Tokenizer::add_bos() const { return vocab_->add_bos; }
bool Tokenizer::add_eos() const { return vocab_->add_eos; }
const std::vector<int32_t>& Tokenizer::eog_ids() const { return vocab_->eog; }

bool Tokenizer::is_eog(int32_t id) const {
    return id >= 0 && std::binary_search(vocab_->eog.begin(), vocab_->eog.end(), id);
}

bool Tokenizer::is_control(int32_t id) const { return vocab_->valid(id) && (vocab_->attr[id] & kAttrControl); }

std::string_view Tokenizer::token_text(int32_t id) const {
    return vocab_->valid(id) ? std::string_view(vocab_->text[id]) : std::string_view();
}

std::optional<int32_t> Tokenizer::find_token(std::string_view text) const {
    const int32_t id = vocab_->find(text);
    if (id < 0) return std::nullopt;
    return id;
}

std::string_view Tokenizer::model_type() const { return vocab_->kind == tok::VocabKind::kBpe ? "gpt2" : "llama"; }
std::string_view Tokenizer::pre_type() const { return vocab_->pre; }

}  // namespace eg
