// The forge: a real base model plus Engram modules with random weights. All
// randomness comes from splitmix64 streams of the seed, so a seed names one
// file exactly. Multipliers: the reference draws r in [0, half_bound) with
// NumPy's PCG64 and takes 2r+1, half_bound = (INT64_MAX / n_compressed) / 2;
// we draw r = splitmix64 % half_bound instead (same range, same oddness, no
// PCG64 to reimplement), so mix never overflows int64 for ids < n_compressed.
#include "forge.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>

#include "core/fp16.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "quant/kernels.h"
#include "token_map.h"

namespace eg::engram {

namespace {

uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Uniform in [-1, 1) with 24 random bits (exact in float).
float uniform_pm1(uint64_t& s) { return (float)(splitmix64(s) >> 40) * (2.0f / 16777216.0f) - 1.0f; }

float gaussian(uint64_t& s) {
    const double u1 = ((double)(splitmix64(s) >> 11) + 1.0) * (1.0 / 9007199254740992.0);  // (0, 1]
    const double u2 = (double)(splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

// Independent streams for each purpose (and each table row), from the seed.
uint64_t stream_seed(uint64_t seed, uint64_t a, uint64_t b) {
    uint64_t s = seed ^ (a * 0xA0761D6478BD642Full) ^ (b * 0xE7037ED1A0B428DBull);
    return splitmix64(s);
}

bool is_prime(uint64_t n) {
    if (n < 2) return false;
    for (uint64_t p : {2ull, 3ull, 5ull, 7ull, 11ull, 13ull, 17ull, 19ull, 23ull, 29ull, 31ull, 37ull}) {
        if (n % p == 0) return n == p;
    }
    uint64_t d = n - 1;
    int r = 0;
    while ((d & 1) == 0) { d >>= 1; ++r; }
    auto mulmod = [n](uint64_t a, uint64_t b) { return (uint64_t)((unsigned __int128)a * b % n); };
    auto powmod = [&](uint64_t a, uint64_t e) {
        uint64_t x = 1;
        a %= n;
        while (e) {
            if (e & 1) x = mulmod(x, a);
            a = mulmod(a, a);
            e >>= 1;
        }
        return x;
    };
    // These bases make Miller-Rabin exact for every 64-bit n.
    for (uint64_t a : {2ull, 3ull, 5ull, 7ull, 11ull, 13ull, 17ull, 19ull, 23ull, 29ull, 31ull, 37ull}) {
        uint64_t x = powmod(a, d);
        if (x == 1 || x == n - 1) continue;
        bool composite = true;
        for (int i = 1; i < r && composite; ++i) {
            x = mulmod(x, x);
            if (x == n - 1) composite = false;
        }
        if (composite) return false;
    }
    return true;
}

std::vector<uint8_t> to_f16_bytes(const std::vector<float>& v) {
    std::vector<uint8_t> out(v.size() * 2);
    for (size_t i = 0; i < v.size(); ++i) {
        const uint16_t h = fp32_to_fp16(v[i]);
        std::memcpy(out.data() + 2 * i, &h, 2);
    }
    return out;
}

std::vector<uint8_t> to_f32_bytes(const std::vector<float>& v) {
    std::vector<uint8_t> out(v.size() * 4);
    if (!v.empty()) std::memcpy(out.data(), v.data(), out.size());
    return out;
}

// n values of N(0,1) * scale from stream (a, b) of the seed.
std::vector<float> gaussian_vec(uint64_t seed, uint64_t a, uint64_t b, size_t n, float scale) {
    std::vector<float> v(n, 0.0f);  // scale 0: +0.0 everywhere (not -0.0 from negative draws)
    if (scale == 0.0f) return v;
    uint64_t s = stream_seed(seed, a, b);
    for (auto& x : v) x = gaussian(s) * scale;
    return v;
}

// Tensor kinds, for stream_seed's first argument.
enum Kind : uint64_t { kTable = 1, kKey, kValue, kKeyBias, kValueBias, kQNorm, kKNorm, kConv, kConvNorm, kMult };

Status check_options(const ForgeOptions& o) {
    auto bad = [](const std::string& what) { return Error{"forge: " + what}; };
    if (o.layers.empty()) return bad("--layers: no layers given");
    if (o.max_ngram < 2 || o.max_ngram > 8) return bad("--max-ngram " + std::to_string(o.max_ngram) + " is out of range [2, 8]");
    if (o.heads < 1 || o.heads > 64) return bad("--heads " + std::to_string(o.heads) + " is out of range [1, 64]");
    if (o.key_length < 1 || o.key_length > 65536)
        return bad("--key-length " + std::to_string(o.key_length) + " is out of range [1, 65536]");
    if (o.type != GgmlType::F16 && o.type != GgmlType::Q8_0) return bad("--type must be f16 or q8_0");
    if (o.type == GgmlType::Q8_0 && o.key_length % QK8_0 != 0)
        return bad("--key-length " + std::to_string(o.key_length) + " must be a multiple of 32 for q8_0");
    if (o.form == Form::Demo && (o.conv_kernel < 1 || o.conv_kernel > 64))
        return bad("conv kernel " + std::to_string(o.conv_kernel) + " is out of range [1, 64]");
    if (o.rows_per_head > (1ull << 36)) return bad("--rows-per-head " + std::to_string(o.rows_per_head) + " is too large");
    if (o.out_path.empty()) return bad("--out: no output path");
    return {};
}

}  // namespace

std::vector<uint64_t> find_primes(uint64_t rows_per_head, int64_t n_layers, int64_t max_ngram, int64_t heads) {
    std::set<uint64_t> seen;
    std::vector<uint64_t> out;
    for (int64_t l = 0; l < n_layers; ++l) {
        for (int64_t n = 2; n <= max_ngram; ++n) {
            uint64_t start = rows_per_head - 1;  // rows_per_head 0 wraps: callers pass >= 1
            for (int64_t h = 0; h < heads; ++h) {
                uint64_t p = start + 1;
                while (!is_prime(p) || seen.count(p)) ++p;
                seen.insert(p);
                out.push_back(p);
                start = p;
            }
        }
    }
    return out;
}

namespace {
std::string lower(std::string_view s) {
    std::string r(s);
    for (auto& ch : r) ch = (char)std::tolower((unsigned char)ch);
    return r;
}
}  // namespace

std::optional<Form> parse_form(std::string_view s) {
    const std::string l = lower(s);
    if (l == "v41") return Form::V41;
    if (l == "demo") return Form::Demo;
    return std::nullopt;
}

std::optional<GgmlType> parse_table_type(std::string_view s) {
    const std::string l = lower(s);
    if (l == "f16") return GgmlType::F16;
    if (l == "q8_0") return GgmlType::Q8_0;
    return std::nullopt;
}

Status forge(const ForgeOptions& o) {
    if (Status s = check_options(o); !s) return s;
    auto loaded = Model::load(o.base_path);
    if (!loaded.ok()) return Error{"forge: base model: " + loaded.message()};
    const Model& model = *loaded.value();
    const GgufFile& base = model.file();
    const HParams& hp = model.hparams();
    if (has_engram(base)) return base.error(hp.arch + ".engram.layer_ids", "the base model already has Engram modules");
    {
        std::set<int64_t> seen;
        for (int64_t il : o.layers) {
            if (il < 0 || il >= hp.n_layer)
                return Error{"forge: --layers: block " + std::to_string(il) + " does not exist (the base has " +
                             std::to_string(hp.n_layer) + ")"};
            if (!seen.insert(il).second) return Error{"forge: --layers: block " + std::to_string(il) + " listed twice"};
        }
    }
    const Tokenizer& tok = model.tokenizer();
    if (tok.n_vocab() != hp.n_vocab)
        return Error{"forge: " + o.base_path + ": the tokenizer has " + std::to_string(tok.n_vocab()) +
                     " tokens but the model " + std::to_string(hp.n_vocab)};

    int64_t n_classes = 0;
    const std::vector<int32_t> token_map = build_token_map(tok, &n_classes);
    // The reference takes the compressed id of its configured pad token (0).
    int64_t pad_token = 0;
    if (auto p = base.get_int("tokenizer.ggml.padding_token_id"); p.ok() && p.value() && *p.value() >= 0 &&
                                                                   *p.value() < hp.n_vocab)
        pad_token = *p.value();
    const int64_t pad_id = token_map[(size_t)pad_token];

    const int64_t n_layers = (int64_t)o.layers.size();
    const int64_t hpl = (o.max_ngram - 1) * o.heads;
    const uint64_t rows_per_head = o.rows_per_head ? o.rows_per_head : 5 * (uint64_t)n_classes;
    const std::vector<uint64_t> primes = find_primes(rows_per_head, n_layers, o.max_ngram, o.heads);
    std::vector<uint64_t> offsets(primes.size());
    std::vector<uint64_t> layer_rows((size_t)n_layers, 0);
    for (int64_t l = 0; l < n_layers; ++l) {
        for (int64_t h = 0; h < hpl; ++h) {
            offsets[(size_t)(l * hpl + h)] = layer_rows[(size_t)l];
            layer_rows[(size_t)l] += primes[(size_t)(l * hpl + h)];
        }
    }
    const uint64_t half_bound = std::max<uint64_t>(1, (uint64_t)(std::numeric_limits<int64_t>::max() / n_classes) / 2);
    std::vector<uint64_t> multipliers;
    {
        uint64_t s = stream_seed(o.seed, kMult, 0);
        for (int64_t i = 0; i < n_layers * o.max_ngram; ++i) multipliers.push_back((splitmix64(s) % half_bound) * 2 + 1);
    }

    GgufWriter w;
    for (const auto& [key, value] : base.metadata()) w.set_value(key, value);
    for (const auto& t : base.tensors()) {
        std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
        w.add_tensor_ref(t.name, t.type, ne, t.data, t.n_bytes);
    }
    const std::string K = hp.arch + ".engram.";
    w.set_i32_array(K + "layer_ids", std::vector<int32_t>(o.layers.begin(), o.layers.end()));
    w.set_u32(K + "head_count", (uint32_t)o.heads);
    w.set_u32(K + "key_length", (uint32_t)o.key_length);
    w.set_u32(K + "max_ngram_size", (uint32_t)o.max_ngram);
    w.set_u64_array(K + "multipliers", multipliers);
    w.set_u64_array(K + "primes", primes);
    w.set_u64_array(K + "offsets", offsets);
    w.set_i32_array(K + "token_map", token_map);
    w.set_u32(K + "pad_id", (uint32_t)pad_id);
    if (o.form == Form::Demo) w.set_u32(K + "conv_kernel_size", (uint32_t)o.conv_kernel);

    const int64_t D = hp.n_embd;
    const int64_t E = hpl * o.key_length;
    const float w_scale = 1.0f / std::sqrt((float)E);
    const float v_scale = o.zero_value ? 0.0f : 0.05f / std::sqrt((float)E);
    auto noise_one = [&](Kind k, uint64_t l) {
        std::vector<float> v = gaussian_vec(o.seed, k, l, (size_t)D, 0.02f);
        for (auto& x : v) x += 1.0f;
        return v;
    };

    ThreadPool pool(std::max(1, physical_core_count()));
    const GgmlType ttype = o.type;
    const int64_t kl = o.key_length;
    const uint64_t row_b = (uint64_t)row_bytes(ttype, kl);
    const TypeKernels* q8 = ttype == GgmlType::Q8_0 ? kernels_for(GgmlType::Q8_0) : nullptr;
    if (ttype == GgmlType::Q8_0 && (!q8 || !q8->quantize)) return Error{"forge: no Q8_0 quantizer in this build"};
    uint64_t total_table_bytes = 0;
    for (uint64_t r : layer_rows) total_table_bytes += r * row_b;
    std::atomic<uint64_t> table_done{0};
    std::atomic<int> last_pct{-1};

    for (int64_t l = 0; l < n_layers; ++l) {
        const std::string b = "blk." + std::to_string(o.layers[(size_t)l]) + ".";
        const uint64_t ul = (uint64_t)l;
        if (o.form == Form::V41) {
            // [E, 2*D]: D key rows, then D value rows.
            std::vector<float> wkv = gaussian_vec(o.seed, kKey, ul, (size_t)(E * D), w_scale);
            std::vector<float> val = gaussian_vec(o.seed, kValue, ul, (size_t)(E * D), v_scale);
            wkv.insert(wkv.end(), val.begin(), val.end());
            w.add_tensor(b + "engram_wkv.weight", GgmlType::F16, {E, 2 * D}, to_f16_bytes(wkv));
        } else {
            w.add_tensor(b + "engram_key.weight", GgmlType::F16, {E, D},
                         to_f16_bytes(gaussian_vec(o.seed, kKey, ul, (size_t)(E * D), w_scale)));
            w.add_tensor(b + "engram_key.bias", GgmlType::F32, {D},
                         to_f32_bytes(gaussian_vec(o.seed, kKeyBias, ul, (size_t)D, 0.02f)));
            w.add_tensor(b + "engram_value.weight", GgmlType::F16, {E, D},
                         to_f16_bytes(gaussian_vec(o.seed, kValue, ul, (size_t)(E * D), v_scale)));
            w.add_tensor(b + "engram_value.bias", GgmlType::F32, {D},
                         to_f32_bytes(gaussian_vec(o.seed, kValueBias, ul, (size_t)D, o.zero_value ? 0.0f : 0.002f)));
            w.add_tensor(b + "engram_conv.weight", GgmlType::F32, {o.conv_kernel, D},
                         to_f32_bytes(gaussian_vec(o.seed, kConv, ul, (size_t)(o.conv_kernel * D), 0.05f)));
            w.add_tensor(b + "engram_conv_norm.weight", GgmlType::F32, {D}, to_f32_bytes(noise_one(kConvNorm, ul)));
        }
        w.add_tensor(b + "engram_q.weight", GgmlType::F32, {D}, to_f32_bytes(noise_one(kQNorm, ul)));
        w.add_tensor(b + "engram_k.weight", GgmlType::F32, {D}, to_f32_bytes(noise_one(kKNorm, ul)));

        // The table: row r of layer l is uniform [-1, 1) from its own stream,
        // so chunks are generated in parallel and in any order.
        const uint64_t rows = layer_rows[(size_t)l];
        const uint64_t chunk_rows = std::max<uint64_t>(1, (32ull << 20) / row_b);
        const uint64_t seed = o.seed;
        auto source = [&, ul, rows, seed](uint64_t offset, uint8_t* dst, uint64_t n) -> Status {
            const uint64_t r0 = offset / row_b;
            const uint64_t nr = n / row_b;
            if (offset % row_b || n % row_b || r0 + nr > rows) return Error{"table chunk not on row boundaries"};
            pool.parallel_for((int64_t)nr, [&](int64_t i0, int64_t i1) {
                std::vector<float> v((size_t)kl);
                for (int64_t i = i0; i < i1; ++i) {
                    uint64_t s = stream_seed(seed, kTable + (ul << 8), r0 + (uint64_t)i);
                    for (auto& x : v) x = uniform_pm1(s);
                    uint8_t* out = dst + (uint64_t)i * row_b;
                    if (q8) {
                        q8->quantize(v.data(), out, kl);
                    } else {
                        for (int64_t j = 0; j < kl; ++j) {
                            const uint16_t h = fp32_to_fp16(v[(size_t)j]);
                            std::memcpy(out + 2 * j, &h, 2);
                        }
                    }
                }
            });
            const uint64_t done = table_done += n;
            const int pct = (int)(done * 100 / std::max<uint64_t>(1, total_table_bytes));
            if (total_table_bytes >= (256ull << 20) && pct / 10 > last_pct.load() / 10) {
                last_pct = pct;
                EG_LOG_INFO("forge: tables {}% ({} of {} MiB)", pct, done >> 20, total_table_bytes >> 20);
            }
            return {};
        };
        w.add_tensor_stream(b + "engram_embd.weight", ttype, {kl, (int64_t)rows}, rows * row_b, chunk_rows * row_b,
                            source);
    }

    EG_LOG_INFO("forge: {} + Engram ({} form, blocks {}, {} compressed ids, {} MiB of tables {}) -> {}", o.base_path,
                o.form == Form::V41 ? "v41" : "demo", n_layers, n_classes, total_table_bytes >> 20,
                type_name((uint32_t)ttype), o.out_path);
    if (Status s = w.write(o.out_path); !s) return Error{"forge: " + s.message()};

    // Read the result back: a forged file that our own reader rejects is a bug
    // here, and must not be left behind.
    auto check = [&]() -> Status {
        auto f = GgufFile::open(o.out_path);
        if (!f.ok()) return f.error();
        auto c = read_config(*f.value(), hp);
        if (!c.ok()) return c.error();
        EG_LOG_INFO("forge: wrote {}: {}", o.out_path, describe(c.value()));
        return {};
    };
    if (Status s = check(); !s) {
        std::remove(o.out_path.c_str());
        return Error{"forge: the written file does not read back: " + s.message()};
    }
    return {};
}

}  // namespace eg::engram
