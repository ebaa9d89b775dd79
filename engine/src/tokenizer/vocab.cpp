// Loads the vocabulary from GGUF metadata and applies llama.cpp's per-type
// defaults and its text-based detection of end-of-generation and FIM tokens,
// so that special-token handling agrees with llama.cpp for the same file.
#include "tokenizer/vocab.h"

#include <algorithm>
#include <cctype>
#include <span>

#include "core/log.h"
#include "gguf/gguf.h"
#include "tokenizer/pretokenize.h"

namespace eg::tok {

namespace {

// GGUF token_type values (gguf-py TokenType).
uint32_t attr_from_gguf_type(int64_t t) {
    switch (t) {
        case 1: return kAttrNormal;
        case 2: return kAttrUnknown;
        case 3: return kAttrControl;
        case 4: return kAttrUserDefined;
        case 5: return kAttrUnused;
        case 6: return kAttrByte;
        default: return kAttrUndefined;
    }
}

bool is_one_of(std::string_view s, std::span<const std::string_view> list) {
    // Every marker below starts with '<', '_' or "▁" (0xE2): skip the rest fast.
    if (s.empty() || (s[0] != '<' && s[0] != '_' && s[0] != '\xE2')) return false;
    return std::find(list.begin(), list.end(), s) != list.end();
}

// Text-detected token kinds (llama.cpp keeps these lists; models rarely name
// their EOT/FIM tokens in metadata).
constexpr std::string_view kEotTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "_<EOT>",
    "<｜end▁of▁sentence｜>", "<end_of_utterance>"};
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>", "<|endoftext|>",
    "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>"};
constexpr std::string_view kFimPreTexts[] = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>"};
constexpr std::string_view kFimSufTexts[] = {
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>"};
constexpr std::string_view kFimMidTexts[] = {
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>"};
constexpr std::string_view kFimPadTexts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>"};
constexpr std::string_view kFimRepTexts[] = {
    "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"};
constexpr std::string_view kFimSepTexts[] = {"<|file_sep|>"};
constexpr std::string_view kHarmonyTexts[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"};

}  // namespace

Result<std::unique_ptr<Vocab>> load_vocab(const GgufFile& f) {
    auto v = std::make_unique<Vocab>();

    auto model = f.get_string("tokenizer.ggml.model");
    if (!model) return model.error();
    if (!model.value()) return f.error("tokenizer.ggml.model", "missing: the file has no tokenizer");
    const std::string& model_name = *model.value();
    if (model_name == "gpt2") {
        v->kind = VocabKind::kBpe;
    } else if (model_name == "llama") {
        v->kind = VocabKind::kSpm;
    } else {
        return f.error("tokenizer.ggml.model",
                       "tokenizer type '" + model_name + "' is not supported (supported: gpt2, llama)");
    }

    auto pre = f.get_string("tokenizer.ggml.pre");
    if (!pre) return pre.error();
    v->pre = pre.value() ? *pre.value() : "default";

    // --- per-type defaults (llama.cpp's) ---
    int32_t def_bos = 1, def_eos = 2, def_unk = 0;
    if (v->kind == VocabKind::kSpm) {
        v->add_space_prefix = true;
        v->add_bos = true;
        v->clean_spaces = false;
    } else {
        const PreTokenizerSpec* spec = find_pre_tokenizer(v->pre);
        if (!spec) return f.error("tokenizer.ggml.pre", "pre-tokenizer '" + v->pre + "' is not supported");
        def_bos = spec->no_bos ? -1 : 11;
        def_eos = 11;
        def_unk = -1;
        v->add_space_prefix = false;
        v->clean_spaces = spec->clean_spaces;
        v->ignore_merges = spec->ignore_merges;
        v->add_bos = spec->add_bos;
    }
    auto add_prefix = f.get_bool("tokenizer.ggml.add_space_prefix");
    if (!add_prefix) return add_prefix.error();
    if (add_prefix.value()) v->add_space_prefix = *add_prefix.value();

    // --- tokens, scores, types ---
    auto tokens = f.get_string_array("tokenizer.ggml.tokens");
    if (!tokens) return tokens.error();
    if (!tokens.value() || tokens.value()->empty())
        return f.error("tokenizer.ggml.tokens", "missing or empty: the file has no vocabulary");
    const auto& tok_texts = *tokens.value();
    if (tok_texts.size() > static_cast<size_t>(INT32_MAX))
        return f.error("tokenizer.ggml.tokens", "too many tokens (" + std::to_string(tok_texts.size()) + ")");
    const size_t n = tok_texts.size();
    const std::string n_str = std::to_string(n);

    auto scores = f.get_float_array("tokenizer.ggml.scores");
    if (!scores) return scores.error();
    if (scores.value() && scores.value()->size() != n)
        return f.error("tokenizer.ggml.scores", "has " + std::to_string(scores.value()->size()) +
                                                    " entries, tokenizer.ggml.tokens has " + n_str);
    auto types = f.get_int_array("tokenizer.ggml.token_type");
    if (!types) return types.error();
    if (types.value() && types.value()->size() != n)
        return f.error("tokenizer.ggml.token_type", "has " + std::to_string(types.value()->size()) +
                                                        " entries, tokenizer.ggml.tokens has " + n_str);

    v->text.resize(n);
    v->score.assign(n, 0.0f);
    v->attr.assign(n, kAttrNormal);
    v->index.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        std::string t(tok_texts[i]);
        // An empty token could never be produced nor looked up; llama.cpp renames it the same way.
        if (t.empty()) t = "[EMPTY_" + std::to_string(i) + "]";
        auto [it, inserted] = v->index.emplace(t, static_cast<int32_t>(i));
        if (!inserted)
            return f.error("tokenizer.ggml.tokens", "token " + std::to_string(i) + " '" + t +
                                                        "' duplicates token " + std::to_string(it->second));
        v->text[i] = std::move(t);
        if (scores.value()) v->score[i] = (*scores.value())[i];
        if (types.value()) v->attr[i] = attr_from_gguf_type((*types.value())[i]);
    }

    auto default_id = [&](int32_t id) { return id >= 0 && static_cast<size_t>(id) < n ? id : -1; };
    v->bos = default_id(def_bos);
    v->eos = default_id(def_eos);
    v->unk = default_id(def_unk);

    // --- special ids named in the metadata: each must be a token of this vocabulary ---
    const std::pair<const char*, int32_t*> id_keys[] = {
        {"tokenizer.ggml.bos_token_id", &v->bos},         {"tokenizer.ggml.eos_token_id", &v->eos},
        {"tokenizer.ggml.eot_token_id", &v->eot},         {"tokenizer.ggml.eom_token_id", &v->eom},
        {"tokenizer.ggml.unknown_token_id", &v->unk},     {"tokenizer.ggml.seperator_token_id", &v->sep},
        {"tokenizer.ggml.padding_token_id", &v->pad},     {"tokenizer.ggml.mask_token_id", &v->mask},
        {"tokenizer.ggml.fim_pre_token_id", &v->fim_pre}, {"tokenizer.ggml.fim_suf_token_id", &v->fim_suf},
        {"tokenizer.ggml.fim_mid_token_id", &v->fim_mid}, {"tokenizer.ggml.fim_pad_token_id", &v->fim_pad},
        {"tokenizer.ggml.fim_rep_token_id", &v->fim_rep}, {"tokenizer.ggml.fim_sep_token_id", &v->fim_sep},
        {"tokenizer.ggml.prefix_token_id", &v->fim_pre},  {"tokenizer.ggml.suffix_token_id", &v->fim_suf},
        {"tokenizer.ggml.middle_token_id", &v->fim_mid},
    };
    for (const auto& [key, dst] : id_keys) {
        auto id = f.get_int(key);
        if (!id) return id.error();
        if (!id.value()) continue;
        const int64_t x = *id.value();
        if (x < 0 || static_cast<uint64_t>(x) >= n) {
            const std::string reason =
                "token id " + std::to_string(x) + " is out of range (vocabulary has " + n_str + " tokens)";
            // Padding, separator and mask ids never reach encoding or the end-of-
            // generation check, and published files do get them wrong: keep
            // loading (as llama.cpp does). Every other id is used, so it is fatal.
            if (dst == &v->pad || dst == &v->sep || dst == &v->mask) {
                EG_LOG_WARN("{}: {}: {}; ignored", f.path(), key, reason);
                continue;
            }
            return f.error(key, reason);
        }
        *dst = static_cast<int32_t>(x);
    }

    auto add_bos = f.get_bool("tokenizer.ggml.add_bos_token");
    if (!add_bos) return add_bos.error();
    if (add_bos.value()) v->add_bos = *add_bos.value();
    auto add_eos = f.get_bool("tokenizer.ggml.add_eos_token");
    if (!add_eos) return add_eos.error();
    if (add_eos.value()) v->add_eos = *add_eos.value();
    if (v->add_bos && v->bos < 0) return f.error("tokenizer.ggml.add_bos_token", "is true but there is no BOS token");
    if (v->add_eos && v->eos < 0) return f.error("tokenizer.ggml.add_eos_token", "is true but there is no EOS token");

    // --- tokens recognised by their text; such tokens are made control tokens ---
    auto detect = [&](int32_t& slot, std::span<const std::string_view> texts) {
        if (slot >= 0) return;
        for (size_t i = 0; i < n; ++i) {
            if (is_one_of(v->text[i], texts)) {
                slot = static_cast<int32_t>(i);
                v->attr[i] = kAttrControl;
                return;
            }
        }
    };
    detect(v->eot, kEotTexts);
    constexpr std::string_view kEomTexts[] = {"<|eom_id|>"};
    detect(v->eom, kEomTexts);
    detect(v->fim_pre, kFimPreTexts);
    detect(v->fim_suf, kFimSufTexts);
    detect(v->fim_mid, kFimMidTexts);
    detect(v->fim_pad, kFimPadTexts);
    detect(v->fim_rep, kFimRepTexts);
    detect(v->fim_sep, kFimSepTexts);

    std::vector<int32_t> eog;
    for (int32_t id : {v->fim_pad, v->fim_rep, v->fim_sep})
        if (id >= 0) eog.push_back(id);
    for (size_t i = 0; i < n; ++i) {
        if (is_one_of(v->text[i], kEogTexts)) {
            eog.push_back(static_cast<int32_t>(i));
            if (!(v->attr[i] & kAttrControl)) v->attr[i] = kAttrControl;
        }
    }
    // gpt-oss (harmony) markers are always rendered as text.
    for (size_t i = 0; i < n; ++i)
        if (is_one_of(v->text[i], kHarmonyTexts))
            v->attr[i] = kAttrUserDefined;
    for (int32_t id : {v->eos, v->eot, v->eom})
        if (id >= 0) eog.push_back(id);
    std::sort(eog.begin(), eog.end());
    eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
    {
        // Harmony: with <|return|> and <|call|> present, <|end|> only ends a message.
        int32_t end_id = -1;
        bool has_return = false, has_call = false;
        for (int32_t id : eog) {
            if (v->text[id] == "<|return|>") has_return = true;
            if (v->text[id] == "<|call|>") has_call = true;
            if (v->text[id] == "<|end|>") end_id = id;
        }
        if (has_return && has_call && end_id >= 0) {
            eog.erase(std::find(eog.begin(), eog.end(), end_id));
            v->attr[end_id] = kAttrUserDefined;
        }
    }
    v->eog = std::move(eog);

    // --- special tokens split out of text, longest first ---
    for (size_t i = 0; i < n; ++i)
        if (v->attr[i] & (kAttrControl | kAttrUserDefined | kAttrUnknown))
            v->special_by_length.push_back(static_cast<int32_t>(i));
    std::stable_sort(v->special_by_length.begin(), v->special_by_length.end(),
                     [&](int32_t a, int32_t b) { return v->text[a].size() > v->text[b].size(); });

    // --- per-model strip attributes (llama.cpp sets them by model name) ---
    auto name = f.get_string("general.name");
    if (!name) return name.error();
    auto arch = f.get_string("general.architecture");
    if (!arch) return arch.error();
    std::string lname = name.value() ? *name.value() : "";
    std::transform(lname.begin(), lname.end(), lname.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const std::string arch_name = arch.value() ? *arch.value() : "";
    auto set_attr = [&](std::string_view text, uint32_t bit, bool on) {
        int32_t id = v->find(text);
        if (id < 0) return;
        v->attr[id] = on ? (v->attr[id] | bit) : (v->attr[id] & ~bit);
    };
    if (v->pre.find("jina-v2-de") != std::string::npos || v->pre.find("jina-v2-es") != std::string::npos ||
        v->pre.find("jina-v2-code") != std::string::npos || arch_name.find("nomic-bert-moe") != std::string::npos) {
        set_attr("<mask>", kAttrLstrip, true);
    } else if (lname.find("phi-3") != std::string::npos || lname.find("phi3") != std::string::npos) {
        // Phi-3's chat markers swallow the whitespace after them.
        for (int32_t id : v->special_by_length) v->attr[id] |= kAttrRstrip;
        set_attr("</s>", kAttrRstrip, true);
        for (const char* t : {"<unk>", "<s>", "<|endoftext|>"}) set_attr(t, kAttrRstrip, false);
    }
    return v;
}

}  // namespace eg::tok
