#include "model/model.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstring>

#include "core/log.h"
#include "cpu/ops.h"
#include "model/engram_shape.h"
#include "model/runnable.h"
#include "quant/kernels.h"
#include "quant/packed.h"

namespace eg {

Model::~Model() = default;

RopeTable HParams::rope_table(const float* freq_factors) const {
    RopeTable rt{n_rot, rope_freq_base, rope_freq_scale, freq_factors};
    rt.attn_factor = rope_attn_factor;  // llama.cpp multiplies YaRN's by it too
    if (yarn_ext_factor > 0) {
        rt.ext_factor = yarn_ext_factor;
        rt.attn_factor = yarn_attn_factor * rope_attn_factor;
        yarn_corr_dims(n_rot, yarn_n_ctx_orig, rope_freq_base, yarn_beta_fast, yarn_beta_slow, &rt.yarn_low,
                       &rt.yarn_high);
    }
    return rt;
}

Result<std::unique_ptr<Model>> Model::load(const std::string& path, const ExtensionLoader& extension) {
    auto file = GgufFile::open(path);
    if (!file) return file.error();
    // What this engine does not run is said once, naming what it does run.
    if (auto s = check_runnable(*file.value()); !s) return s.error();
    std::unique_ptr<Model> m(new Model());
    m->file_ = std::move(file.value());
    if (auto s = m->load_hparams(); !s) return s.error();
    if (auto s = m->load_weights(); !s) return s.error();
    auto tok = Tokenizer::from_gguf(*m->file_);
    if (!tok) return tok.error();
    m->tok_ = std::move(tok.value());
    if (m->tok_->n_vocab() != m->hp_.n_vocab)
        return m->file_->error("tokenizer.ggml.tokens", "has " + std::to_string(m->tok_->n_vocab()) +
                                                            " tokens but token_embd.weight has " +
                                                            std::to_string(m->hp_.n_vocab) + " rows");
    auto tmpl = m->file_->get_string("tokenizer.chat_template");
    if (!tmpl) return tmpl.error();
    m->chat_template_ = tmpl.value();
    // The Engram store reads its tables from one file by offset.
    if (m->file_->part_count() > 1 && engram_declared(*m->file_, m->hp_.arch))
        return m->file_->error(std::string(kSplitCount),
                               "the model has Engram layers and is split in " +
                                   std::to_string(m->file_->part_count()) +
                                   " parts; Engram tables are served from a single file (merge the parts with "
                                   "llama-gguf-split --merge)");
    if (extension) {
        auto ext = extension(*m);
        if (!ext) return ext.error();
        m->ext_ = std::move(ext.value());
    } else if (engram_declared(*m->file_, m->hp_.arch)) {
        return m->file_->error(engram_key(m->hp_.arch, "layer_ids"),
                               "the model has Engram layers, but this program loaded it without the Engram "
                               "loader (eg::engram::load_model)");
    }
    if (m->ext_) EG_LOG_INFO("{}: {}", path, m->ext_->describe());
    EG_LOG_INFO("loaded {}: {} ({} layers, n_embd {}, {} params, {:.1f} MiB of weights)", path, m->hp_.arch,
                m->hp_.n_layer, m->hp_.n_embd, m->n_params_, m->weight_bytes_ / 1048576.0);
    return m;
}

Status Model::load_hparams() {
    const GgufFile& f = *file_;
    auto arch = f.get_string("general.architecture");
    if (!arch) return arch.error();
    if (!arch.value()) return f.error("general.architecture", "missing");
    hp_.arch = *arch.value();
    arch_ = find_arch(hp_.arch);
    if (!arch_)
        return f.error("general.architecture",
                       "'" + hp_.arch + "' is not supported (supported: " + supported_archs() + ")");

    const std::string a = hp_.arch + ".";
    auto need_int = [&](const std::string& key, int64_t lo, int64_t hi, int64_t* out) -> Status {
        auto v = f.get_int(a + key);
        if (!v) return v.error();
        if (!v.value()) return f.error(a + key, "missing");
        if (*v.value() < lo || *v.value() > hi)
            return f.error(a + key, "value " + std::to_string(*v.value()) + " is outside [" + std::to_string(lo) +
                                        ", " + std::to_string(hi) + "]");
        *out = *v.value();
        return {};
    };
    auto opt_int = [&](const std::string& key, int64_t lo, int64_t hi, int64_t* out) -> Status {
        auto v = f.get_int(a + key);
        if (!v) return v.error();
        if (!v.value()) return {};
        if (*v.value() < lo || *v.value() > hi)
            return f.error(a + key, "value " + std::to_string(*v.value()) + " is outside [" + std::to_string(lo) +
                                        ", " + std::to_string(hi) + "]");
        *out = *v.value();
        return {};
    };
    if (auto s = need_int("context_length", 1, 1 << 24, &hp_.n_ctx_train); !s) return s;
    if (auto s = need_int("embedding_length", 1, 1 << 17, &hp_.n_embd); !s) return s;
    if (auto s = need_int("block_count", 1, 4096, &hp_.n_layer); !s) return s;
    if (auto s = need_int("feed_forward_length", 1, 1 << 20, &hp_.n_ff); !s) return s;
    if (auto s = need_int("attention.head_count", 1, 1 << 12, &hp_.n_head); !s) return s;
    hp_.n_head_kv = hp_.n_head;
    if (auto s = opt_int("attention.head_count_kv", 1, hp_.n_head, &hp_.n_head_kv); !s) return s;
    if (hp_.n_head % hp_.n_head_kv != 0)
        return f.error(a + "attention.head_count_kv", "head_count " + std::to_string(hp_.n_head) +
                                                          " is not a multiple of head_count_kv " + std::to_string(hp_.n_head_kv));
    hp_.head_dim = hp_.n_embd / hp_.n_head;
    if (auto s = opt_int("attention.key_length", 1, 1 << 12, &hp_.head_dim); !s) return s;
    if (!f.find(a + "attention.key_length") && hp_.n_embd % hp_.n_head != 0)
        return f.error(a + "embedding_length", "is not a multiple of the head count");
    if (hp_.head_dim > 4096) return f.error(a + "attention.key_length", "head size above 4096 is not supported");
    if (hp_.head_dim % 2 != 0) return f.error(a + "attention.key_length", "head size must be even for RoPE");
    hp_.n_rot = hp_.head_dim;
    if (auto s = opt_int("rope.dimension_count", 2, hp_.head_dim, &hp_.n_rot); !s) return s;
    if (hp_.n_rot % 2 != 0) return f.error(a + "rope.dimension_count", "must be even");

    auto eps = f.get_float(a + "attention.layer_norm_rms_epsilon");
    if (!eps) return eps.error();
    if (eps.value()) hp_.rms_eps = (float)*eps.value();
    if (!(hp_.rms_eps > 0 && hp_.rms_eps < 1)) return f.error(a + "attention.layer_norm_rms_epsilon", "must be in (0, 1)");
    auto base = f.get_float(a + "rope.freq_base");
    if (!base) return base.error();
    if (base.value()) hp_.rope_freq_base = (float)*base.value();
    if (!(hp_.rope_freq_base > 1)) return f.error(a + "rope.freq_base", "must be greater than 1");

    auto scaling = f.get_string(a + "rope.scaling.type");
    if (!scaling) return scaling.error();
    auto factor = f.get_float(a + "rope.scaling.factor");
    if (!factor) return factor.error();
    const std::string stype = scaling.value().value_or(factor.value() ? "linear" : "none");
    if ((stype == "linear" || stype == "yarn") && factor.value() && *factor.value() > 0) {
        hp_.rope_freq_scale = 1.0f / (float)*factor.value();
    }
    if (stype == "yarn") {
        hp_.yarn_ext_factor = 1.0f;
        hp_.yarn_n_ctx_orig = hp_.n_ctx_train;
        if (auto s = opt_int("rope.scaling.original_context_length", 1, 1 << 24, &hp_.yarn_n_ctx_orig); !s) return s;
        for (auto [key, out] : {std::pair{"rope.scaling.yarn_ext_factor", &hp_.yarn_ext_factor},
                                {"rope.scaling.yarn_attn_factor", &hp_.yarn_attn_factor},
                                {"rope.scaling.yarn_beta_fast", &hp_.yarn_beta_fast},
                                {"rope.scaling.yarn_beta_slow", &hp_.yarn_beta_slow}}) {
            auto v = f.get_float(a + key);
            if (!v) return v.error();
            if (v.value()) *out = (float)*v.value();
            if (!std::isfinite(*out) || *out < 0 || *out > 1e4) return f.error(a + key, "must be in [0, 10000]");
        }
    } else if (stype != "none" && stype != "linear" && stype != "llama3") {
        // llama3 scaling comes as rope_freqs.weight; others change the
        // attention math and are not implemented: refuse rather than run wrong.
        return f.error(a + "rope.scaling.type", "'" + stype + "' rope scaling is not supported yet");
    }
    // LongRoPE's (phi3) and YaRN's extra factor on cos and sin.
    auto attn_factor = f.get_float(a + "rope.scaling.attn_factor");
    if (!attn_factor) return attn_factor.error();
    if (attn_factor.value()) hp_.rope_attn_factor = (float)*attn_factor.value();
    if (!(hp_.rope_attn_factor > 0 && hp_.rope_attn_factor < 100))
        return f.error(a + "rope.scaling.attn_factor", "must be in (0, 100)");
    return arch_->hparams(f, hp_);
}

namespace {

// The model loader's TensorLoader: a block's tensors by suffix, checked
// against the shapes the architecture asks for; counts what it maps.
class BlockTensors final : public TensorLoader {
public:
    BlockTensors(const GgufFile& f, uint64_t& n_params, uint64_t& bytes, std::vector<std::vector<float>>& owned)
        : f_(f), n_params_(n_params), bytes_(bytes), owned_(owned) {}

    // "" for the model's own tensors, "blk.N." inside block N.
    std::string prefix;

    Status matrix(const std::string& suffix, int64_t k, int64_t n, WeightView* out, bool required = true) override {
        const GgufTensorInfo* t = nullptr;
        if (auto s = find(suffix, required, &t); !s || !t) return s;
        if (t->n_dims > 2 || t->ne[0] != k || t->ne[1] != n)
            return shape_error(*t, {k, n});
        if (auto s = kernels(*t); !s) return s;
        *out = WeightView{t->type, k, n, t->data, row_bytes(t->type, k)};
        count(*t);
        return {};
    }

    // 1-D tensors (norms, biases) are used as F32; other types are converted once.
    Status vec(const std::string& suffix, int64_t n, const float** out, bool required = true) override {
        const GgufTensorInfo* t = nullptr;
        if (auto s = find(suffix, required, &t); !s || !t) return s;
        if (t->n_dims != 1 || t->ne[0] != n) return shape_error(*t, {n});
        if (auto s = kernels(*t); !s) return s;
        count(*t);
        if (t->type == GgmlType::F32 && reinterpret_cast<uintptr_t>(t->data) % alignof(float) == 0) {
            *out = reinterpret_cast<const float*>(t->data);
            return {};
        }
        owned_.emplace_back(n);
        kernels_for(t->type)->dequantize(t->data, owned_.back().data(), n);
        *out = owned_.back().data();
        return {};
    }

    Status experts(const std::string& suffix, int64_t k, int64_t rows, int64_t n_expert,
                   ExpertMatrices* out) override {
        const GgufTensorInfo* t = nullptr;
        if (auto s = find(suffix, true, &t); !s) return s;
        if (t->n_dims != 3 || t->ne[0] != k || t->ne[1] != rows || t->ne[2] != n_expert)
            return shape_error(*t, {k, rows, n_expert});
        if (auto s = kernels(*t); !s) return s;
        out->all = WeightView{t->type, k, rows * n_expert, t->data, row_bytes(t->type, k)};
        out->rows = rows;
        out->n_expert = n_expert;
        count(*t);
        return {};
    }

    Status expert_bias(const std::string& suffix, int64_t rows, int64_t n_expert, ExpertMatrices* out) override {
        const GgufTensorInfo* t = nullptr;
        if (auto s = find(suffix, true, &t); !s) return s;
        if (t->n_dims != 2 || t->ne[0] != rows || t->ne[1] != n_expert) return shape_error(*t, {rows, n_expert});
        if (auto s = kernels(*t); !s) return s;
        count(*t);
        const int64_t n = rows * n_expert;
        if (t->type == GgmlType::F32 && reinterpret_cast<uintptr_t>(t->data) % alignof(float) == 0) {
            out->bias = reinterpret_cast<const float*>(t->data);
            return {};
        }
        owned_.emplace_back(n);
        kernels_for(t->type)->dequantize(t->data, owned_.back().data(), n);
        out->bias = owned_.back().data();
        return {};
    }

private:
    Status find(const std::string& suffix, bool required, const GgufTensorInfo** out) const {
        *out = f_.find_tensor(prefix + suffix);
        if (!*out && required) return f_.error("tensor " + prefix + suffix, "missing");
        return {};
    }
    Status shape_error(const GgufTensorInfo& t, std::initializer_list<int64_t> want) const {
        std::string s = "[";
        for (int64_t d : want) s += (s.size() > 1 ? ", " : "") + std::to_string(d);
        return f_.error("tensor " + t.name, "shape is " + t.shape_string() + ", expected " + s + "]");
    }
    Status kernels(const GgufTensorInfo& t) const {
        if (kernels_for(t.type)) return {};
        return f_.error("tensor " + t.name, "type " + std::string(type_name((uint32_t)t.type)) + " is not supported");
    }
    void count(const GgufTensorInfo& t) {
        n_params_ += t.n_elements;
        bytes_ += t.n_bytes;
    }

    const GgufFile& f_;
    uint64_t& n_params_;
    uint64_t& bytes_;
    std::vector<std::vector<float>>& owned_;
};

}  // namespace

Status Model::load_weights() {
    const GgufFile& f = *file_;
    const HParams& hp = hp_;
    BlockTensors t(f, n_params_, weight_bytes_, owned_);

    const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
    if (!embd) return f.error("tensor token_embd.weight", "missing");
    if (embd->n_dims != 2 || embd->ne[0] != hp.n_embd)
        return f.error("tensor token_embd.weight", "shape is " + embd->shape_string() + ", expected [" +
                                                       std::to_string(hp.n_embd) + ", n_vocab]");
    hp_.n_vocab = embd->ne[1];
    if (auto s = t.matrix("token_embd.weight", hp.n_embd, hp.n_vocab, &w_.tok_embd); !s) return s;
    if (auto s = t.vec("output_norm.weight", hp.n_embd, &w_.output_norm); !s) return s;
    if (auto s = t.matrix("output.weight", hp.n_embd, hp.n_vocab, &w_.output, false); !s) return s;
    hp_.tied_output = w_.output.data == nullptr;
    if (hp_.tied_output) w_.output = w_.tok_embd;
    if (auto s = t.vec(std::string(arch_->rope_factors), hp.n_rot / 2, &w_.rope_freqs, false); !s) return s;
    if (!arch_->rope_factors_long.empty())
        if (auto s = t.vec(std::string(arch_->rope_factors_long), hp.n_rot / 2, &w_.rope_freqs_long, false); !s)
            return s;

    w_.layers.resize(hp.n_layer);
    graphs_.resize(hp.n_layer);
    for (int64_t il = 0; il < hp.n_layer; ++il) {
        t.prefix = "blk." + std::to_string(il) + ".";
        if (auto s = arch_->load_block(t, hp, il, w_.layers[il]); !s) return s;
        BlockBuilder g(hp, w_.layers[il], il, graphs_[il]);
        arch_->build_block(g);
    }
    return {};
}

std::shared_ptr<const PackedMatrix> Model::packed(const WeightView& w, ThreadPool* pool) const {
    if (!w.data) return nullptr;
    std::lock_guard<std::mutex> lock(packed_mu_);
    if (auto it = packed_.find(w.data); it != packed_.end())
        if (auto p = it->second.lock()) return p;
    std::shared_ptr<const PackedMatrix> p = pack_weights(w, pool);
    if (!p) return nullptr;
    packed_[w.data] = p;
    // The CPU reads the packed copy from now on: let the kernel drop the
    // file's pages of this matrix from our memory (whole pages inside it
    // only; a later reader faults them back in from the page cache).
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t b = ((uintptr_t)w.data + page - 1) / page * page;
    const uintptr_t e = ((uintptr_t)w.data + (uintptr_t)(w.n * w.row_bytes)) / page * page;
    if (e > b && w.data != w_.tok_embd.data) ::madvise((void*)b, e - b, MADV_DONTNEED);
    return p;
}

MemoryEstimate Model::memory_estimate(int64_t n_ctx, int64_t n_batch) const {
    MemoryEstimate m;
    m.weights_bytes = weight_bytes_;
    // A tied head that the CPU packs is a copy beside the token table, which
    // stays mapped for the lookups (packed matrices are the file's size).
    const WeightView& h = w_.output;
    if (hp_.tied_output && packed_kernels_available())
        if (const int64_t b = packed_bytes(h.type, h.k, h.n); b > 0) m.weights_bytes += (uint64_t)b;
    // KV cache in F16: K and V, every layer.
    m.kv_bytes = (uint64_t)hp_.n_layer * (uint64_t)n_ctx * (uint64_t)hp_.kv_dim() * 2 * 2;
    const int64_t per_token = 3 * hp_.n_embd + hp_.q_dim() * 2 + hp_.kv_dim() * 2 + 2 * hp_.n_ff;
    m.scratch_bytes = (uint64_t)n_batch * per_token * 4 + (uint64_t)hp_.n_vocab * 4 +
                      (uint64_t)n_batch * (uint64_t)std::max(hp_.n_ff, hp_.q_dim()) * 2;  // quantized activations
    return m;
}

}  // namespace eg
