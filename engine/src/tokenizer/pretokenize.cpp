// Pre-tokenizer regexes per `tokenizer.ggml.pre`, as llama.cpp chooses them,
// run with PCRE2. llama.cpp runs the same expressions through hand-written
// matchers or std::regex over a category-collapsed copy of the text; PCRE2
// with UCP gives the same words for the categories these expressions use.
#include "tokenizer/pretokenize.h"

#include "core/log.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace eg::tok {

namespace {

// The expressions, named after the tokenizer family that introduced them.
constexpr const char* kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr const char* kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kDigit = R"(\p{N})";
constexpr const char* kPoro = R"( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{964}\x{6D4}\x{60C})]+)";
constexpr const char* kTekken =
    R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kGpt4o =
    R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kBailing =
    R"('(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)";
constexpr const char* kSeedCoder =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)";
// DeepSeek LLM: letters of cased scripts, ASCII/fullwidth punctuation and CJK
// are split apart before digits. Non-ASCII characters are written as \x{..}
// escapes: pasted literally, editors may normalise some of them (U+1F7D to
// U+03CE) and silently change the ranges.
constexpr const char* kDeepseekLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
constexpr const char* kDeepseekPunct =
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)";
constexpr const char* kDeepseekCjk =
    R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";

const std::vector<PreTokenizerSpec>& specs() {
    // clean_spaces follows llama.cpp: true for BPE unless the type clears it.
    static const std::vector<PreTokenizerSpec> table = [] {
        std::vector<PreTokenizerSpec> t;
        auto add = [&](std::vector<std::string_view> names, std::vector<const char*> rx,
                       bool clean, bool ignore_merges = false, bool add_bos = false, bool no_bos = false) {
            t.push_back({std::move(names), std::move(rx), clean, ignore_merges, add_bos, no_bos});
        };
        add({"default", ""}, {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"}, true);
        add({"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"},
            {kLlama3}, true, /*ignore_merges=*/true, /*add_bos=*/true);
        add({"dbrx", "smaug-bpe"}, {kLlama3}, true);
        add({"glm4", "chatglm-bpe"}, {kLlama3}, true, false, false, /*no_bos=*/true);
        add({"deepseek-llm"},
            {"[\r\n]", kDeepseekLetters, kDeepseekPunct, "\\s+$", kDeepseekCjk, R"(\p{N}+)"}, false);
        add({"deepseek-coder"}, {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kDeepseekCjk, kDigit}, false);
        add({"deepseek-v3", "hunyuan-dense"},
            {R"(\p{N}{1,3})", R"([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)",
             "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"},
            false);
        add({"falcon"}, {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"}, true);
        add({"starcoder", "refact", "codeshell", "exaone", "minerva-7b"}, {kDigit, kGpt2}, true);
        add({"smollm", "command-r"}, {kDigit, kGpt2}, false);
        add({"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0",
             "mellum", "jina-v1-en", "jina-v2-code", "roberta-bpe", "exaone4", "mpt", "olmo", "jais"},
            {kGpt2}, true);
        add({"trillion"}, {kGpt2}, false);
        add({"qwen2", "deepseek-r1-qwen", "hunyuan"}, {kQwen2}, false);
        add({"stablelm2", "megrez"}, {kQwen2}, true);
        add({"poro-chat"}, {kPoro}, false);
        add({"bloom", "gpt3-finnish"}, {kPoro}, true);
        add({"viking"}, {kPoro, kDigit}, false);
        add({"tekken"}, {kTekken}, false, /*ignore_merges=*/true, /*add_bos=*/true);
        add({"chameleon"},
            {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", kDigit,
             R"([\p{P}!-/:-@\[-`{-~])", kGpt2},
            false, false, /*add_bos=*/true);
        add({"gpt-4o", "llama4"}, {kGpt4o}, false);
        add({"bailingmoe"}, {kBailing}, false);
        add({"seed-coder"}, {kSeedCoder}, false);
        return t;
    }();
    return table;
}

}  // namespace

const PreTokenizerSpec* find_pre_tokenizer(std::string_view pre) {
    for (const auto& s : specs())
        for (auto n : s.names)
            if (n == pre) return &s;
    return nullptr;
}

struct PreTokenizer::Regex {
    pcre2_code* code = nullptr;
    ~Regex() { pcre2_code_free(code); }
};

PreTokenizer::~PreTokenizer() = default;

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::create(const PreTokenizerSpec& spec) {
    std::unique_ptr<PreTokenizer> p(new PreTokenizer());
    for (const char* rx : spec.regexes) {
        int err = 0;
        PCRE2_SIZE err_offset = 0;
        // UCP: \s, \p{..} by Unicode properties. MATCH_INVALID_UTF: bad UTF-8
        // in user text never matches instead of failing the whole match.
        // DOLLAR_ENDONLY: `$` is the end of the piece, as in ECMAScript.
        const uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY;
        pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rx), PCRE2_ZERO_TERMINATED, options, &err,
                                         &err_offset, nullptr);
        if (!code) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            return make_error("pre-tokenizer regex '" + std::string(rx) + "' does not compile at offset " +
                              std::to_string(err_offset) + ": " + reinterpret_cast<const char*>(msg));
        }
        // JIT is an optimisation only: without it matching still works.
        (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
        auto r = std::make_unique<Regex>();
        r->code = code;
        p->regexes_.push_back(std::move(r));
    }
    return p;
}

namespace {

// Length of the UTF-8 sequence starting with byte c (1 for stray bytes), so
// an empty match can step over one whole character.
size_t utf8_step(unsigned char c) {
    if (c < 0xC0) return 1;
    if (c < 0xE0) return 2;
    if (c < 0xF0) return 3;
    return 4;
}

}  // namespace

std::vector<Span> PreTokenizer::split(std::string_view text) const {
    std::vector<Span> pieces;
    if (text.empty()) return pieces;
    pieces.push_back({0, text.size()});

    for (const auto& rx : regexes_) {
        pcre2_match_data* md = pcre2_match_data_create_from_pattern(rx->code, nullptr);
        std::vector<Span> next;
        next.reserve(pieces.size() * 2);
        for (const Span& piece : pieces) {
            // Each piece is its own subject: a lookahead or `$` sees the end of
            // the piece, as it does in llama.cpp.
            const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + piece.begin);
            size_t pos = 0, emitted = 0;
            while (pos < piece.length) {
                int rc = pcre2_match(rx->code, subject, piece.length, pos, 0, md, nullptr);
                // A JIT stack overflow on a huge piece is no reason to give up:
                // the interpreter keeps its backtracking state on the heap.
                if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
                    rc = pcre2_match(rx->code, subject, piece.length, pos, PCRE2_NO_JIT, md, nullptr);
                if (rc < 0) {
                    if (rc != PCRE2_ERROR_NOMATCH)
                        EG_LOG_WARN("pre-tokenizer: regex match failed (PCRE2 error {}) at byte {} of a "
                                    "{}-byte piece; the rest of the piece stays one word",
                                    rc, pos, piece.length);
                    break;
                }
                const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
                size_t m_begin = ov[0], m_end = ov[1];
                if (m_end == m_begin) {  // empty match: produce nothing, step one character
                    pos = m_begin + utf8_step(static_cast<unsigned char>(text[piece.begin + m_begin]));
                    continue;
                }
                if (m_begin > emitted) next.push_back({piece.begin + emitted, m_begin - emitted});
                next.push_back({piece.begin + m_begin, m_end - m_begin});
                emitted = pos = m_end;
            }
            if (emitted < piece.length) next.push_back({piece.begin + emitted, piece.length - emitted});
        }
        pcre2_match_data_free(md);
        pieces.swap(next);
    }
    return pieces;
}

}  // namespace eg::tok
