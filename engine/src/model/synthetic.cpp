// Writes random-weight models (see synthetic.h). Every row of every matrix is
// drawn from its own counter-based stream (seed, tensor name, row), so rows
// can be generated in any order on any number of threads and the file is the
// same bytes every time.
#include "model/synthetic.h"

#include <array>
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/log.h"
#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "quant/kernels.h"

namespace eg {

namespace {

// ---- random numbers ----

inline uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t name_key(uint64_t seed, const std::string& name) {
    uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
    for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ull;
    uint64_t s = seed ^ h;
    return splitmix64(s);
}

// n values of mean 0 and standard deviation `stddev`: each the sum of four
// 16-bit uniforms (Irwin-Hall, bell-shaped, bounded at 3.5 sigma), which
// costs one 64-bit draw and no libm call, so results are the same on every
// platform and 8B-shaped models are generated in minutes.
void random_row(uint64_t key, int64_t row, float stddev, float* out, int64_t n) {
    uint64_t s = key ^ ((uint64_t)row * 0xD1B54A32D192ED03ull);
    splitmix64(s);
    const float scale = std::sqrt(3.0f) * stddev;  // the sum of 4 U(0,1) has variance 1/3
    for (int64_t i = 0; i < n; ++i) {
        const uint64_t r = splitmix64(s);
        const uint32_t sum = (uint32_t)(r & 0xffff) + (uint32_t)((r >> 16) & 0xffff) +
                             (uint32_t)((r >> 32) & 0xffff) + (uint32_t)(r >> 48);
        // each uniform is (k + 0.5) / 65536: mean exactly 1/2
        const float z = ((float)sum + 2.0f) * (1.0f / 65536.0f) - 2.0f;
        out[i] = z * scale;
    }
}

// ---- tokenizer ----

void append_utf8(std::string& s, uint32_t cp) {
    if (cp < 0x80) {
        s += (char)cp;
    } else if (cp < 0x800) {
        s += (char)(0xC0 | (cp >> 6));
        s += (char)(0x80 | (cp & 0x3F));
    } else {
        s += (char)(0xE0 | (cp >> 12));
        s += (char)(0x80 | ((cp >> 6) & 0x3F));
        s += (char)(0x80 | (cp & 0x3F));
    }
}

// GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves,
// the others take the code points from 256 on, in byte order.
std::array<std::string, 256> byte_chars() {
    std::array<std::string, 256> out;
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
        const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        append_utf8(out[b], printable ? (uint32_t)b : next++);
    }
    return out;
}

constexpr int kTokNormal = 1, kTokControl = 3, kTokUnused = 5;  // tokenizer.ggml.token_type
constexpr int32_t kEndOfText = 256, kImStart = 257, kImEnd = 258, kFirstFiller = 259;

struct Vocabulary {
    std::vector<std::string> tokens;
    std::vector<int32_t> types;
    std::vector<std::string> merges;
};

// 256 byte tokens, three ChatML specials, then two-byte tokens with their
// merges (common letters first, so even a 512-token vocabulary merges text)
// and, past the 65,536 byte pairs, unused filler tokens.
Vocabulary make_vocabulary(int64_t n_vocab) {
    Vocabulary v;
    v.tokens.reserve((size_t)n_vocab);
    const auto chars = byte_chars();
    for (int b = 0; b < 256; ++b) {
        v.tokens.push_back(chars[b]);
        v.types.push_back(kTokNormal);
    }
    for (const char* s : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
        v.tokens.emplace_back(s);
        v.types.push_back(kTokControl);
    }
    std::vector<int> order;
    std::array<bool, 256> seen{};
    for (unsigned char c : std::string(" etaoinsrhldcumfpgwybvkxjqzETAOINSRHLDCUMFPGWYBVKXJQZ0123456789.,'-:;!?\"()\n")) {
        if (!seen[c]) order.push_back(c);
        seen[c] = true;
    }
    for (int b = 0; b < 256; ++b)
        if (!seen[b]) order.push_back(b);
    auto add_pair = [&](int a, int b) {
        v.tokens.push_back(chars[a] + chars[b]);
        v.types.push_back(kTokNormal);
        v.merges.push_back(chars[a] + " " + chars[b]);
    };
    for (size_t k = 0; k < order.size() && (int64_t)v.tokens.size() < n_vocab; ++k) {
        for (size_t i = 0; i <= k && (int64_t)v.tokens.size() < n_vocab; ++i) {
            add_pair(order[i], order[k]);
            if (i < k && (int64_t)v.tokens.size() < n_vocab) add_pair(order[k], order[i]);
        }
    }
    for (int64_t i = (int64_t)v.tokens.size(); i < n_vocab; ++i) {
        v.tokens.push_back("<filler_" + std::to_string(i) + ">");
        v.types.push_back(kTokUnused);
    }
    return v;
}

constexpr const char* kChatMlTemplate =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

// ---- tensors ----

enum class Fill { Random, Ones };

struct TensorPlan {
    std::string name;
    std::vector<int64_t> ne;  // fastest dimension first
    GgmlType type;
    Fill fill;
    float stddev;             // Random: of each element
};

const GgmlType kAllowedTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0,
                                  GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,
                                  GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
                                  GgmlType::Q6_K, GgmlType::MXFP4, GgmlType::IQ4_NL, GgmlType::IQ4_XS};

std::string allowed_type_names() {
    std::string s;
    for (GgmlType t : kAllowedTypes) s += (s.empty() ? "" : ", ") + std::string(type_name((uint32_t)t));
    return s;
}

int64_t n_head_kv_of(const SyntheticOptions& o) { return o.n_head_kv > 0 ? o.n_head_kv : o.n_head; }
bool moe(const SyntheticOptions& o) { return o.arch == "qwen3moe"; }

Status fail(const SyntheticOptions& o, const std::string& field, const std::string& reason) {
    return make_error((o.out_path.empty() ? std::string("synthetic model") : o.out_path) + ": " + field + ": " + reason);
}

Status validate(const SyntheticOptions& o) {
    if (o.out_path.empty()) return fail(o, "out", "no output path given");
    if (o.arch != "llama" && o.arch != "qwen2" && o.arch != "qwen3" && o.arch != "qwen3moe")
        return fail(o, "arch", "'" + o.arch + "' is not one of llama, qwen2, qwen3, qwen3moe");
    auto range = [&](const char* field, int64_t v, int64_t lo, int64_t hi) -> Status {
        if (v < lo || v > hi)
            return fail(o, field, std::to_string(v) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
        return {};
    };
    if (Status s = range("n_layer", o.n_layer, 1, 4096); !s) return s;
    if (Status s = range("n_embd", o.n_embd, 2, 1 << 17); !s) return s;
    if (Status s = range("n_ff", o.n_ff, 1, 1 << 20); !s) return s;
    if (Status s = range("n_head", o.n_head, 1, 4096); !s) return s;
    if (Status s = range("n_head_kv", n_head_kv_of(o), 1, o.n_head); !s) return s;
    if (Status s = range("n_vocab", o.n_vocab, kFirstFiller + 1, 1 << 24); !s) return s;
    if (Status s = range("n_ctx", o.n_ctx, 1, 1 << 24); !s) return s;
    if (moe(o)) {
        if (Status s = range("n_expert", o.n_expert, 1, 1 << 16); !s) return s;
        if (Status s = range("n_expert_used", o.n_expert_used, 1, o.n_expert); !s) return s;
        if (Status s = range("n_ff_exp", o.n_ff_exp, 1, 1 << 20); !s) return s;
    } else if (o.n_expert != 0 || o.n_expert_used != 0 || o.n_ff_exp != 0) {
        return fail(o, "n_expert", "experts are for the qwen3moe architecture, not " + o.arch);
    }
    if (o.n_embd % o.n_head != 0)
        return fail(o, "n_embd", std::to_string(o.n_embd) + " is not divisible by n_head " + std::to_string(o.n_head));
    if (o.n_head % n_head_kv_of(o) != 0)
        return fail(o, "n_head", std::to_string(o.n_head) + " is not divisible by n_head_kv " +
                                     std::to_string(n_head_kv_of(o)));
    if ((o.n_embd / o.n_head) % 2 != 0)
        return fail(o, "n_head", "the head size n_embd / n_head = " + std::to_string(o.n_embd / o.n_head) +
                                     " is odd; RoPE needs it even");
    bool allowed = false;
    for (GgmlType t : kAllowedTypes) allowed = allowed || t == o.type;
    const TypeKernels* kt = allowed ? kernels_for(o.type) : nullptr;
    if (!kt || !kt->quantize)
        return fail(o, "type", std::string(type_name((uint32_t)o.type)) + " cannot be written (use one of " +
                                   allowed_type_names() + ")");
    const int64_t block = type_traits(o.type)->block_size;
    for (auto [field, v] : {std::pair<const char*, int64_t>{"n_embd", o.n_embd}, {"n_ff", moe(o) ? o.n_ff_exp : o.n_ff}}) {
        if (v % block != 0)
            return fail(o, field, std::to_string(v) + " is not a multiple of " + std::to_string(block) + ", the block size of " +
                                      std::string(type_name((uint32_t)o.type)));
    }
    return {};
}

// The tensors in file order, with their shapes and how they are filled.
// Matrices get N(0, 1/fan_in) entries so each projection keeps its input's
// scale (RMSNorm makes that 1), attention scores stay near unit variance and
// logits spread by about 1: finite, and far from all equal.
std::vector<TensorPlan> plan_tensors(const SyntheticOptions& o) {
    const int64_t d = o.n_embd, head_dim = o.n_embd / o.n_head, kv = n_head_kv_of(o) * head_dim;
    auto mat = [&](std::string name, int64_t k, int64_t n) {
        return TensorPlan{std::move(name), {k, n}, o.type, Fill::Random, 1.0f / std::sqrt((float)k)};
    };
    auto vec = [&](std::string name, int64_t n, Fill fill, float stddev = 0.0f) {
        return TensorPlan{std::move(name), {n}, GgmlType::F32, fill, stddev};
    };
    std::vector<TensorPlan> t;
    t.push_back(mat("token_embd.weight", d, o.n_vocab));  // [n_embd, n_vocab]
    t.push_back(vec("output_norm.weight", d, Fill::Ones));
    if (!o.tied_output) t.push_back(mat("output.weight", d, o.n_vocab));
    for (int64_t il = 0; il < o.n_layer; ++il) {
        const std::string p = "blk." + std::to_string(il) + ".";
        t.push_back(vec(p + "attn_norm.weight", d, Fill::Ones));
        t.push_back(mat(p + "attn_q.weight", d, d));       // [n_embd, n_head * head_dim]
        t.push_back(mat(p + "attn_k.weight", d, kv));      // [n_embd, n_head_kv * head_dim]
        t.push_back(mat(p + "attn_v.weight", d, kv));
        if (o.arch == "qwen2") {
            t.push_back(vec(p + "attn_q.bias", d, Fill::Random, 0.1f));
            t.push_back(vec(p + "attn_k.bias", kv, Fill::Random, 0.1f));
            t.push_back(vec(p + "attn_v.bias", kv, Fill::Random, 0.1f));
        }
        if (o.arch == "qwen3" || o.arch == "qwen3moe") {
            t.push_back(vec(p + "attn_q_norm.weight", head_dim, Fill::Ones));
            t.push_back(vec(p + "attn_k_norm.weight", head_dim, Fill::Ones));
        }
        t.push_back(mat(p + "attn_output.weight", d, d));  // [n_head * head_dim, n_embd]
        t.push_back(vec(p + "ffn_norm.weight", d, Fill::Ones));
        if (moe(o)) {
            const int64_t f = o.n_ff_exp, e = o.n_expert;
            TensorPlan router = mat(p + "ffn_gate_inp.weight", d, e);  // [n_embd, n_expert], F32 as in real files
            router.type = GgmlType::F32;
            t.push_back(router);
            t.push_back(TensorPlan{p + "ffn_gate_exps.weight", {d, f, e}, o.type, Fill::Random, 1.0f / std::sqrt((float)d)});
            t.push_back(TensorPlan{p + "ffn_up_exps.weight", {d, f, e}, o.type, Fill::Random, 1.0f / std::sqrt((float)d)});
            t.push_back(TensorPlan{p + "ffn_down_exps.weight", {f, d, e}, o.type, Fill::Random, 1.0f / std::sqrt((float)f)});
            continue;
        }
        t.push_back(mat(p + "ffn_gate.weight", d, o.n_ff));  // [n_embd, n_ff]
        t.push_back(mat(p + "ffn_up.weight", d, o.n_ff));
        t.push_back(mat(p + "ffn_down.weight", o.n_ff, d));  // [n_ff, n_embd]
    }
    return t;
}

uint64_t plan_bytes(const TensorPlan& t) {
    int64_t rows = 1;
    for (size_t i = 1; i < t.ne.size(); ++i) rows *= t.ne[i];
    return (uint64_t)row_bytes(t.type, t.ne[0]) * (uint64_t)rows;
}

// llama.cpp's general.file_type for a file whose matrices are all `t`.
int file_type_of(GgmlType t) {
    switch (t) {
        case GgmlType::F32: return 0;
        case GgmlType::F16: return 1;
        case GgmlType::Q4_0: return 2;
        case GgmlType::Q4_1: return 3;
        case GgmlType::Q8_0: return 7;
        case GgmlType::Q5_0: return 8;
        case GgmlType::Q5_1: return 9;
        case GgmlType::Q2_K: return 10;
        case GgmlType::Q3_K: return 11;  // Q3_K_S
        case GgmlType::Q4_K: return 14;  // Q4_K_S
        case GgmlType::Q5_K: return 16;  // Q5_K_S
        case GgmlType::Q6_K: return 18;
        case GgmlType::BF16: return 32;
        case GgmlType::MXFP4: return 38;  // MXFP4_MOE
        case GgmlType::IQ4_NL: return 25;
        case GgmlType::IQ4_XS: return 30;
        default: return 0;
    }
}

void set_metadata(GgufWriter& w, const SyntheticOptions& o) {
    const std::string a = o.arch + ".";
    const std::string type = std::string(type_name((uint32_t)o.type));
    w.set_string("general.architecture", o.arch);
    w.set_string("general.name", "synthetic-" + o.arch + "-" + std::to_string(o.n_layer) + "L-" +
                                     std::to_string(o.n_embd) + "d-" + type);
    w.set_string("general.description", "random weights (seed " + std::to_string(o.seed) +
                                            "), not a trained model: for load, memory and speed tests");
    w.set_u32("general.file_type", (uint32_t)file_type_of(o.type));
    w.set_u32("general.quantization_version", 2);
    w.set_u32(a + "context_length", (uint32_t)o.n_ctx);
    w.set_u32(a + "embedding_length", (uint32_t)o.n_embd);
    w.set_u32(a + "block_count", (uint32_t)o.n_layer);
    w.set_u32(a + "feed_forward_length", (uint32_t)o.n_ff);
    w.set_u32(a + "attention.head_count", (uint32_t)o.n_head);
    w.set_u32(a + "attention.head_count_kv", (uint32_t)n_head_kv_of(o));
    w.set_u32(a + "rope.dimension_count", (uint32_t)(o.n_embd / o.n_head));
    w.set_f32(a + "attention.layer_norm_rms_epsilon", 1e-5f);
    w.set_f32(a + "rope.freq_base", o.arch == "llama" ? 10000.0f : 1000000.0f);
    w.set_u32(a + "vocab_size", (uint32_t)o.n_vocab);
    if (moe(o)) {
        w.set_u32(a + "expert_count", (uint32_t)o.n_expert);
        w.set_u32(a + "expert_used_count", (uint32_t)o.n_expert_used);
        w.set_u32(a + "expert_feed_forward_length", (uint32_t)o.n_ff_exp);
    }

    Vocabulary v = make_vocabulary(o.n_vocab);
    w.set_string("tokenizer.ggml.model", "gpt2");
    w.set_string("tokenizer.ggml.pre", "default");
    w.set_string_array("tokenizer.ggml.tokens", v.tokens);
    w.set_i32_array("tokenizer.ggml.token_type", v.types);
    w.set_string_array("tokenizer.ggml.merges", v.merges);
    w.set_u32("tokenizer.ggml.bos_token_id", (uint32_t)kImStart);
    w.set_u32("tokenizer.ggml.eos_token_id", (uint32_t)kImEnd);
    w.set_u32("tokenizer.ggml.padding_token_id", (uint32_t)kEndOfText);
    w.set_bool("tokenizer.ggml.add_bos_token", false);
    w.set_string("tokenizer.chat_template", kChatMlTemplate);
}

}  // namespace

Result<GgmlType> parse_synthetic_type(std::string_view name) {
    std::string up(name);
    for (char& c : up) c = (char)std::toupper((unsigned char)c);
    for (GgmlType t : kAllowedTypes)
        if (type_name((uint32_t)t) == up) return t;
    return make_error("type '" + std::string(name) + "' is not one a synthetic model can use (use one of " +
                      allowed_type_names() + ")");
}

Result<uint64_t> synthetic_tensor_bytes(const SyntheticOptions& opt) {
    if (Status s = validate(opt); !s) return s.error();
    uint64_t total = 0;
    for (const TensorPlan& t : plan_tensors(opt)) total += plan_bytes(t);
    return total;
}

Status write_synthetic_model(const SyntheticOptions& opt) {
    if (Status s = validate(opt); !s) return s;
    const auto t0 = std::chrono::steady_clock::now();
    ThreadPool pool(opt.n_threads > 0 ? opt.n_threads : physical_core_count());

    GgufWriter w;
    set_metadata(w, opt);
    uint64_t total_bytes = 0;
    for (const TensorPlan& t : plan_tensors(opt)) {
        const uint64_t n_bytes = plan_bytes(t);
        total_bytes += n_bytes;
        const int64_t n = t.ne[0];
        if (t.ne.size() == 1) {  // the small vectors (F32): norms and biases
            std::vector<float> v((size_t)n, 1.0f);
            if (t.fill == Fill::Random) random_row(name_key(opt.seed, t.name), 0, t.stddev, v.data(), n);
            std::vector<uint8_t> bytes((size_t)n_bytes);
            std::memcpy(bytes.data(), v.data(), (size_t)n_bytes);
            w.add_tensor(t.name, t.type, t.ne, std::move(bytes));
            continue;
        }
        // Matrices: rows of n elements, generated and quantized in chunks of
        // whole rows, the rows of a chunk spread over the pool.
        const quantize_fn quantize = kernels_for(t.type)->quantize;
        const uint64_t rb = (uint64_t)row_bytes(t.type, n);
        const uint64_t rows_per_chunk = std::max<uint64_t>(1, (32ull << 20) / rb);
        const uint64_t key = name_key(opt.seed, t.name);
        const float stddev = t.stddev;
        auto source = [&pool, quantize, rb, n, key, stddev](uint64_t offset, uint8_t* dst, uint64_t n_chunk) -> Status {
            const int64_t row0 = (int64_t)(offset / rb), n_rows = (int64_t)(n_chunk / rb);
            pool.parallel_for(n_rows, [&](int64_t b, int64_t e) {
                std::vector<float> row((size_t)n);
                for (int64_t r = b; r < e; ++r) {
                    random_row(key, row0 + r, stddev, row.data(), n);
                    quantize(row.data(), dst + (uint64_t)r * rb, n);
                }
            });
            return {};
        };
        w.add_tensor_stream(t.name, t.type, t.ne, n_bytes, rows_per_chunk * rb, source);
    }
    if (Status s = w.write(opt.out_path); !s) return s;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EG_LOG_INFO("{}: synthetic {} model, {} layers, n_embd {}, n_ff {}, vocab {}, {}: {:.1f} MiB of tensors in {:.1f} s",
                opt.out_path, opt.arch, opt.n_layer, opt.n_embd, opt.n_ff, opt.n_vocab,
                type_name((uint32_t)opt.type), (double)total_bytes / (1 << 20), seconds);
    return {};
}

}  // namespace eg
