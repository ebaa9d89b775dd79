// Engram modules (an extension's LookupModule) on the GPU. The extension
// says which rows each position reads (hashing, on the host) and serves them
// from its DRAM/SSD tiers; the backend keeps the hot rows in a VRAM row
// cache (LookupStager on the host says which slot holds which row). Before a
// block's kernels are queued, the rows its batch misses are copied on the
// side stream into their slots, and the compute stream waits for that copy
// only when it reaches the module; a gather kernel then reads every row from
// its slot, and the projections, gate, conv and residual run as kernels.
// Decode stays one captured graph: the slots of the step's rows are in a
// fixed device array the graph's gather reads.
#include <algorithm>
#include <string>

#include "core/log.h"
#include "cuda/cuda_backend_impl.h"

namespace eg::cuda {

namespace {

// Why the GPU cannot run module `mod`, or "".
std::string lookup_unsupported(const LookupModule& mod) {
    auto bad_matrix = [](const WeightView* w) {
        return !w || !w->data || !cuda::type_supported(w->type) || w->k % 32 != 0;
    };
    if (!cuda::type_supported(mod.row_type) || mod.row_values % 32 != 0)
        return std::string("its table has rows of ") + std::to_string(mod.row_values) + " values of type " +
               std::string(type_name((uint32_t)mod.row_type)) +
               " (the gather reads " + cuda::supported_type_names() + " rows of a multiple of 32 values)";
    if (mod.rows_per_token <= 0 || mod.n_rows == 0) return "its table is empty";
    if (mod.wkv ? bad_matrix(mod.wkv) : (bad_matrix(mod.key) || bad_matrix(mod.value)))
        return "its projections are of a type (or width) the matrix kernels do not read";
    if (!mod.q_norm || !mod.k_norm) return "it has no query or key norm";
    if (mod.conv && (mod.conv_kernel <= 0 || mod.conv_dilation <= 0 || !mod.conv_norm))
        return "its convolution has no kernel size, dilation or norm";
    return {};
}

}  // namespace

Status CudaBackend::init_lookups(int64_t* max_w, int64_t* max_e) {
    ModelExtension* mx = m_.extension();
    const int64_t D = m_.hparams().n_embd;
    lookup_of_.assign((size_t)(last_ - first_), -1);
    if (!mx) return {};
    const std::string dn = device();
    std::vector<const LookupModule*> mods;
    uint64_t tables = 0;
    for (int64_t il = first_; il < last_; ++il) {
        if (!mx->has_layer(il)) continue;
        const LookupModule* mod = mx->lookup_module(il);
        const std::string why = mod ? lookup_unsupported(*mod) : "the extension offers no GPU form";
        if (!why.empty()) {
            EG_LOG_WARN("{}: the Engram module of block {} runs on the CPU: {}", dn, il, why);
            continue;
        }
        mods.push_back(mod);
        tables += mod->table_bytes();
    }
    lookups_.resize(mods.size());  // no reallocation after this: pointers into it stay valid
    for (size_t i = 0; i < mods.size(); ++i) {
        const LookupModule& mod = *mods[i];
        DevLookup& L = lookups_[i];
        L.mod = &mod;
        L.il = mod.layer;
        lookup_of_[(size_t)(mod.layer - first_)] = (int)i;
        const std::string blk = "blk." + std::to_string(mod.layer);
        if (mod.wkv) {
            if (auto st = upload_matrix(*mod.wkv, blk + ".engram_wkv", &L.wkv); !st) return st;
        } else {
            if (auto st = upload_matrix(*mod.key, blk + ".engram_key", &L.key); !st) return st;
            if (auto st = upload_matrix(*mod.value, blk + ".engram_value", &L.value); !st) return st;
        }
        for (const WeightView* w : {mod.wkv, mod.key, mod.value})
            if (w) *max_w = std::max(*max_w, w->n * w->k);
        *max_e = std::max(*max_e, mod.gathered_width());
        if (auto st = upload_vec(mod.key_bias, D, blk + ".engram_key.bias", &L.key_bias); !st) return st;
        if (auto st = upload_vec(mod.value_bias, D, blk + ".engram_value.bias", &L.value_bias); !st) return st;
        if (auto st = upload_vec(mod.q_norm, D, blk + ".engram_q_norm", &L.q_norm); !st) return st;
        if (auto st = upload_vec(mod.k_norm, D, blk + ".engram_k_norm", &L.k_norm); !st) return st;
        if (mod.conv) {
            if (auto st = upload_vec(mod.conv, D * mod.conv_kernel, blk + ".engram_conv", &L.conv); !st) return st;
            if (auto st = upload_vec(mod.conv_norm, D, blk + ".engram_conv_norm", &L.conv_norm); !st) return st;
        }

        // Slots: the table's share of the budget (the stager makes it at
        // least a batch's rows).
        const uint64_t share =
            tables ? (uint64_t)((long double)engram_cache_bytes_ * mod.table_bytes() / tables) : 0;
        L.stager = std::make_unique<LookupStager>(
            mod, (uint32_t)std::min<uint64_t>({mod.n_rows, share / mod.row_bytes, (uint64_t)INT32_MAX}), n_batch_);
        const uint64_t cap = L.stager->cache().capacity();
        const uint64_t per_batch = L.stager->max_misses();
        const uint64_t ids = L.stager->max_ids();
        if (auto st = alloc(L.slots, cap * mod.row_bytes, "allocating the Engram row cache of " + blk); !st) return st;
        if (auto st = alloc(L.idx, ids * 4, "allocating Engram row slots"); !st) return st;
        if (auto st = alloc(L.miss_slots, per_batch * 4, "allocating Engram row slots"); !st) return st;
        if (auto st = alloc(L.stage, per_batch * mod.row_bytes, "allocating Engram row staging"); !st) return st;
        if (mod.conv)
            if (auto st = alloc(L.hist, (uint64_t)(n_ctx_ * D) * 4, "allocating the Engram conv history of " + blk);
                !st)
                return st;
        scratch_bytes_ += L.idx.bytes() + L.miss_slots.bytes() + L.stage.bytes() + L.hist.bytes();
        if (L.hist.get())
            if (auto st = check(cudaMemsetAsync(L.hist.get(), 0, L.hist.bytes(), stream_), "cudaMemsetAsync",
                                "Engram conv history");
                !st)
                return st;
        L.table.type = mod.row_type;
        L.table.k = mod.row_values;
        L.table.n = (int64_t)cap;
        L.table.row_bytes = (int64_t)mod.row_bytes;
        L.table.data = L.slots.get();
        if (auto st = check(cudaMallocHost((void**)&L.h_idx, ids * 4), "cudaMallocHost", "Engram row slots"); !st)
            return st;
        if (auto st = check(cudaMallocHost((void**)&L.h_miss, per_batch * 4), "cudaMallocHost", "Engram row slots");
            !st)
            return st;
        if (auto st = check(cudaMallocHost((void**)&L.h_stage, per_batch * mod.row_bytes), "cudaMallocHost",
                            "Engram row staging");
            !st)
            return st;
        if (auto st = check(cudaEventCreateWithFlags(&L.ready, cudaEventDisableTiming), "cudaEventCreate",
                            "Engram rows");
            !st)
            return st;
        EG_LOG_INFO("{}: Engram module of {} on the GPU, {} of {} rows cached in VRAM ({})", dn, blk, cap, mod.n_rows,
                    cuda::mib(L.slots.bytes()));
    }
    return {};
}

Status CudaBackend::stage_lookup(DevLookup& L, ExtensionState& ext, int64_t n_tok, int64_t pos0) {
    const LookupModule& mod = *L.mod;
    const size_t n = (size_t)(n_tok * mod.rows_per_token);
    const std::string blk = "Engram rows of blk." + std::to_string(L.il);
    auto staged = L.stager->stage(*m_.extension(), ext, n_tok, pos0, L.h_idx, L.h_miss, L.h_stage);
    if (!staged) return staged.error();
    // The slots now name rows not yet written: any failure until they are
    // must forget them.
    auto fail = [&](Status st) {
        L.stager->forget();
        return st;
    };
    const size_t m = staged.value();
    if (auto st = check(cudaMemcpyAsync(L.idx.get(), L.h_idx, n * 4, cudaMemcpyHostToDevice, copy_),
                        "cudaMemcpyAsync", blk + " (slots)");
        !st)
        return fail(std::move(st));
    if (m > 0) {
        const size_t bytes = m * mod.row_bytes;
        if (auto st = check(cudaMemcpyAsync(L.stage.get(), L.h_stage, bytes, cudaMemcpyHostToDevice, copy_),
                            "cudaMemcpyAsync", blk);
            !st)
            return fail(std::move(st));
        if (auto st = check(cudaMemcpyAsync(L.miss_slots.get(), L.h_miss, m * 4, cudaMemcpyHostToDevice, copy_),
                            "cudaMemcpyAsync", blk + " (their slots)");
            !st)
            return fail(std::move(st));
        if (auto st = check(cuda::scatter_rows(L.stage.get(), L.miss_slots.as<int32_t>(), (int64_t)m,
                                               (int64_t)mod.row_bytes, L.slots.get(), copy_),
                            "scatter_rows", blk);
            !st)
            return fail(std::move(st));
    }
    if (auto st = check(cudaEventRecord(L.ready, copy_), "cudaEventRecord", blk); !st) return fail(std::move(st));
    return {};
}

Status CudaBackend::run_lookup(DevLookup& L, int64_t n_tok) {
    const LookupModule& mod = *L.mod;
    const int64_t D = m_.hparams().n_embd, E = mod.gathered_width();
    const std::string blk = "blk." + std::to_string(L.il) + " Engram";
    const int32_t* pos = d_pos_.as<int32_t>();
    float* e = d_e_.as<float>();
    if (auto st = check(cuda::get_rows(L.table, L.idx.as<int32_t>(), n_tok * mod.rows_per_token, e, stream_),
                        "get_rows", blk + " rows");
        !st)
        return st;
    if (n_tok > 1)
        if (auto st = check(cuda::f32_to_f16(e, d_h16_.get(), n_tok * E, stream_), "f32_to_f16", blk + " rows"); !st)
            return st;
    cuda::GateArgs g;
    float* kv = d_ekv_.as<float>();
    if (mod.wkv) {
        if (auto st = linear(L.wkv, e, n_tok, kv, nullptr, false, L.il, "engram_wkv"); !st) return st;
        g.key = kv;
        g.value = kv + D;
        g.kv_stride = 2 * D;
    } else {
        if (auto st = linear(L.key, e, n_tok, kv, L.key_bias, false, L.il, "engram_key"); !st) return st;
        if (auto st = linear(L.value, e, n_tok, kv + n_batch_ * D, L.value_bias, false, L.il, "engram_value"); !st)
            return st;
        g.key = kv;
        g.value = kv + n_batch_ * D;
        g.kv_stride = D;
    }
    g.x = d_x_.as<float>();
    g.q_norm = L.q_norm;
    g.k_norm = L.k_norm;
    g.out = d_eout_.as<float>();
    g.hist = L.conv ? L.hist.as<float>() : nullptr;
    g.conv_norm = L.conv_norm;
    g.n_tok = n_tok;
    g.n = D;
    g.eps = mod.eps;
    if (auto st = check(cuda::lookup_gate(g, pos, stream_), "lookup_gate", blk + " gate"); !st) return st;
    return check(cuda::lookup_residual(d_x_.as<float>(), g.out, g.hist, L.conv, mod.conv_kernel, mod.conv_dilation,
                                       n_tok, D, pos, stream_),
                 "lookup_residual", blk + " output");
}

}  // namespace eg::cuda
