// The driver of the flash-style attention (attention_flash.h): work items
// are (query token, KV head) pairs, and a lone query over a long context
// (decode) is split by position into parts that run on different threads and
// are merged at the end, each rescaled to the largest maximum. Portable: the
// arithmetic on vectors is the per-ISA kernel's.
#include "cpu/attention_flash.h"

#include <algorithm>
#include <cmath>

#include "core/thread_pool.h"

namespace eg::flash {

namespace {
constexpr int64_t kMinSplit = 256;  // positions per part when one query is split

// Head h's sink in units of the running maximum m: exp(sink - m), or 0.
float sink_weight(const AttentionArgs& a, int64_t h, float m) { return a.sinks ? std::exp(a.sinks[h] - m) : 0.0f; }
}  // namespace

void run(const AttentionArgs& a, ThreadPool& pool, const Kernel& k) {
    const int64_t hd = a.head_dim, G = a.n_head / a.n_head_kv;
    const AttendFn fn = k.attend;
    // Parts per (token, KV head): one, unless a lone query would leave
    // threads idle over a long context.
    const int64_t n_ctx_used = a.pos0 + a.n_tok;
    int64_t parts = 1;
    if (a.n_tok == 1 && pool.size() > 1) {
        const int64_t want = (4 * pool.size() + a.n_head_kv - 1) / a.n_head_kv;
        parts = std::clamp<int64_t>(n_ctx_used / kMinSplit, 1, want);
    }
    const int64_t n_items = a.n_tok * a.n_head_kv * parts;
    // Partial results of split queries: per item G states and G x hd outputs.
    thread_local std::vector<float> partial;
    const int64_t per_item = G * (hd + 2);
    if (parts > 1 && (int64_t)partial.size() < n_items * per_item) partial.resize((size_t)(n_items * per_item));
    float* part = partial.data();

    const int n_chunks = (int)std::min<int64_t>(n_items, 4 * pool.size());
    pool.run(
        [&](int ci, int nc) {
            thread_local Scratch s;
            if ((int64_t)s.kf.size() < k.block * hd) {
                s.kf.resize(k.block * hd);
                s.vf.resize(k.block * hd);
            }
            if ((int64_t)s.q.size() < G * hd) s.q.resize(G * hd);
            thread_local std::vector<float> own;
            if ((int64_t)own.size() < per_item) own.resize(per_item);
            for (int64_t item = ci; item < n_items; item += nc) {
                const int64_t t = item / (a.n_head_kv * parts), g = (item / parts) % a.n_head_kv, pi = item % parts;
                const int64_t n_valid = a.pos0 + t + 1;
                const int64_t first = a.window > 0 ? std::max<int64_t>(0, n_valid - a.window) : 0;
                const int64_t per = (n_valid - first + parts - 1) / parts;
                const int64_t j0 = std::min(n_valid, first + pi * per), j1 = std::min(n_valid, j0 + per);
                float* buf = parts > 1 ? part + item * per_item : own.data();
                HeadState* st = (HeadState*)buf;
                float* o = buf + 2 * G;
                for (int64_t h = 0; h < G; ++h) st[h] = {-INFINITY, 0.0f};
                std::fill(o, o + G * hd, 0.0f);
                if (j0 < j1) fn(a, t, g, j0, j1, st, o, s);
                if (parts > 1) continue;
                for (int64_t h = 0; h < G; ++h) {
                    float* out = a.out + (t * a.n_head + g * G + h) * hd;
                    const float inv = 1.0f / (st[h].l + sink_weight(a, g * G + h, st[h].m));
                    for (int64_t d = 0; d < hd; ++d) out[d] = o[h * hd + d] * inv;
                }
            }
        },
        n_chunks);
    if (parts == 1) return;
    // Merge the parts of each (token, KV head): rescale to the largest maximum.
    for (int64_t tg = 0; tg < a.n_tok * a.n_head_kv; ++tg) {
        const int64_t t = tg / a.n_head_kv, g = tg % a.n_head_kv;
        for (int64_t h = 0; h < G; ++h) {
            float m = -INFINITY;
            for (int64_t pi = 0; pi < parts; ++pi) m = std::max(m, ((HeadState*)(part + (tg * parts + pi) * per_item))[h].m);
            float* out = a.out + (t * a.n_head + g * G + h) * hd;
            std::fill(out, out + hd, 0.0f);
            float l = 0;
            for (int64_t pi = 0; pi < parts; ++pi) {
                const float* buf = part + (tg * parts + pi) * per_item;
                const HeadState& hs = ((const HeadState*)buf)[h];
                if (hs.l == 0) continue;  // an empty part
                const float c = std::exp(hs.m - m);
                l += hs.l * c;
                const float* o = buf + 2 * G + h * hd;
                for (int64_t d = 0; d < hd; ++d) out[d] += o[d] * c;
            }
            const float inv = 1.0f / (l + sink_weight(a, g * G + h, m));
            for (int64_t d = 0; d < hd; ++d) out[d] *= inv;
        }
    }
}

}  // namespace eg::flash
