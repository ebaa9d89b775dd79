// The planner: candidate placements (nothing on the GPU, or the output head
// plus the last k blocks for every k that fits the VRAM budget), each priced
// by bytes read per token over each tier's bandwidth; the fastest wins.
//
// Why the LAST blocks go to the GPU (as llama.cpp's -ngl does): the output
// head sits with them, so per step the activations cross PCIe once (host ->
// GPU) and only the logits come back; with the first blocks on the GPU they
// would cross twice and the head would need a second copy of a large matrix
// or stay on the slow side. Engram layers sit early in the known models
// (DeepSeek-V4.1: blocks 1 and 14), so on a partial offload they run on the
// CPU next to their DRAM rows and nothing Engram crosses PCIe.
//
// Why an argmax over candidates rather than "as many blocks as fit": each
// candidate's speed can only grow with either budget (more VRAM left over
// means a larger Engram hot-row cache; more Engram DRAM means more resident
// rows), and the candidate set only grows with the VRAM budget, so the best
// of them never predicts a slower decode for a larger budget. In practice
// the winner is the candidate with the most blocks on the GPU.
#include "plan/planner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "quant/types.h"

namespace eg {

namespace {

constexpr uint64_t kSsdReadUnitBytes = 4096;     // one O_DIRECT row read
constexpr uint64_t kGpuWorkspaceBytes = 64ull << 20;  // cuBLAS workspace, graphs, small buffers

uint64_t sat_sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

// Activations and quantized copies for a batch of n_batch tokens (the same
// terms as Model::memory_estimate). The GPU also dequantizes one block
// matrix at a time to F16 for cuBLAS and keeps a workspace.
uint64_t scratch_bytes(const ModelInfo& m, int64_t n_batch, bool gpu) {
    const uint64_t q_dim = (uint64_t)(m.n_head * m.head_dim), kv_dim = (uint64_t)(m.n_head_kv * m.head_dim);
    const uint64_t per_token = 3 * (uint64_t)m.n_embd + 2 * q_dim + 2 * kv_dim + 2 * (uint64_t)m.n_ff;
    uint64_t s = (uint64_t)n_batch * per_token * 4 + (uint64_t)m.n_vocab * 4 +
                 (uint64_t)n_batch * std::max<uint64_t>((uint64_t)m.n_ff, q_dim) * 2;
    if (gpu) s += (uint64_t)m.n_embd * std::max<uint64_t>((uint64_t)m.n_ff, q_dim) * 2 + kGpuWorkspaceBytes;
    return s;
}

// What a GPU holds for the Engram modules of blocks [first_gpu, n_layer)
// besides their rows (cuda_backend.cpp): per module the slots of a batch's
// rows, one batch of staged rows and their slots, the demo form's conv
// history [n_ctx, n_embd]; shared, a batch's gathered rows (and their F16
// copy where wider than the blocks'), key|value and output.
uint64_t engram_gpu_scratch(const ModelInfo& m, int64_t n_batch, int64_t n_ctx, int64_t first_gpu) {
    const uint64_t nb = (uint64_t)std::max<int64_t>(n_batch, 1), H = (uint64_t)m.engram_rows_per_token(),
                   D = (uint64_t)m.n_embd;
    uint64_t s = 0, max_e = 0, max_w = 0;
    for (const auto& t : m.engram_tables) {
        if (t.layer < first_gpu) continue;
        const uint64_t per_batch = std::min<uint64_t>(t.rows, nb * H);
        s += nb * H * 4 + per_batch * (t.row_bytes + 4);
        if (t.has_conv) s += (uint64_t)n_ctx * D * 4;
        const uint64_t e = H * (uint64_t)t.row_values;
        max_e = std::max(max_e, e);
        max_w = std::max(max_w, (t.has_conv ? D : 2 * D) * e);  // key, value [E -> D] or wkv [E -> 2D]
    }
    if (max_e == 0) return s;
    // Beyond what the blocks already need: the F16 copies of activations and
    // of one weight that the prefill GEMM uses (scratch_bytes()).
    const uint64_t wide = std::max<uint64_t>((uint64_t)m.n_ff, (uint64_t)(m.n_head * m.head_dim));
    s += nb * (max_e + 3 * D) * 4;
    if (nb > 1 && max_e > wide) s += nb * (max_e - wide) * 2;
    if (nb > 1 && max_w > D * wide) s += (max_w - D * wide) * 2;
    return s;
}

// The rows one batch reads, which the GPU's row cache of each module holds
// at least (Engram bytes, not scratch; counted here when fitting blocks).
uint64_t engram_gpu_floor(const ModelInfo& m, int64_t n_batch, int64_t first_gpu) {
    const uint64_t rows = (uint64_t)std::max<int64_t>(n_batch, 1) * (uint64_t)m.engram_rows_per_token();
    uint64_t s = 0;
    for (const auto& t : m.engram_tables)
        if (t.layer >= first_gpu) s += std::min<uint64_t>(t.rows, rows) * t.row_bytes;
    return s;
}

// Both, for fitting the blocks from first_gpu on.
uint64_t engram_gpu_need(const ModelInfo& m, int64_t n_batch, int64_t n_ctx, int64_t first_gpu) {
    return engram_gpu_scratch(m, n_batch, n_ctx, first_gpu) + engram_gpu_floor(m, n_batch, first_gpu);
}

// Harmonic number H(n, s) = sum_{i=1..n} i^-s, for s = 1 in closed form
// (Euler–Maclaurin), so tables of billions of rows cost nothing.
double harmonic(uint64_t n) {
    if (n == 0) return 0;
    if (n < 64) {
        double h = 0;
        for (uint64_t i = 1; i <= n; ++i) h += std::pow((double)i, -kZipfExponent);
        return h;
    }
    const double x = (double)n;
    return std::log(x) + 0.5772156649015329 + 1 / (2 * x) - 1 / (12 * x * x);
}

struct Inputs {
    const ModelInfo& m;
    const Hardware& hw;
    const Budgets& b;
    int64_t n_ctx;
    uint64_t vram_avail;       // min(budget, free VRAM); 0 without a GPU
    double dram_bw, ssd_bw, h2d_bw, vram_bw;
    int threads;               // CPU threads decoding
};

// A figure measured on 1 thread and on all cores, at `threads` (linear between).
double at_threads(double one, double all, int threads, int cores) {
    if (!(one > 0) || cores <= 1 || threads >= cores) return all;
    if (threads <= 1) return one;
    return one + (all - one) * (double)(threads - 1) / (double)(cores - 1);
}

// Seconds the CPU's kernels take for one matrix-vector product over a
// matrix; 0 where its type's rate was not measured.
double matvec_s(const Inputs& in, const ModelInfo::CpuMatrix& mat) {
    for (const CpuKernelRate& r : in.hw.cpu_matvec) {
        if (r.type != mat.type) continue;
        const double gbps = at_threads(r.GBps_1t, r.GBps_all, in.threads, in.hw.cpu_threads);
        return gbps > 0 ? (double)mat.bytes / (gbps * 1e9) : 0;
    }
    return 0;
}

// True when the CPU's weights and KV fit three quarters of its last-level
// cache (as measured): then its reads come from there, not from DRAM.
// Seconds of decode attention for one token over kv_tokens positions in
// n_blocks blocks, at the measured rates of the nearest head size: its
// arithmetic, and where the KV comes from DRAM (from_dram) the rate the
// kernel streams it at; 0 where none was measured.
double attention_s(const Inputs& in, int64_t kv_tokens, int64_t n_blocks, bool from_dram) {
    const CpuAttentionRate* best = nullptr;
    for (const CpuAttentionRate& r : in.hw.cpu_attention)
        if (r.GMACs_all > 0 && (!best || std::llabs(r.head_dim - in.m.head_dim) < std::llabs(best->head_dim - in.m.head_dim)))
            best = &r;
    if (!best || n_blocks <= 0) return 0;
    const double gmacs = at_threads(best->GMACs_1t, best->GMACs_all, in.threads, in.hw.cpu_threads);
    const double macs = 2.0 * (double)in.m.n_head * (double)kv_tokens * (double)in.m.head_dim * (double)n_blocks;
    double s = gmacs > 0 ? macs / (gmacs * 1e9) : 0;
    if (from_dram && best->stream_GBps_all > 0) {
        const double gbps = at_threads(best->stream_GBps_1t, best->stream_GBps_all, in.threads, in.hw.cpu_threads);
        s = std::max(s, (double)in.m.kv_bytes_per_block(kv_tokens) * (double)n_blocks / (gbps * 1e9));
    }
    return s;
}

bool fits_llc(const Inputs& in, uint64_t cpu_bytes) {
    return in.hw.llc_read_GBps > 0 && in.hw.llc_bytes > 0 && cpu_bytes <= in.hw.llc_bytes / 4 * 3;
}

// The GB/s the CPU reads its share at: its last-level cache's when it fits
// there, DRAM's otherwise.
double cpu_read_GBps(const Inputs& in, uint64_t cpu_bytes) {
    const Hardware& hw = in.hw;
    if (fits_llc(in, cpu_bytes)) return at_threads(hw.llc_read_1t_GBps, hw.llc_read_GBps, in.threads, hw.cpu_threads);
    return in.dram_bw;
}

// The GB/s the CPU's kernels stream a matrix of this type from DRAM at
// (their own work included), or `dram` where that was not measured.
double stream_GBps(const Inputs& in, uint32_t type, double dram) {
    for (const CpuKernelRate& r : in.hw.cpu_matvec)
        if (r.type == type && r.stream_GBps_all > 0)
            return at_threads(r.stream_GBps_1t, r.stream_GBps_all, in.threads, in.hw.cpu_threads);
    return dram;
}

uint64_t gpu_need(const Inputs& in, int64_t k, bool with_kv) {
    const ModelInfo& m = in.m;
    uint64_t need = m.output_bytes + m.output_norm_bytes + scratch_bytes(m, in.b.n_batch, true) +
                    engram_gpu_need(m, in.b.n_batch, in.n_ctx, m.n_layer - k);
    for (int64_t i = m.n_layer - k; i < m.n_layer; ++i)
        need += m.block_weight_bytes[(size_t)i] + (with_kv ? m.kv_bytes_per_block(in.n_ctx) : 0);
    return need;
}

bool moe_block(const ModelInfo& m, int64_t i) {
    return (size_t)i < m.block_expert_bytes.size() && m.block_expert_bytes[(size_t)i] > 0;
}

// Most blocks that fit beside the output head, with or without their KV.
int64_t max_gpu_blocks(const Inputs& in, bool with_kv) {
    const ModelInfo& m = in.m;
    uint64_t need = m.output_bytes + m.output_norm_bytes + scratch_bytes(m, in.b.n_batch, true);
    if (need > in.vram_avail) return -1;  // not even the head
    int64_t k = 0;
    for (int64_t i = m.n_layer - 1; i >= 0; --i) {
        if (moe_block(m, i)) break;  // the CUDA backend runs dense blocks only (for now)
        need += m.block_weight_bytes[(size_t)i] + (with_kv ? m.kv_bytes_per_block(in.n_ctx) : 0);
        // The Engram scratch and rows of the blocks so far (they grow with them).
        const uint64_t eng = engram_gpu_need(m, in.b.n_batch, in.n_ctx, i);
        if (need + eng > in.vram_avail) break;
        ++k;
    }
    return k;
}

// One candidate, fully priced. out_gpu: the output head (and the last k
// blocks) on cuda:0; otherwise k is 0 and everything runs on the CPU.
Placement evaluate(const Inputs& in, int64_t k, bool out_gpu) {
    const ModelInfo& m = in.m;
    const bool gpu_used = out_gpu;
    const int64_t first_gpu = m.n_layer - k;
    const uint64_t kv_block = m.kv_bytes_per_block(in.n_ctx);
    Placement p;
    p.n_gpu_blocks = k;
    p.output_device = out_gpu ? "cuda:0" : "cpu";
    p.output_copies_token_table = out_gpu && m.tied_output;
    p.dram_read_GBps = in.dram_bw;
    p.ssd_read_GBps = in.ssd_bw;
    p.h2d_GBps = in.h2d_bw;
    p.vram_read_GBps = in.vram_bw;
    if (!in.hw.gpus.empty()) p.gpu_name = in.hw.gpus[0].name;

    uint64_t gpu_block_bytes = 0, cpu_block_bytes = 0, cpu_block_read = 0, cpu_expert_held = 0, cpu_expert_read = 0;
    std::vector<const ModelInfo::CpuMatrix*> cpu_matrices;  // what the CPU multiplies per token
    int64_t cpu_calls = 0;
    for (int64_t i = 0; i < m.n_layer; ++i) {
        const bool on_gpu = i >= first_gpu;
        p.blocks.push_back({i, on_gpu ? "cuda:0" : "cpu"});
        if (on_gpu) {
            gpu_block_bytes += m.block_weight_bytes[(size_t)i];
        } else {
            cpu_block_bytes += m.block_cpu(i);
            cpu_block_read += m.block_cpu_read(i);
            if ((size_t)i < m.block_expert_cpu_bytes.size()) {
                cpu_expert_held += m.block_expert_cpu_bytes[(size_t)i];
                cpu_expert_read += (uint64_t)((double)m.block_expert_cpu_bytes[(size_t)i] * m.expert_read_share());
            }
            if ((size_t)i < m.block_cpu_matrices.size())
                for (const auto& mat : m.block_cpu_matrices[(size_t)i]) cpu_matrices.push_back(&mat);
            cpu_calls += (size_t)i < m.block_cpu_calls.size() ? m.block_cpu_calls[(size_t)i] : 0;
            p.cpu_packed_extra_bytes += sat_sub(m.block_cpu(i), m.block_weight_bytes[(size_t)i]);
        }
    }
    if (!out_gpu) {
        p.cpu_packed_extra_bytes += sat_sub(m.head_cpu_held(), m.tied_output ? 0 : m.output_bytes);
        cpu_matrices.push_back(&m.head_cpu_matrix);
        ++cpu_calls;
    }
    const uint64_t head_bytes = m.output_bytes + m.output_norm_bytes;
    const uint64_t cpu_head_read = m.head_cpu_read() + m.output_norm_bytes;

    // VRAM: the head, GPU blocks, their KV, scratch.
    p.vram.capacity_bytes = in.vram_avail;
    if (gpu_used) {
        p.vram.weights_bytes = gpu_block_bytes + head_bytes;
        p.vram.kv_bytes = (uint64_t)k * kv_block;
        p.vram.scratch_bytes = scratch_bytes(m, in.b.n_batch, true) +
                               engram_gpu_scratch(m, in.b.n_batch, in.n_ctx, first_gpu);
        p.kv.push_back({"cuda:0", k, p.vram.kv_bytes});
    }
    // DRAM: the token table (always: the lookup runs on the host), CPU blocks
    // (mapped from the file), the head when it stays, their KV, scratch.
    p.dram.capacity_bytes = in.hw.dram_free_bytes;
    // 0: free DRAM unknown (no /proc/meminfo); then nothing is checked against it.
    const uint64_t dram_cap = in.hw.dram_free_bytes ? in.hw.dram_free_bytes : UINT64_MAX;
    // Experts: DRAM up to their budget, the rest on the SSD, read on demand.
    ExpertPlacement& xp = p.experts;
    xp.total_bytes = cpu_expert_held;
    xp.dram_bytes = std::min(in.b.expert_dram_bytes, cpu_expert_held);
    // Below all of them, the tier holds whole experts (slots of 4 KiB-rounded slices).
    if (xp.dram_bytes < cpu_expert_held && m.expert_slot_bytes > 0)
        xp.dram_bytes = xp.dram_bytes / m.expert_slot_bytes * m.expert_slot_bytes;
    xp.ssd_bytes = cpu_expert_held - xp.dram_bytes;
    xp.dram_hit_rate = cpu_expert_held ? (double)xp.dram_bytes / (double)cpu_expert_held : 1.0;
    p.dram.expert_bytes = xp.dram_bytes;
    p.ssd.expert_bytes = xp.ssd_bytes;
    const uint64_t expert_ssd_read = (uint64_t)((double)cpu_expert_read * (1.0 - xp.dram_hit_rate));
    p.dram.weights_bytes = m.token_embd_bytes + m.other_bytes + (cpu_block_bytes - cpu_expert_held) +
                           (out_gpu ? 0 : m.head_cpu_held() + m.output_norm_bytes);
    p.dram.kv_bytes = (uint64_t)(m.n_layer - k) * kv_block;
    p.dram.scratch_bytes = scratch_bytes(m, in.b.n_batch, false);
    p.kv.insert(p.kv.begin(), DeviceKv{"cpu", m.n_layer - k, p.dram.kv_bytes});
    // Mapped weights beyond free DRAM are evicted and read again from the
    // file every token: they move to the SSD tier.
    // What the CPU reads per token: its blocks (of a MoE block, the experts a
    // token runs) and the head.
    const uint64_t mapped_cpu_weights = cpu_block_read - expert_ssd_read + (out_gpu ? 0 : cpu_head_read);
    const uint64_t mapped_cpu_held = cpu_block_bytes - xp.ssd_bytes + (out_gpu ? 0 : cpu_head_read);
    const uint64_t overflow = std::min(sat_sub(p.dram.bytes(), dram_cap), mapped_cpu_held);
    p.dram.weights_bytes -= overflow;
    p.ssd.weights_bytes = overflow;
    // Of what overflows, a token reads its share (all of it in a dense model).
    const uint64_t overflow_read =
        mapped_cpu_held ? (uint64_t)((unsigned __int128)overflow * mapped_cpu_weights / mapped_cpu_held) : 0;
    p.ssd.capacity_bytes = m.file_bytes;

    // Engram: the DRAM budget (what is left of DRAM at most) split over the
    // tables by size as the store does; the VRAM left over becomes a hot-row
    // cache for tables whose block runs on the GPU.
    const uint64_t tables_total = m.engram_table_bytes();
    const uint64_t dram_left = sat_sub(dram_cap, p.dram.bytes());
    const uint64_t engram_dram = std::min({in.b.engram_dram_bytes, tables_total, dram_left});
    const uint64_t vram_left = gpu_used ? sat_sub(in.vram_avail, p.vram.bytes()) : 0;
    uint64_t gpu_tables_total = 0;
    for (const auto& t : m.engram_tables)
        if (gpu_used && t.layer >= first_gpu) gpu_tables_total += t.bytes();
    const uint64_t vram_cache = std::min({vram_left, gpu_tables_total, in.b.engram_vram_bytes});

    Prediction& pr = p.predicted;
    pr.kv_tokens = in.b.decode_kv_tokens > 0 ? std::min(in.b.decode_kv_tokens, in.n_ctx)
                                             : std::max<int64_t>(1, in.n_ctx / 2);
    const uint64_t kv_read_block = m.kv_bytes_per_block(pr.kv_tokens);
    double ssd_row_reads = 0, dram_row_bytes = 0, vram_row_bytes = 0, pcie_row_bytes = 0;
    const double rows_per_token = (double)m.engram_rows_per_token();
    for (const auto& t : m.engram_tables) {
        EngramTablePlacement e;
        e.layer = t.layer;
        e.tensor = t.tensor;
        e.device = (gpu_used && t.layer >= first_gpu) ? "cuda:0" : "cpu";
        e.rows = t.rows;
        e.row_bytes = t.row_bytes;
        e.table_bytes = t.bytes();
        const auto share = [&](uint64_t budget, uint64_t total) -> uint64_t {
            if (total == 0) return 0;
            if (budget >= total) return e.table_bytes;
            return (uint64_t)((unsigned __int128)budget * e.table_bytes / total);
        };
        e.dram_rows = std::min<uint64_t>(t.rows, share(engram_dram, tables_total) / t.row_bytes);
        e.dram_bytes = e.dram_rows * t.row_bytes;
        e.ssd_bytes = e.table_bytes - e.dram_bytes;
        if (e.device != "cpu") {
            // The backend holds at least the rows one batch reads (its cache is
            // also where a batch's rows land).
            const uint64_t batch_rows =
                std::min<uint64_t>(t.rows, (uint64_t)std::max<int64_t>(in.b.n_batch, 1) * m.engram_rows_per_token());
            e.vram_cache_rows =
                std::min<uint64_t>(t.rows, std::max(batch_rows, share(vram_cache, gpu_tables_total) / t.row_bytes));
            e.vram_cache_bytes = e.vram_cache_rows * t.row_bytes;
        }
        // The hottest rows are cached (W-TinyLFU approximates that); the VRAM
        // cache is a copy of the hottest of the DRAM-or-file rows.
        const double h_v = zipf_hit_rate(e.vram_cache_rows, t.rows);
        const double h_d = zipf_hit_rate(std::max(e.dram_rows, e.vram_cache_rows), t.rows);
        e.vram_hit_rate = h_v;
        e.dram_hit_rate = std::max(0.0, h_d - h_v);
        e.ssd_read_rate = std::max(0.0, 1.0 - h_d);
        vram_row_bytes += rows_per_token * e.vram_hit_rate * (double)t.row_bytes;
        dram_row_bytes += rows_per_token * e.dram_hit_rate * (double)t.row_bytes;
        ssd_row_reads += rows_per_token * e.ssd_read_rate;
        if (e.device != "cpu")
            pcie_row_bytes += rows_per_token * (e.dram_hit_rate + e.ssd_read_rate) * (double)t.row_bytes;
        p.dram.engram_bytes += e.dram_bytes;
        p.ssd.engram_bytes += e.ssd_bytes;
        p.vram.engram_bytes += e.vram_cache_bytes;
        p.engram.push_back(std::move(e));
    }

    // Bytes read per decoded token, priced per tier.
    pr.vram_bytes = gpu_used ? gpu_block_bytes + head_bytes + (uint64_t)k * kv_read_block + (uint64_t)vram_row_bytes : 0;
    pr.dram_bytes = mapped_cpu_weights - overflow_read + (uint64_t)(m.n_layer - k) * kv_read_block + m.token_row_bytes +
                    (uint64_t)dram_row_bytes;
    pr.ssd_bytes = overflow_read + expert_ssd_read + (uint64_t)std::llround(ssd_row_reads * (double)kSsdReadUnitBytes);
    if (gpu_used) {
        pr.pcie_crossings = 2;  // x up once, logits down once
        pr.pcie_bytes = (uint64_t)m.n_embd * 4 + (uint64_t)m.n_vocab * 4 + (uint64_t)pcie_row_bytes;
    }
    pr.vram_s = gpu_used ? (double)pr.vram_bytes / (in.vram_bw * 1e9) : 0;
    // The CPU reads its share at memory speed, except where a matrix's
    // kernels are slower than that (a model its caches hold); each product
    // also pays for waking the threads.
    // From DRAM the matrices come at the rate the kernels stream them.
    // (The set the caches would have to hold: all the experts, not one token's.)
    const uint64_t cpu_set = mapped_cpu_held + (uint64_t)(m.n_layer - k) * kv_read_block;
    const double cpu_bw = cpu_read_GBps(in, cpu_set);
    const bool from_dram = !fits_llc(in, cpu_set);
    pr.dram_s = (double)pr.dram_bytes / (cpu_bw * 1e9);
    for (const ModelInfo::CpuMatrix* mat : cpu_matrices) {
        const double mem_s = (double)mat->bytes / (cpu_bw * 1e9);
        const double stream_s = from_dram ? (double)mat->bytes / (stream_GBps(in, mat->type, cpu_bw) * 1e9) : mem_s;
        pr.cpu_compute_s += std::max(0.0, std::max(stream_s, matvec_s(in, *mat)) - mem_s);
    }
    if (in.threads > 1) pr.cpu_compute_s += (double)cpu_calls * in.hw.cpu_matvec_call_us * 1e-6;
    // Attention of the CPU's blocks: the arithmetic beyond reading the KV.
    const uint64_t cpu_kv_bytes = (uint64_t)(m.n_layer - k) * kv_read_block;
    pr.cpu_compute_s += std::max(
        0.0, attention_s(in, pr.kv_tokens, m.n_layer - k, from_dram) - (double)cpu_kv_bytes / (cpu_bw * 1e9));
    pr.ssd_s = (double)pr.ssd_bytes / (in.ssd_bw * 1e9);
    pr.pcie_s = gpu_used ? (double)pr.pcie_bytes / (in.h2d_bw * 1e9) + (double)pr.pcie_crossings * kPcieLatencyUs * 1e-6
                         : 0;
    const double total_s = pr.vram_s + pr.dram_s + pr.cpu_compute_s + pr.ssd_s + pr.pcie_s;
    pr.decode_tokens_per_s = total_s > 0 ? 1.0 / total_s : 0;
    return p;
}

std::string gib(uint64_t bytes) { return format_bytes(bytes); }

void explain(const Inputs& in, Placement& p) {
    const ModelInfo& m = in.m;
    const Budgets& b = in.b;
    const uint64_t kv_block = m.kv_bytes_per_block(in.n_ctx);
    const std::string n_blocks = std::to_string(m.n_layer);
    if (in.hw.gpus.empty()) {
        p.problems.push_back(b.vram_bytes > 0 ? "no GPU: the VRAM budget of " + gib(b.vram_bytes) +
                                                    " is ignored, all " + n_blocks + " blocks run on the CPU"
                                              : "no GPU: all " + n_blocks + " blocks run on the CPU");
    } else {
        const GpuHardware& g = in.hw.gpus[0];
        if (b.vram_bytes > g.vram_free_bytes)
            p.problems.push_back("the VRAM budget of " + gib(b.vram_bytes) + " is more than the " +
                                 gib(g.vram_free_bytes) + " free on " + g.name + ": the plan uses " +
                                 gib(g.vram_free_bytes));
        const uint64_t head = m.output_bytes + m.output_norm_bytes;
        const uint64_t scratch = scratch_bytes(m, b.n_batch, true);
        if (in.vram_avail > 0 && head + scratch > in.vram_avail) {
            p.problems.push_back("the VRAM budget of " + gib(in.vram_avail) + " cannot hold the output head (" +
                                 gib(head) + ") and the GPU scratch (" + gib(scratch) + "): all " + n_blocks +
                                 " blocks run on the CPU");
        } else if (in.vram_avail > 0) {
            const int64_t fit = max_gpu_blocks(in, true);
            const int64_t fit_no_kv = max_gpu_blocks(in, false);
            if (m.n_expert > 0) {
                p.notes.push_back("the mixture-of-experts blocks run on the CPU: the CUDA backend does not run "
                                  "experts yet");
            } else if (fit < m.n_layer) {
                const uint64_t avg_w = m.blocks_bytes() / (uint64_t)m.n_layer;
                p.problems.push_back("the VRAM budget of " + gib(in.vram_avail) + " holds " + std::to_string(fit) +
                                     " of " + n_blocks + " blocks (each about " + gib(avg_w) + " of weights and " +
                                     gib(kv_block) + " of KV cache at " + std::to_string(in.n_ctx) +
                                     " tokens, beside the output head and scratch); the other " +
                                     std::to_string(m.n_layer - fit) + " run on the CPU");
            }
            if (fit_no_kv > fit) {
                const uint64_t weights_need = gpu_need(in, fit_no_kv, false);
                p.problems.push_back("the KV cache of " + std::to_string(in.n_ctx) + " tokens needs " +
                                     gib((uint64_t)fit_no_kv * kv_block) + " of VRAM for " +
                                     std::to_string(fit_no_kv) + " blocks but only " +
                                     gib(sat_sub(in.vram_avail, weights_need)) + " is left after their weights: " +
                                     std::to_string(fit_no_kv - fit) +
                                     " of them run on the CPU (a shorter --ctx keeps them on the GPU)");
            }
        }
    }
    if (p.ssd.weights_bytes > 0) {
        const uint64_t need = p.dram.bytes() + p.ssd.weights_bytes;
        p.problems.push_back("the model needs " + gib(need) + " of DRAM for its CPU blocks (weights, KV cache and "
                             "scratch) but only " + gib(p.dram.capacity_bytes) + " is free: " +
                             gib(p.ssd.weights_bytes) + " of weights would be read again from the SSD for every token");
        if (p.dram.kv_bytes + p.dram.scratch_bytes > p.dram.capacity_bytes)
            p.problems.push_back("the KV cache and scratch of the CPU blocks alone (" +
                                 gib(p.dram.kv_bytes + p.dram.scratch_bytes) + ") are more than the " +
                                 gib(p.dram.capacity_bytes) + " of free DRAM: the system would swap");
    }
    const uint64_t tables = m.engram_table_bytes();
    if (tables > 0) {
        const uint64_t wanted = std::min(b.engram_dram_bytes, tables);
        if (p.dram.engram_bytes + p.dram.engram_bytes / 64 + (1ull << 20) < wanted)
            p.problems.push_back("the Engram DRAM budget of " + gib(b.engram_dram_bytes) + " is more than the " +
                                 gib(sat_sub(p.dram.capacity_bytes, p.dram.bytes() - p.dram.engram_bytes)) +
                                 " of DRAM left beside the model: " + gib(p.dram.engram_bytes) + " of the " +
                                 gib(tables) + " of Engram tables stay resident, the rest is read from the SSD");
    }
    if (in.n_ctx > m.n_ctx_train)
        p.problems.push_back("the context of " + std::to_string(in.n_ctx) + " tokens is longer than the " +
                             std::to_string(m.n_ctx_train) + " the model was trained for");

    const auto note_default = [&](double given, double def, const char* what) {
        if (!(given > 0)) {
            char buf[160];
            std::snprintf(buf, sizeof buf, "%s not measured: %.1f GB/s assumed", what, def);
            p.notes.emplace_back(buf);
        }
    };
    note_default(in.hw.dram_read_GBps, kDefaultDramReadGBps, "DRAM read bandwidth");
    if (in.hw.dram_free_bytes == 0) p.notes.push_back("free DRAM unknown: the plan does not check what fits in it");
    if (tables > 0) note_default(in.hw.ssd_read_GBps, kDefaultSsdReadGBps, "SSD 4 KiB random-read rate");
    if (!in.hw.gpus.empty()) {
        note_default(in.hw.gpus[0].h2d_GBps, kDefaultH2dGBps, "host-to-device bandwidth");
        note_default(in.hw.gpus[0].vram_read_GBps, kDefaultVramReadGBps, "VRAM read bandwidth");
    }
    p.notes.push_back("decode predicted with " + std::to_string(p.predicted.kv_tokens) +
                      " tokens of context read per step (half of --ctx: the average over a full window)");
    if (tables > 0)
        p.notes.push_back("Engram hit rates: row popularity taken as Zipf with exponent 1 (hit rate of the c hottest "
                          "of N rows = H(c)/H(N)); the DRAM cache is taken to hold the hottest rows, which W-TinyLFU "
                          "approximates; the VRAM hot-row cache is a copy of the hottest rows of its tables; each "
                          "row missed is a 4 KiB read from the file");
    if (in.hw.cpu_matvec.empty())
        p.notes.push_back("the CPU's kernel rates were not measured: its decode is priced by memory bandwidth alone");
    else if (p.predicted.cpu_compute_s > p.predicted.dram_s)
        p.notes.push_back("the CPU's share of a step is bound by its kernels more than by memory (the weights it "
                          "reads fit its caches, or its kernels are slower than its memory)");
    const double step_s =
        p.predicted.vram_s + p.predicted.dram_s + p.predicted.cpu_compute_s + p.predicted.ssd_s + p.predicted.pcie_s;
    if (step_s < 2e-3)
        p.notes.push_back("under ~2 ms per token, kernel launches and synchronisation rather than bandwidth bound a "
                          "decode step: expect less than predicted");
    if (p.output_copies_token_table)
        p.notes.push_back("the output head is tied to the token table: VRAM holds a copy, the table stays in DRAM "
                          "for the lookup");
}

}  // namespace

double zipf_hit_rate(uint64_t cached, uint64_t rows) {
    if (rows == 0 || cached == 0) return 0;
    if (cached >= rows) return 1;
    return std::clamp(harmonic(cached) / harmonic(rows), 0.0, 1.0);
}

Placement plan(const ModelInfo& m, const Hardware& hw, const Budgets& b) {
    Inputs in{m, hw, b, std::max<int64_t>(1, b.n_ctx), 0, 0, 0, 0, 0, 1};
    in.threads = b.n_threads > 0 ? b.n_threads : std::max(1, hw.cpu_threads);
    in.dram_bw = hw.dram_read_GBps > 0 ? at_threads(hw.dram_read_1t_GBps, hw.dram_read_GBps, in.threads, hw.cpu_threads)
                                       : kDefaultDramReadGBps;
    in.ssd_bw = hw.ssd_read_GBps > 0 ? hw.ssd_read_GBps : kDefaultSsdReadGBps;
    in.h2d_bw = kDefaultH2dGBps;
    in.vram_bw = kDefaultVramReadGBps;
    if (!hw.gpus.empty()) {
        const GpuHardware& g = hw.gpus[0];
        in.vram_avail = std::min(b.vram_bytes, g.vram_free_bytes);
        if (g.h2d_GBps > 0) in.h2d_bw = g.h2d_GBps;
        if (g.vram_read_GBps > 0) in.vram_bw = g.vram_read_GBps;
    }
    const bool shape_ok = m.n_layer > 0 && (int64_t)m.block_weight_bytes.size() == m.n_layer;
    if (!shape_ok) {
        Placement p;
        p.problems.push_back("the model description has " + std::to_string(m.block_weight_bytes.size()) +
                             " block sizes for " + std::to_string(m.n_layer) + " blocks: nothing can be planned");
        return p;
    }

    Placement best = evaluate(in, 0, false);
    const int64_t fit = hw.gpus.empty() ? -1 : max_gpu_blocks(in, true);
    for (int64_t k = 0; k <= fit; ++k) {
        Placement c = evaluate(in, k, true);
        // >=: on a tie the candidate with more on the GPU wins.
        if (c.predicted.decode_tokens_per_s >= best.predicted.decode_tokens_per_s) best = std::move(c);
    }
    explain(in, best);
    return best;
}

namespace {

nlohmann::json tier_json(const TierUsage& t) {
    return {{"bytes", t.bytes()},
            {"capacity_bytes", t.capacity_bytes},
            {"by_category",
             {{"weights", t.weights_bytes},
              {"kv", t.kv_bytes},
              {"engram", t.engram_bytes},
              {"experts", t.expert_bytes},
              {"scratch", t.scratch_bytes}}}};
}

}  // namespace

nlohmann::json to_json(const Placement& p) {
    nlohmann::json j;
    j["blocks"] = nlohmann::json::array();
    for (const auto& bp : p.blocks) j["blocks"].push_back({{"index", bp.index}, {"device", bp.device}});
    j["n_gpu_blocks"] = p.n_gpu_blocks;
    j["output"] = {{"device", p.output_device}, {"copies_token_table", p.output_copies_token_table}};
    j["cpu_packed_extra_bytes"] = p.cpu_packed_extra_bytes;
    j["kv"] = nlohmann::json::array();
    for (const auto& kv : p.kv) j["kv"].push_back({{"device", kv.device}, {"blocks", kv.n_blocks}, {"bytes", kv.kv_bytes}});
    j["tiers"] = {{"vram", tier_json(p.vram)}, {"dram", tier_json(p.dram)}, {"ssd", tier_json(p.ssd)}};
    nlohmann::json tables = nlohmann::json::array();
    for (const auto& e : p.engram)
        tables.push_back({{"layer", e.layer},
                          {"tensor", e.tensor},
                          {"device", e.device},
                          {"rows", e.rows},
                          {"row_bytes", e.row_bytes},
                          {"table_bytes", e.table_bytes},
                          {"dram_rows", e.dram_rows},
                          {"dram_bytes", e.dram_bytes},
                          {"ssd_bytes", e.ssd_bytes},
                          {"vram_cache_rows", e.vram_cache_rows},
                          {"vram_cache_bytes", e.vram_cache_bytes},
                          {"hit_rates", {{"vram", e.vram_hit_rate}, {"dram", e.dram_hit_rate}, {"ssd", e.ssd_read_rate}}}});
    j["engram"] = {{"tables", tables},
                   {"dram_bytes", p.dram.engram_bytes},
                   {"ssd_bytes", p.ssd.engram_bytes},
                   {"vram_cache_bytes", p.vram.engram_bytes},
                   {"hit_model", "zipf"},
                   {"zipf_exponent", kZipfExponent}};
    j["experts"] = {{"bytes", p.experts.total_bytes},
                    {"dram_bytes", p.experts.dram_bytes},
                    {"ssd_bytes", p.experts.ssd_bytes},
                    {"dram_hit_rate", p.experts.dram_hit_rate},
                    {"hit_model", "even routing"}};
    const Prediction& pr = p.predicted;
    j["predicted"] = {
        {"decode_tokens_per_s", pr.decode_tokens_per_s},
        {"kv_tokens", pr.kv_tokens},
        {"bytes_per_token", {{"vram", pr.vram_bytes}, {"dram", pr.dram_bytes}, {"ssd", pr.ssd_bytes}, {"pcie", pr.pcie_bytes}}},
        {"seconds_per_token",
         {{"vram", pr.vram_s}, {"dram", pr.dram_s}, {"cpu_compute", pr.cpu_compute_s}, {"ssd", pr.ssd_s}, {"pcie", pr.pcie_s}}},
        {"pcie_crossings", pr.pcie_crossings},
        {"bandwidth_GBps",
         {{"vram", p.vram_read_GBps}, {"dram", p.dram_read_GBps}, {"ssd", p.ssd_read_GBps}, {"pcie", p.h2d_GBps}}}};
    j["problems"] = p.problems;
    j["notes"] = p.notes;
    return j;
}

nlohmann::json to_json(const Hardware& hw) {
    nlohmann::json g = nlohmann::json::array();
    for (const auto& x : hw.gpus)
        g.push_back({{"name", x.name},
                     {"vram_total_bytes", x.vram_total_bytes},
                     {"vram_free_bytes", x.vram_free_bytes},
                     {"h2d_GBps", x.h2d_GBps},
                     {"vram_read_GBps", x.vram_read_GBps},
                     {"compute_capability", std::to_string(x.cc_major) + "." + std::to_string(x.cc_minor)}});
    nlohmann::json k = nlohmann::json::array();
    for (const auto& r : hw.cpu_matvec)
        k.push_back({{"type", std::string(type_name(r.type))},
                     {"GBps_1t", r.GBps_1t},
                     {"GBps_all", r.GBps_all},
                     {"stream_GBps_1t", r.stream_GBps_1t},
                     {"stream_GBps_all", r.stream_GBps_all}});
    return {{"dram_total_bytes", hw.dram_total_bytes},
            {"dram_free_bytes", hw.dram_free_bytes},
            {"dram_read_GBps", hw.dram_read_GBps},
            {"dram_read_1t_GBps", hw.dram_read_1t_GBps},
            {"cpu_threads", hw.cpu_threads},
            {"llc_bytes", hw.llc_bytes},
            {"llc_read_GBps", hw.llc_read_GBps},
            {"llc_read_1t_GBps", hw.llc_read_1t_GBps},
            {"cpu_matvec", k},
            {"cpu_matvec_call_us", hw.cpu_matvec_call_us},
            {"ssd_read_GBps", hw.ssd_read_GBps},
            {"gpus", g},
            {"notes", hw.notes}};
}

nlohmann::json to_json(const ModelInfo& m) {
    nlohmann::json t = nlohmann::json::array();
    for (const auto& e : m.engram_tables)
        t.push_back({{"layer", e.layer}, {"tensor", e.tensor}, {"rows", e.rows}, {"row_bytes", e.row_bytes},
                     {"bytes", e.bytes()}});
    return {{"path", m.path},
            {"arch", m.arch},
            {"n_layer", m.n_layer},
            {"n_embd", m.n_embd},
            {"n_ff", m.n_ff},
            {"n_head", m.n_head},
            {"n_head_kv", m.n_head_kv},
            {"head_dim", m.head_dim},
            {"n_vocab", m.n_vocab},
            {"n_ctx_train", m.n_ctx_train},
            {"tied_output", m.tied_output},
            {"weights_bytes", m.weights_bytes()},
            {"blocks_bytes", m.blocks_bytes()},
            {"token_embd_bytes", m.token_embd_bytes},
            {"output_bytes", m.output_bytes},
            {"engram_tables", t},
            {"experts", m.n_expert ? nlohmann::json{{"count", m.n_expert},
                                                     {"used_per_token", m.n_expert_used},
                                                     {"bytes", m.expert_bytes()}}
                                   : nlohmann::json()},
            {"engram_rows_per_token_per_layer", m.engram_rows_per_token()}};
}

}  // namespace eg
