// Every device operation of the decoder, on each backend (the CPU always; the
// CUDA kernels when cuda_probe() finds a GPU, else those rows are skipped
// with the reason), against a reference computed here in double precision on
// fresh seeded random data (never zeros). Weights are random floats
// quantized with the engine's own quantizers (random blocks for the types
// without one); the reference multiplies the dequantized weights, so the
// bounds only cover each backend's arithmetic.
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "backend/gpu.h"
#include "core/fp16.h"
#include "core/thread_pool.h"
#include "cpu/matmul.h"
#include "cpu/ops.h"
#include "cuda/cuda_ops.h"
#include "cuda/quant_blocks.h"
#include "model/decoder.h"
#include "model/model.h"
#include "quant/kernels.h"

using namespace eg;

Q_DECLARE_METATYPE(GgmlType)

namespace {

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) {
        x = nd(rng);
        if (x == 0.0f) x = 1e-3f;
    }
    return v;
}

// A random weight [n, k] quantized to t, row by row, with its dequantized
// floats (what every backend multiplies, up to its own rounding).
struct QWeight {
    std::vector<uint8_t> bytes;
    std::vector<float> deq;
    WeightView view;
};

// Random blocks of a type without a quantizer here (the grid i-quants and
// the ternary types): every byte random, which is a valid block (each index
// names a grid entry), except the f16 scale, set to a random finite value
// in [2^-7, 2^-4) so no value is NaN or infinite.
void random_blocks(GgmlType t, uint8_t* row, int64_t k, std::mt19937& rng) {
    const int64_t bb = type_traits(t)->block_bytes, nb = k / type_traits(t)->block_size;
    for (int64_t i = 0; i < nb * bb; ++i) row[i] = (uint8_t)rng();
    for (int64_t b = 0; b < nb; ++b) {
        uint8_t* blk = row + b * bb;
        const uint16_t d = (uint16_t)(0x2000 | (rng() & 0x0fff));  // exponent 8..11: 2^-7 .. 2^-4
        if (t == GgmlType::IQ1_M) {  // d is the top nibbles of the four scale words at byte 48
            for (int i = 0; i < 4; ++i) {
                uint8_t& hi = blk[48 + 2 * i + 1];
                hi = (uint8_t)((hi & 0x0f) | (((d >> (4 * i)) & 0x0f) << 4));
            }
        } else {
            const int64_t at = t == GgmlType::TQ1_0 ? 52 : t == GgmlType::TQ2_0 ? 64 : 0;
            blk[at] = (uint8_t)d, blk[at + 1] = (uint8_t)(d >> 8);
        }
    }
}

QWeight make_weight(GgmlType t, int64_t n, int64_t k, uint32_t seed) {
    QWeight w;
    const TypeKernels* kk = kernels_for(t);
    const int64_t rb = row_bytes(t, k);
    const std::vector<float> src = randn((size_t)(n * k), seed, 0.5f);
    std::mt19937 rng(seed);
    w.bytes.assign((size_t)(n * rb), 0);
    w.deq.assign((size_t)(n * k), 0);
    for (int64_t r = 0; r < n; ++r) {
        if (kk->quantize) kk->quantize(src.data() + r * k, w.bytes.data() + r * rb, k);
        else random_blocks(t, w.bytes.data() + r * rb, k, rng);
        kk->dequantize(w.bytes.data() + r * rb, w.deq.data() + r * k, k);
    }
    w.view = WeightView{t, k, n, w.bytes.data(), rb};
    return w;
}

// Every type the CUDA kernels read (cuda/quant_blocks.h's chunk32).
const GgmlType kGpuTypes[] = {
    GgmlType::F32,    GgmlType::F16,    GgmlType::BF16,    GgmlType::Q4_0,   GgmlType::Q4_1,  GgmlType::Q5_0,
    GgmlType::Q5_1,   GgmlType::Q8_0,   GgmlType::Q2_K,    GgmlType::Q3_K,   GgmlType::Q4_K,  GgmlType::Q5_K,
    GgmlType::Q6_K,   GgmlType::IQ4_NL, GgmlType::IQ4_XS,  GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ2_S,
    GgmlType::IQ3_XXS, GgmlType::IQ3_S, GgmlType::IQ1_S,   GgmlType::IQ1_M,  GgmlType::TQ1_0, GgmlType::TQ2_0};

bool is_cuda(const QString& backend) { return backend.startsWith("cuda"); }

// Skips the calling row when it is a CUDA row and there is no GPU.
#define SKIP_WITHOUT_GPU(backend)                                                                   \
    do {                                                                                            \
        if (is_cuda(backend)) {                                                                     \
            std::string why;                                                                        \
            if (cuda_probe(false, &why).empty()) QSKIP(qPrintable("no CUDA device: " + QString::fromStdString(why))); \
        }                                                                                           \
    } while (0)

#define VERIFY_OK(st) QVERIFY2((st).ok(), (st).ok() ? "" : (st).message().c_str())

void add_backend_rows(const char* what) {
    QTest::addColumn<QString>("backend");
    QTest::newRow(qPrintable(QString("cpu %1").arg(what))) << QString("cpu");
    QTest::newRow(qPrintable(QString("cuda:0 %1").arg(what))) << QString("cuda:0");
}

double max_abs(const std::vector<float>& v) {
    double m = 0;
    for (float x : v) m = std::max(m, (double)std::fabs(x));
    return m;
}

}  // namespace

class TestBackendOps : public QObject {
    Q_OBJECT
    ThreadPool pool_{2};

private slots:
    void probe_says_why() {
        std::string why;
        const auto gpus = cuda_probe(false, &why);
        if (gpus.empty()) {
            QVERIFY2(!why.empty(), "an empty probe must say why");
        } else {
            // With a GPU: the measured copy rates too (scripts/device-check.sh
            // reads this line for its bandwidth fractions).
            for (const GpuInfo& g : cuda_probe(true, &why)) {
                QVERIFY(!g.name.empty());
                QVERIFY(g.vram_total > 0 && g.vram_free <= g.vram_total);
                QVERIFY(g.h2d_GBps > 0 && g.vram_read_GBps > 0);
                qInfo("gpu %d: %s, cc %d.%d, %.1f GiB, device copy %.1f GB/s, host->device %.1f GB/s", g.index,
                      g.name.c_str(), g.cc_major, g.cc_minor, (double)g.vram_total / (1u << 30), g.vram_read_GBps,
                      g.h2d_GBps);
            }
        }
        if (!gpu_plugin().loaded) {  // no plugin loaded: the loader's sentence
            QVERIFY(gpus.empty());
            QCOMPARE(why, gpu_plugin().why_not);
            QVERIFY2(why.find("GPU plugin") != std::string::npos, why.c_str());
        }
    }

    // The block decoding the CUDA kernels use (cuda/quant_blocks.h, the same
    // source compiled for the host here): every 32-value chunk of every type
    // gives exactly dequant.cpp's floats. Runs everywhere, GPU or not, so a
    // wrong offset in any block layout fails CI.
    void device_block_decoding_is_exact_data() {
        QTest::addColumn<GgmlType>("type");
        for (GgmlType t : kGpuTypes) QTest::newRow(std::string(type_name((uint32_t)t)).c_str()) << t;
    }
    void device_block_decoding_is_exact() {
        QFETCH(GgmlType, type);
        QVERIFY(cuda::chunk32_supported(type));
        const int64_t n = 7, k = 1280;
        const QWeight w = make_weight(type, n, k, 40 + (uint32_t)type);
        std::vector<float> got((size_t)k);
        for (int64_t r = 0; r < n; ++r) {
            cuda::decode_row_by_chunks(type, w.bytes.data() + r * w.view.row_bytes, k, got.data());
            for (int64_t i = 0; i < k; ++i)
                QVERIFY2(got[i] == w.deq[r * k + i],
                         qPrintable(QString("row %1 [%2]: %3 vs %4").arg(r).arg(i).arg(got[i]).arg(w.deq[r * k + i])));
        }
        QVERIFY(!cuda::chunk32_supported(GgmlType::MXFP4));
    }

    // Mean of squares summed in double by both: only the final scaling
    // differs by rounding, so 1e-5 relative to the row's largest output.
    void rms_norm_data() { add_backend_rows("rms_norm"); }
    void rms_norm() {
        QFETCH(QString, backend);
        SKIP_WITHOUT_GPU(backend);
        const int64_t rows = 5, n = 576;
        const auto x = randn(rows * n, 1, 3.0f), w = randn(n, 2);
        std::vector<float> y(rows * n);
        if (is_cuda(backend)) {
            VERIFY_OK(cuda_ops::rms_norm(0, x.data(), w.data(), y.data(), rows, n, 1e-5f));
        } else {
            for (int64_t r = 0; r < rows; ++r) eg::rms_norm(x.data() + r * n, w.data(), y.data() + r * n, n, 1e-5f);
        }
        for (int64_t r = 0; r < rows; ++r) {
            double ss = 0;
            for (int64_t i = 0; i < n; ++i) ss += (double)x[r * n + i] * x[r * n + i];
            const double sc = 1.0 / std::sqrt(ss / n + 1e-5);
            for (int64_t i = 0; i < n; ++i) {
                const double ref = x[r * n + i] * sc * w[i];
                QVERIFY2(std::fabs(y[r * n + i] - ref) <= 1e-5 * (1 + std::fabs(ref)),
                         qPrintable(QString("row %1 [%2]: %3 vs %4").arg(r).arg(i).arg(y[r * n + i]).arg(ref)));
            }
        }
    }

    // Angles from repeated float multiplication (both backends, as ggml):
    // relative angle error about i ulps, times pos * base^(-2i/n) <= 200:
    // under 1e-4 rad at these positions, so 2e-4 times the head's largest value.
    void rope_data() {
        QTest::addColumn<QString>("backend");
        QTest::addColumn<bool>("neox");
        QTest::addColumn<bool>("factors");
        QTest::addColumn<bool>("qk_norm");
        for (const char* b : {"cpu", "cuda:0"}) {
            QTest::newRow(qPrintable(QString("%1 normal").arg(b))) << QString(b) << false << false << false;
            QTest::newRow(qPrintable(QString("%1 neox").arg(b))) << QString(b) << true << false << false;
            QTest::newRow(qPrintable(QString("%1 llama3 factors").arg(b))) << QString(b) << false << true << false;
            QTest::newRow(qPrintable(QString("%1 neox + qk norm").arg(b))) << QString(b) << true << false << true;
        }
    }
    void rope() {
        QFETCH(QString, backend);
        QFETCH(bool, neox);
        QFETCH(bool, factors);
        QFETCH(bool, qk_norm);
        SKIP_WITHOUT_GPU(backend);
        const int64_t n_tok = 3, n_heads = 4, hd = 64, pos0 = 197;
        auto x = randn(n_tok * n_heads * hd, 3);
        const auto x0 = x;
        std::vector<float> ff = randn(hd / 2, 4);
        for (float& f : ff) f = 1.0f + std::fabs(f);
        const auto nw = randn(hd, 5);
        RopeTable rt{hd, 10000.0f, 0.5f, factors ? ff.data() : nullptr};
        const RopeType type = neox ? RopeType::NeoX : RopeType::Normal;
        if (is_cuda(backend)) {
            VERIFY_OK(cuda_ops::rope(0, x.data(), n_tok, n_heads, hd, pos0, rt, type, qk_norm ? nw.data() : nullptr,
                                     1e-6f));
        } else {
            for (int64_t t = 0; t < n_tok; ++t)
                for (int64_t h = 0; h < n_heads; ++h) {
                    float* p = x.data() + (t * n_heads + h) * hd;
                    if (qk_norm) eg::rms_norm(p, nw.data(), p, hd, 1e-6f);
                    rope_head(p, hd, pos0 + t, rt, type);
                }
        }
        for (int64_t t = 0; t < n_tok; ++t)
            for (int64_t h = 0; h < n_heads; ++h) {
                std::vector<double> v(hd);
                const float* s = x0.data() + (t * n_heads + h) * hd;
                double ss = 0;
                for (int64_t i = 0; i < hd; ++i) ss += (double)s[i] * s[i];
                const double sc = 1.0 / std::sqrt(ss / hd + 1e-6);
                for (int64_t i = 0; i < hd; ++i) v[i] = qk_norm ? s[i] * sc * nw[i] : s[i];
                double amax = 0;
                for (double d : v) amax = std::max(amax, std::fabs(d));
                for (int64_t i = 0; i < hd / 2; ++i) {
                    const double th = (double)(pos0 + t) * std::pow(10000.0, -2.0 * i / hd) /
                                      (factors ? ff[i] : 1.0) * 0.5;
                    const int64_t a = neox ? i : 2 * i, b = neox ? i + hd / 2 : 2 * i + 1;
                    const double ra = v[a] * std::cos(th) - v[b] * std::sin(th);
                    const double rb = v[a] * std::sin(th) + v[b] * std::cos(th);
                    const float* o = x.data() + (t * n_heads + h) * hd;
                    QVERIFY2(std::fabs(o[a] - ra) <= 2e-4 * amax && std::fabs(o[b] - rb) <= 2e-4 * amax,
                             qPrintable(QString("t %1 head %2 pair %3: (%4, %5) vs (%6, %7)")
                                            .arg(t).arg(h).arg(i).arg(o[a]).arg(o[b]).arg(ra).arg(rb)));
                }
            }
    }

    // expf vs exp in double: a few ulps, 1e-5 relative.
    void silu_mul_data() { add_backend_rows("silu_mul"); }
    void silu_mul() {
        QFETCH(QString, backend);
        SKIP_WITHOUT_GPU(backend);
        const int64_t n = 1000;
        const auto g = randn(n, 6, 4.0f), u = randn(n, 7);
        std::vector<float> h(n);
        if (is_cuda(backend)) VERIFY_OK(cuda_ops::silu_mul(0, g.data(), u.data(), h.data(), n));
        else eg::silu_mul(g.data(), u.data(), h.data(), n);
        for (int64_t i = 0; i < n; ++i) {
            const double ref = g[i] / (1.0 + std::exp(-(double)g[i])) * u[i];
            QVERIFY2(std::fabs(h[i] - ref) <= 1e-5 * (1 + std::fabs(ref)),
                     qPrintable(QString("[%1]: %2 vs %3").arg(i).arg(h[i]).arg(ref)));
        }
    }

    // The CPU's softmax lives inside its attention (tested below); this is
    // the GPU's row softmax against double: 1e-6 absolute on values <= 1.
    void softmax_data() {
        QTest::addColumn<QString>("backend");
        QTest::newRow("cuda:0 softmax") << QString("cuda:0");
    }
    void softmax() {
        QFETCH(QString, backend);
        SKIP_WITHOUT_GPU(backend);
        const int64_t rows = 4, n = 1000;
        const auto x = randn(rows * n, 8, 3.0f);
        std::vector<float> y(rows * n);
        VERIFY_OK(cuda_ops::softmax(0, x.data(), y.data(), rows, n));
        for (int64_t r = 0; r < rows; ++r) {
            double mx = -1e30, s = 0;
            for (int64_t i = 0; i < n; ++i) mx = std::max(mx, (double)x[r * n + i]);
            for (int64_t i = 0; i < n; ++i) s += std::exp(x[r * n + i] - mx);
            for (int64_t i = 0; i < n; ++i) {
                const double ref = std::exp(x[r * n + i] - mx) / s;
                QVERIFY2(std::fabs(y[r * n + i] - ref) <= 1e-6, qPrintable(QString("row %1 [%2]").arg(r).arg(i)));
            }
        }
    }

    // Reference: softmax(q k / sqrt(d)) v in double over the F16 cache. The
    // CPU rounds q and the probabilities to F16 as llama.cpp does (relative
    // 2^-11 each, on outputs that are averages of N(0,1) values): 5e-3
    // absolute. The GPU keeps q and p in F32: only summation order, 1e-4.
    void attention_data() {
        QTest::addColumn<QString>("backend");
        QTest::addColumn<int>("n_tok");
        QTest::addColumn<int>("pos0");
        QTest::addColumn<int>("head_dim");
        for (const char* b : {"cpu", "cuda:0"}) {
            QTest::newRow(qPrintable(QString("%1 decode at 1").arg(b))) << QString(b) << 1 << 0 << 64;
            QTest::newRow(qPrintable(QString("%1 decode at 300 (2 splits)").arg(b))) << QString(b) << 1 << 299 << 64;
            QTest::newRow(qPrintable(QString("%1 decode hd 128 at 1000").arg(b))) << QString(b) << 1 << 999 << 128;
            QTest::newRow(qPrintable(QString("%1 prefill 37").arg(b))) << QString(b) << 37 << 0 << 64;
            QTest::newRow(qPrintable(QString("%1 prefill 40 after 290").arg(b))) << QString(b) << 40 << 290 << 128;
        }
    }
    void attention() {
        QFETCH(QString, backend);
        QFETCH(int, n_tok);
        QFETCH(int, pos0);
        QFETCH(int, head_dim);
        SKIP_WITHOUT_GPU(backend);
        const int64_t n_head = 6, n_head_kv = 2, hd = head_dim, n_kv = pos0 + n_tok;
        const int64_t QD = n_head * hd, KVD = n_head_kv * hd, n_ctx = n_kv + 7;
        const auto q = randn(n_tok * QD, 9);
        const auto kf = randn(n_ctx * KVD, 10), vf = randn(n_ctx * KVD, 11);
        std::vector<uint16_t> k(kf.size()), v(vf.size());
        for (size_t i = 0; i < kf.size(); ++i) k[i] = fp32_to_fp16(kf[i]), v[i] = fp32_to_fp16(vf[i]);
        std::vector<float> out(n_tok * QD), scores(2 * attention_scores_stride(n_ctx));
        AttentionArgs a{q.data(), k.data(), v.data(), out.data(), scores.data(), n_tok, pos0,
                        n_head, n_head_kv, hd, n_ctx, attention_scores_stride(n_ctx)};
        if (is_cuda(backend)) VERIFY_OK(cuda_ops::attention(0, a));
        else eg::attention(a, pool_);
        const double tol = is_cuda(backend) ? 1e-4 : 5e-3;
        for (int64_t t = 0; t < n_tok; ++t)
            for (int64_t h = 0; h < n_head; ++h) {
                const int64_t g = h / (n_head / n_head_kv), nv = pos0 + t + 1;
                std::vector<double> p(nv);
                double mx = -1e300, s = 0;
                for (int64_t j = 0; j < nv; ++j) {
                    double d = 0;
                    for (int64_t i = 0; i < hd; ++i)
                        d += (double)q[t * QD + h * hd + i] * fp16_to_fp32(k[j * KVD + g * hd + i]);
                    p[j] = d / std::sqrt((double)hd);
                    mx = std::max(mx, p[j]);
                }
                for (double& x : p) s += (x = std::exp(x - mx));
                for (int64_t i = 0; i < hd; ++i) {
                    double ref = 0;
                    for (int64_t j = 0; j < nv; ++j) ref += p[j] / s * fp16_to_fp32(v[j * KVD + g * hd + i]);
                    const float got = out[t * QD + h * hd + i];
                    QVERIFY2(std::fabs(got - ref) <= tol,
                             qPrintable(QString("t %1 head %2 [%3]: %4 vs %5").arg(t).arg(h).arg(i).arg(got).arg(ref)));
                }
            }
    }

    // A sliding window and attention sinks (gpt-oss), on the CPU (the CUDA
    // backend does not run them yet): the flash kernels of each instruction
    // set and the plain path, against the double-precision softmax over the
    // window's positions with exp(sink) in the denominator. Bound as above.
    void attention_window_sinks_data() {
        QTest::addColumn<QString>("path");
        QTest::addColumn<int>("n_tok");
        QTest::addColumn<int>("pos0");
        QTest::addColumn<int>("window");
        QTest::addColumn<bool>("sinks");
        for (const char* path : {"avx512", "avx2", "plain"}) {
            QTest::newRow(qPrintable(QString("%1 decode at 600, window 128, sinks").arg(path)))
                << QString(path) << 1 << 599 << 128 << true;
            QTest::newRow(qPrintable(QString("%1 prefill 40 after 20, window 16").arg(path)))
                << QString(path) << 40 << 20 << 16 << false;
            QTest::newRow(qPrintable(QString("%1 prefill 37, sinks").arg(path))) << QString(path) << 37 << 0 << 0 << true;
        }
    }
    void attention_window_sinks() {
        QFETCH(QString, path);
        QFETCH(int, n_tok);
        QFETCH(int, pos0);
        QFETCH(int, window);
        QFETCH(bool, sinks);
        const int64_t n_head = 6, n_head_kv = 2, hd = 64, n_kv = pos0 + n_tok;
        const int64_t QD = n_head * hd, KVD = n_head_kv * hd, n_ctx = n_kv + 7;
        const auto q = randn(n_tok * QD, 29);
        const auto kf = randn(n_ctx * KVD, 30), vf = randn(n_ctx * KVD, 31);
        const auto sink = randn(n_head, 32, 2.0f);
        std::vector<uint16_t> k(kf.size()), v(vf.size());
        for (size_t i = 0; i < kf.size(); ++i) k[i] = fp32_to_fp16(kf[i]), v[i] = fp32_to_fp16(vf[i]);
        std::vector<float> out(n_tok * QD), scores(2 * attention_scores_stride(n_ctx));
        AttentionArgs a{q.data(), k.data(), v.data(), out.data(), scores.data(), n_tok, pos0,
                        n_head, n_head_kv, hd, n_ctx, attention_scores_stride(n_ctx)};
        a.window = window;
        a.sinks = sinks ? sink.data() : nullptr;
        if (path == "plain") eg::attention_windowed(a, pool_);
        else if (!attention_flash(a, pool_, qPrintable(path))) QSKIP("this CPU has no such kernel");
        for (int64_t t = 0; t < n_tok; ++t)
            for (int64_t h = 0; h < n_head; ++h) {
                const int64_t g = h / (n_head / n_head_kv), last = pos0 + t;
                const int64_t first = window > 0 ? std::max<int64_t>(0, last + 1 - window) : 0;
                std::vector<double> p(last + 1 - first);
                double mx = sinks ? sink[h] : -1e300, s = 0;
                for (int64_t j = first; j <= last; ++j) {
                    double d = 0;
                    for (int64_t i = 0; i < hd; ++i)
                        d += (double)q[t * QD + h * hd + i] * fp16_to_fp32(k[j * KVD + g * hd + i]);
                    p[j - first] = d / std::sqrt((double)hd);
                    mx = std::max(mx, p[j - first]);
                }
                for (double& x : p) s += (x = std::exp(x - mx));
                if (sinks) s += std::exp(sink[h] - mx);
                for (int64_t i = 0; i < hd; ++i) {
                    double ref = 0;
                    for (int64_t j = first; j <= last; ++j) ref += p[j - first] / s * fp16_to_fp32(v[j * KVD + g * hd + i]);
                    const float got = out[t * QD + h * hd + i];
                    QVERIFY2(std::fabs(got - ref) <= 5e-3,
                             qPrintable(QString("t %1 head %2 [%3]: %4 vs %5").arg(t).arg(h).arg(i).arg(got).arg(ref)));
                }
            }
    }

    // One token times a quantized matrix. Reference: the dequantized weights
    // times x in double. GPU: F32 products and sums, 1e-5 of sum |w x|. CPU:
    // x quantized to the type's activation format (Q8_0/Q8_1/Q8_K: error at
    // most amax(block)/254 per value; F16: 2^-11 relative), so at most
    // sum |w| * amax(x) / 254, plus the GPU's float slack.
    void matvec_data() {
        QTest::addColumn<QString>("backend");
        QTest::addColumn<GgmlType>("type");
        for (const char* b : {"cpu", "cuda:0"})
            for (GgmlType t : kGpuTypes)
                QTest::newRow(qPrintable(QString("%1 %2").arg(b).arg(QString::fromUtf8(type_name((uint32_t)t).data(),
                                                                                      (int)type_name((uint32_t)t).size()))))
                    << QString(b) << t;
    }
    void matvec() {
        QFETCH(QString, backend);
        QFETCH(GgmlType, type);
        SKIP_WITHOUT_GPU(backend);
        const int64_t n = 93, k = 1536;
        const QWeight w = make_weight(type, n, k, 12 + (uint32_t)type);
        const auto x = randn(k, 13);
        std::vector<float> y(n);
        if (is_cuda(backend)) {
            VERIFY_OK(cuda_ops::matvec(0, w.view, x.data(), y.data()));
        } else {
            MatmulScratch s;
            s.reserve(MatmulScratch::bytes_needed(type, k, 1));
            eg::matmul(w.view, x.data(), 1, y.data(), pool_, s);
        }
        const double amax = max_abs(x);
        for (int64_t r = 0; r < n; ++r) {
            double ref = 0, mag = 0, wabs = 0;
            for (int64_t i = 0; i < k; ++i) {
                ref += (double)w.deq[r * k + i] * x[i];
                mag += std::fabs((double)w.deq[r * k + i] * x[i]);
                wabs += std::fabs(w.deq[r * k + i]);
            }
            const double tol = 1e-5 * mag + (is_cuda(backend) ? 0.0 : wabs * amax / 254.0);
            QVERIFY2(std::fabs(y[r] - ref) <= tol,
                     qPrintable(QString("row %1: %2 vs %3 (bound %4)").arg(r).arg(y[r]).arg(ref).arg(tol)));
        }
    }

    // Several tokens: the CPU's tiled matmul, the GPU's prefill path (F16
    // weights and activations into cublasGemmEx with F32 accumulation):
    // each factor rounded to F16 once (2^-11 relative each), so 2^-10 of
    // sum |w x| plus float slack; the CPU bound as in matvec.
    void gemm_data() {
        QTest::addColumn<QString>("backend");
        QTest::addColumn<GgmlType>("type");
        for (const char* b : {"cpu", "cuda:0"})
            for (GgmlType t : {GgmlType::Q4_1, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::F16, GgmlType::IQ4_XS,
                               GgmlType::IQ2_XXS})
                QTest::newRow(qPrintable(QString("%1 %2").arg(b).arg(QString::fromUtf8(type_name((uint32_t)t).data(),
                                                                                      (int)type_name((uint32_t)t).size()))))
                    << QString(b) << t;
    }
    void gemm() {
        QFETCH(QString, backend);
        QFETCH(GgmlType, type);
        SKIP_WITHOUT_GPU(backend);
        const int64_t n = 70, k = 768, n_tok = 9;
        const QWeight w = make_weight(type, n, k, 20 + (uint32_t)type);
        const auto x = randn(n_tok * k, 21);
        std::vector<float> y(n_tok * n);
        if (is_cuda(backend)) {
            VERIFY_OK(cuda_ops::gemm(0, w.view, x.data(), n_tok, y.data()));
        } else {
            MatmulScratch s;
            s.reserve(MatmulScratch::bytes_needed(type, k, n_tok));
            eg::matmul(w.view, x.data(), n_tok, y.data(), pool_, s);
        }
        for (int64_t t = 0; t < n_tok; ++t) {
            double amax = 0;
            for (int64_t i = 0; i < k; ++i) amax = std::max(amax, (double)std::fabs(x[t * k + i]));
            for (int64_t r = 0; r < n; ++r) {
                double ref = 0, mag = 0, wabs = 0;
                for (int64_t i = 0; i < k; ++i) {
                    ref += (double)w.deq[r * k + i] * x[t * k + i];
                    mag += std::fabs((double)w.deq[r * k + i] * x[t * k + i]);
                    wabs += std::fabs(w.deq[r * k + i]);
                }
                const double tol = is_cuda(backend) ? (std::ldexp(1.0, -10) + 1e-5) * mag
                                                    : 1e-5 * mag + wabs * amax / 254.0;
                QVERIFY2(std::fabs(y[t * n + r] - ref) <= tol,
                         qPrintable(QString("token %1 row %2: %3 vs %4").arg(t).arg(r).arg(y[t * n + r]).arg(ref)));
            }
        }
    }

    // MoE routing (CPU; the CUDA backend keeps MoE blocks on the CPU for
    // now): the chosen experts are the reference's top k by softmax
    // probability, in order, and their weights (renormalized or not) within
    // float rounding of the double-precision ones.
    void moe_route_data() {
        QTest::addColumn<bool>("renormalize");
        QTest::newRow("cpu softmax top-k") << false;
        QTest::newRow("cpu softmax top-k renormalized") << true;
    }
    void moe_route() {
        QFETCH(bool, renormalize);
        const int64_t n_tok = 6, E = 16, K = 4;
        const auto logits = randn(n_tok * E, 40, 2.0f);
        std::vector<int32_t> ids(n_tok * K);
        std::vector<float> w(n_tok * K);
        eg::moe_route(MoeRouting{E, K, renormalize}, logits.data(), n_tok, ids.data(), w.data());
        for (int64_t t = 0; t < n_tok; ++t) {
            std::vector<double> p(E);
            double mx = -1e300, sum = 0;
            for (int64_t e = 0; e < E; ++e) mx = std::max(mx, (double)logits[t * E + e]);
            for (int64_t e = 0; e < E; ++e) sum += p[e] = std::exp(logits[t * E + e] - mx);
            std::vector<int32_t> order(E);
            for (int64_t e = 0; e < E; ++e) order[e] = (int32_t)e, p[e] /= sum;
            std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return p[a] > p[b]; });
            double chosen = 0;
            for (int64_t j = 0; j < K; ++j) chosen += p[order[j]];
            for (int64_t j = 0; j < K; ++j) {
                QCOMPARE(ids[t * K + j], order[j]);
                const double want = renormalize ? p[order[j]] / chosen : p[order[j]];
                QVERIFY2(std::fabs(w[t * K + j] - want) <= 1e-6 * (1 + want),
                         qPrintable(QString("token %1 choice %2: %3 vs %4").arg(t).arg(j).arg(w[t * K + j]).arg(want)));
            }
        }
    }

    // The experts of a MoE block over a batch whose tokens chose different
    // experts (some shared, some unused), against the double-precision sum
    // of w_j * down(silu(gate x) * up x) over the dequantized weights. F32
    // experts: float rounding (1e-4 of the output's scale); Q8_0: the CPU
    // quantizes the activations to 8 bits twice (gate/up input and down
    // input), 2% of the output's scale; a wrong expert or weight is off by
    // the whole scale.
    void moe_experts_data() {
        QTest::addColumn<GgmlType>("type");
        QTest::newRow("cpu F32") << GgmlType::F32;
        QTest::newRow("cpu Q8_0") << GgmlType::Q8_0;
    }
    void moe_experts() {
        QFETCH(GgmlType, type);
        const int64_t E = 6, D = 64, F = 96, K = 2, n_tok = 7;
        const QWeight gw = make_weight(type, E * F, D, 41), uw = make_weight(type, E * F, D, 42),
                      dw = make_weight(type, E * D, F, 43);
        auto stack = [&](const QWeight& q, int64_t rows) {
            ExpertMatrices m;
            m.all = q.view;
            m.rows = rows;
            m.n_expert = E;
            return m;
        };
        const ExpertMatrices gate = stack(gw, F), up = stack(uw, F), down = stack(dw, D);
        const auto x = randn(n_tok * D, 44);
        MoeScratch ms;
        ms.allocate(n_tok, D, F, K);
        const int32_t choice[n_tok][K] = {{0, 3}, {3, 1}, {5, 0}, {3, 5}, {1, 0}, {0, 3}, {5, 1}};  // expert 2, 4 unused
        for (int64_t t = 0; t < n_tok; ++t)
            for (int64_t j = 0; j < K; ++j) {
                ms.ids[t * K + j] = choice[t][j];
                ms.weights[t * K + j] = 0.3f + 0.4f * (float)j + 0.01f * (float)t;
            }
        std::vector<float> out(n_tok * D);
        MatmulScratch mm;
        mm.reserve(MatmulScratch::bytes_needed(type, F, n_tok));
        const Status run = eg::moe_experts(gate, up, down, ExpertActivation{}, ms, x.data(), n_tok, out.data(), pool_, mm);
        VERIFY_OK(run);
        double scale = 0, worst = 0;
        std::vector<double> ref(n_tok * D, 0.0);
        for (int64_t t = 0; t < n_tok; ++t)
            for (int64_t j = 0; j < K; ++j) {
                const int64_t e = ms.ids[t * K + j];
                std::vector<double> h(F);
                for (int64_t f = 0; f < F; ++f) {
                    double g = 0, u = 0;
                    for (int64_t i = 0; i < D; ++i) {
                        g += (double)gw.deq[(e * F + f) * D + i] * x[t * D + i];
                        u += (double)uw.deq[(e * F + f) * D + i] * x[t * D + i];
                    }
                    h[f] = g / (1 + std::exp(-g)) * u;
                }
                for (int64_t o = 0; o < D; ++o) {
                    double y = 0;
                    for (int64_t f = 0; f < F; ++f) y += (double)dw.deq[(e * D + o) * F + f] * h[f];
                    ref[t * D + o] += ms.weights[t * K + j] * y;
                }
            }
        for (double r : ref) scale = std::max(scale, std::fabs(r));
        for (size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::fabs(out[i] - ref[i]));
        const double tol = (type == GgmlType::F32 ? 1e-4 : 2e-2) * scale;
        QVERIFY2(scale > 1.0, "degenerate outputs: the comparison would prove nothing");
        QVERIFY2(worst <= tol, qPrintable(QString("max error %1 > %2 (scale %3)").arg(worst).arg(tol).arg(scale)));
    }

    // Row lookup: the same dequantization formula, so equal up to the GPU
    // contracting d*q - m into one FMA: 1e-6 of the row's largest value.
    void get_rows_data() {
        QTest::addColumn<QString>("backend");
        QTest::addColumn<GgmlType>("type");
        for (const char* b : {"cpu", "cuda:0"})
            for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_XS,
                               GgmlType::IQ3_S})
                QTest::newRow(qPrintable(QString("%1 %2").arg(b).arg(QString::fromUtf8(type_name((uint32_t)t).data(),
                                                                                      (int)type_name((uint32_t)t).size()))))
                    << QString(b) << t;
    }
    void get_rows() {
        QFETCH(QString, backend);
        QFETCH(GgmlType, type);
        SKIP_WITHOUT_GPU(backend);
        const int64_t n = 50, k = 512;
        const QWeight w = make_weight(type, n, k, 30 + (uint32_t)type);
        const std::vector<int32_t> ids = {7, 0, 49, 7, 23};
        std::vector<float> out(ids.size() * k);
        if (is_cuda(backend)) VERIFY_OK(cuda_ops::get_rows(0, w.view, ids.data(), (int64_t)ids.size(), out.data()));
        else eg::get_rows(w.view, ids.data(), (int64_t)ids.size(), out.data());
        for (size_t i = 0; i < ids.size(); ++i) {
            double amax = 0;
            for (int64_t j = 0; j < k; ++j) amax = std::max(amax, (double)std::fabs(w.deq[ids[i] * k + j]));
            for (int64_t j = 0; j < k; ++j)
                QVERIFY2(std::fabs(out[i * k + j] - w.deq[ids[i] * k + j]) <= 1e-6 * amax,
                         qPrintable(QString("id %1 [%2]").arg(ids[i]).arg(j)));
        }
        if (is_cuda(backend)) {
            const int32_t bad = 50;
            const Status st = cuda_ops::get_rows(0, w.view, &bad, 1, out.data());
            QVERIFY(!st.ok());
            QVERIFY2(st.message().find("50") != std::string::npos, st.message().c_str());
        }
    }

    // The lookup (Engram) module's gate at positions 5..8 of a 12-position
    // history, key and value interleaved as the fused projection leaves them.
    // Reference in double; both backends sum squares and the dot in double,
    // so 2e-5 of each output's scale.
    void lookup_gate_data() { add_backend_rows("lookup_gate"); }
    void lookup_gate() {
        QFETCH(QString, backend);
        SKIP_WITHOUT_GPU(backend);
        const int64_t n_tok = 4, n = 576, n_ctx = 12, pos0 = 5;
        const auto x = randn(n_tok * n, 51, 2.0f), kv = randn(n_tok * 2 * n, 52), qw = randn(n, 53),
                   kw = randn(n, 54), cw = randn(n, 55);
        std::vector<float> out(n_tok * n), hist = randn(n_ctx * n, 56);
        const std::vector<float> hist0 = hist;
        if (is_cuda(backend)) {
            VERIFY_OK(cuda_ops::lookup_gate(0, x.data(), kv.data(), 2 * n, n, qw.data(), kw.data(), cw.data(),
                                            hist.data(), n_ctx, n_tok, n, pos0, 1e-5f, out.data()));
        } else {
            std::vector<float> qn(n), kn(n);
            for (int64_t t = 0; t < n_tok; ++t) {
                eg::lookup_gate(x.data() + t * n, kv.data() + t * 2 * n, kv.data() + t * 2 * n + n, qw.data(),
                                kw.data(), n, 1e-5f, qn.data(), kn.data(), out.data() + t * n);
                eg::rms_norm(out.data() + t * n, cw.data(), hist.data() + (pos0 + t) * n, n, 1e-5f);
            }
        }
        auto rms = [&](const float* v, int64_t i, const std::vector<float>& w) {
            double ss = 0;
            for (int64_t j = 0; j < n; ++j) ss += (double)v[j] * v[j];
            return v[i] / std::sqrt(ss / n + 1e-5) * w[i];
        };
        for (int64_t t = 0; t < n_tok; ++t) {
            const float* xt = x.data() + t * n;
            const float* kt = kv.data() + t * 2 * n;
            double dot = 0;
            for (int64_t j = 0; j < n; ++j) dot += rms(xt, j, qw) * rms(kt, j, kw);
            const double s = dot / std::sqrt((double)n);
            const double z = (s > 0 ? 1 : -1) * std::sqrt(std::max(std::fabs(s), 1e-6));
            const double g = 1 / (1 + std::exp(-z));
            for (int64_t j = 0; j < n; ++j) {
                const double ref = g * kt[n + j];
                QVERIFY2(std::fabs(out[t * n + j] - ref) <= 2e-5 * (1 + std::fabs(ref)),
                         qPrintable(QString("out %1 [%2]: %3 vs %4").arg(t).arg(j).arg(out[t * n + j]).arg(ref)));
            }
            for (int64_t j = 0; j < n; ++j) {
                const double ref = rms(out.data() + t * n, j, cw);
                QVERIFY2(std::fabs(hist[(pos0 + t) * n + j] - ref) <= 2e-5 * (1 + std::fabs(ref)),
                         qPrintable(QString("history %1 [%2]").arg(pos0 + t).arg(j)));
            }
        }
        // Positions outside the batch are left alone.
        for (int64_t p : {int64_t(0), pos0 - 1, pos0 + n_tok, n_ctx - 1})
            for (int64_t j = 0; j < n; ++j) QCOMPARE(hist[p * n + j], hist0[p * n + j]);
    }

    // x += out + SiLU(dilated causal conv of the history): positions 1..3
    // read history rows before 0 (zero) and rows of earlier batches. Sums
    // of K products in float: 1e-5 of the scale.
    void lookup_residual_data() { add_backend_rows("lookup_residual"); }
    void lookup_residual() {
        QFETCH(QString, backend);
        SKIP_WITHOUT_GPU(backend);
        const int64_t n_tok = 3, n = 320, n_ctx = 16, pos0 = 1, K = 4, dil = 3;
        const auto x0 = randn(n_tok * n, 61), out = randn(n_tok * n, 62), hist = randn(n_ctx * n, 63),
                   conv = randn(n * K, 64, 0.5f);
        std::vector<float> x = x0;
        if (is_cuda(backend)) {
            VERIFY_OK(cuda_ops::lookup_residual(0, x.data(), out.data(), hist.data(), n_ctx, conv.data(), K, dil,
                                                n_tok, n, pos0));
        } else {
            std::vector<float> y(n);
            for (int64_t t = 0; t < n_tok; ++t) {
                eg::lookup_conv(hist.data(), conv.data(), K, dil, pos0 + t, n, y.data());
                for (int64_t j = 0; j < n; ++j) x[t * n + j] += out[t * n + j] + y[j];
            }
        }
        for (int64_t t = 0; t < n_tok; ++t)
            for (int64_t c = 0; c < n; ++c) {
                double acc = 0;
                for (int64_t k = 0; k < K; ++k) {
                    const int64_t p = pos0 + t - (K - 1 - k) * dil;
                    if (p >= 0) acc += (double)conv[c * K + k] * hist[p * n + c];
                }
                const double ref = x0[t * n + c] + out[t * n + c] + acc / (1 + std::exp(-acc));
                QVERIFY2(std::fabs(x[t * n + c] - ref) <= 1e-5 * (1 + std::fabs(ref)),
                         qPrintable(QString("x %1 [%2]: %3 vs %4").arg(t).arg(c).arg(x[t * n + c]).arg(ref)));
            }
    }

    // Staged rows land in their slots, byte for byte, and nothing else moves.
    void scatter_rows() {
        std::string why;
        if (cuda_probe(false, &why).empty()) QSKIP(qPrintable("no CUDA device: " + QString::fromStdString(why)));
        for (int64_t rb : {int64_t(64), int64_t(34)}) {  // whole words, and not
            const int64_t n_slots = 40;
            std::vector<uint8_t> table(n_slots * rb), staged(3 * rb);
            std::mt19937 rng(7);
            for (auto& b : table) b = (uint8_t)rng();
            for (auto& b : staged) b = (uint8_t)rng();
            std::vector<uint8_t> want = table;
            const std::vector<int32_t> at = {39, 0, 17};
            for (size_t i = 0; i < at.size(); ++i)
                std::copy_n(staged.begin() + i * rb, rb, want.begin() + at[i] * rb);
            VERIFY_OK(cuda_ops::scatter_rows(0, staged.data(), at.data(), 3, rb, table.data(), n_slots));
            QVERIFY(table == want);
            const int32_t bad = 40;
            QVERIFY(!cuda_ops::scatter_rows(0, staged.data(), &bad, 1, rb, table.data(), n_slots).ok());
        }
    }
};

QTEST_APPLESS_MAIN(TestBackendOps)
#include "test_backend_ops.moc"
