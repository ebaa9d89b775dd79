// Tensor type kernels: dequantization is bit-exact with gguf-py for all 25
// compute types (the i-quants and ternary types from random blocks: any grid
// index is valid, scales are sane f16 values), our reference quantizers write the same bytes as gguf-py,
// every dot product (scalar, AVX2 and AVX-512 VNNI paths, those the CPU has)
// agrees with a float64 reference within a stated rounding bound, and the
// threaded, tiled matmul gives exactly the per-row dot products.
// Fixtures: tests/reference/quants/make_quant_fixtures.py (the i-quant grids
// themselves: make_iq_tables.py -> engine/src/quant/iq_tables.h).
//
// The dot-product bound (reference_dot) holds for the i-quants as for the
// k-quants: their kernels too sum exact integer products per scale group
// (every scale is an integer times a power of two: d (2 ls + 1) / 8 for
// IQ2_XXS, d (1 + 2 ls) for IQ3_S, (2s + 1)(8 grid +- 1) d / 8 for IQ1), so
// float rounding happens only in the block's scaling and the accumulation.
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "cpu/matmul.h"
#include "quant/kernels.h"
#include "quant/kernels_impl.h"
#include "quant/packed.h"
#include "quant/packed_layout.h"
#include "test_env.h"

using namespace eg;

// --- allocation count: the matmul must not allocate once its scratch is reserved.
namespace {
std::atomic<long> g_allocs{0};
void* counted_alloc(std::size_t n) {
    g_allocs.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
}  // namespace
void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

struct Record {
    uint32_t kind = 0;  // 0: bytes -> floats (dequant), 1: floats -> bytes (quant)
    GgmlType type = GgmlType::F32;
    std::vector<uint8_t> bytes;
    std::vector<float> values;
};

std::vector<Record> load_fixtures(QString* err) {
    std::ifstream in(eg_test::fixture("reference/quants/quant_fixtures.bin"), std::ios::binary);
    std::vector<uint8_t> f((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<Record> out;
    size_t pos = 0;
    auto u32 = [&](uint32_t* v) {
        if (pos + 4 > f.size()) return false;
        std::memcpy(v, f.data() + pos, 4);
        pos += 4;
        return true;
    };
    uint32_t magic = 0, version = 0, count = 0;
    if (!u32(&magic) || std::memcmp(&magic, "EGQF", 4) != 0 || !u32(&version) || version != 1 || !u32(&count)) {
        *err = "quant_fixtures.bin missing or bad header";
        return {};
    }
    for (uint32_t r = 0; r < count; ++r) {
        uint32_t kind, type, n, nbytes;
        if (!u32(&kind) || !u32(&type) || !u32(&n) || !u32(&nbytes) || pos + nbytes + 4ull * n > f.size()) {
            *err = QString("quant_fixtures.bin truncated at record %1").arg(r);
            return {};
        }
        Record rec;
        rec.kind = kind;
        rec.type = (GgmlType)type;
        rec.bytes.assign(f.begin() + pos, f.begin() + pos + nbytes);
        pos += nbytes;
        rec.values.resize(n);
        std::memcpy(rec.values.data(), f.data() + pos, 4ull * n);
        pos += 4ull * n;
        out.push_back(std::move(rec));
    }
    return out;
}

const GgmlType kTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1,
                           GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K,
                           GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::MXFP4,
                           GgmlType::IQ4_NL, GgmlType::IQ4_XS, GgmlType::IQ2_XXS, GgmlType::IQ2_XS,
                           GgmlType::IQ2_S, GgmlType::IQ3_XXS, GgmlType::IQ3_S, GgmlType::IQ1_S,
                           GgmlType::IQ1_M, GgmlType::TQ1_0, GgmlType::TQ2_0};

// Byte offsets of the f16 scale fields in a block (as the fixture script).
std::vector<int> scale_offsets(GgmlType t) {
    switch (t) {
        case GgmlType::Q4_0: case GgmlType::Q5_0: case GgmlType::Q8_0: return {0};
        case GgmlType::Q4_1: case GgmlType::Q5_1: case GgmlType::Q4_K: case GgmlType::Q5_K: return {0, 2};
        case GgmlType::Q2_K: return {80, 82};
        case GgmlType::Q3_K: return {108};
        case GgmlType::Q6_K: return {208};
        case GgmlType::IQ4_NL: case GgmlType::IQ4_XS: case GgmlType::IQ2_XXS: case GgmlType::IQ2_XS:
        case GgmlType::IQ2_S: case GgmlType::IQ3_XXS: case GgmlType::IQ3_S: case GgmlType::IQ1_S: return {0};
        case GgmlType::TQ1_0: return {52};
        case GgmlType::TQ2_0: return {64};
        default: return {};  // IQ1_M: random_raw() writes its spread-out d
    }
}

// Random raw weights of n elements: random bits, finite values everywhere,
// sane random scales (either sign, a few decades).
std::vector<uint8_t> random_raw(GgmlType t, int64_t n, std::mt19937& rng) {
    const TypeTraits* tr = type_traits(t);
    std::vector<uint8_t> raw((size_t)(n / tr->block_size * tr->block_bytes));
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::uniform_real_distribution<float> ud(-3.0f, 0.0f);
    if (t == GgmlType::F32) {
        for (int64_t i = 0; i < n; ++i) { const float v = nd(rng); std::memcpy(&raw[i * 4], &v, 4); }
        return raw;
    }
    if (t == GgmlType::F16 || t == GgmlType::BF16) {
        // magnitudes of real weights (random bit patterns are the fixture's job)
        for (int64_t i = 0; i < n; ++i) {
            const float v = nd(rng) * std::pow(10.0f, ud(rng));
            const uint16_t h = t == GgmlType::F16 ? fp32_to_fp16(v) : fp32_to_bf16(v);
            std::memcpy(&raw[i * 2], &h, 2);
        }
        return raw;
    }
    for (auto& b : raw) b = (uint8_t)(rng() & 0xff);
    if (t == GgmlType::MXFP4) {
        // E8M0 exponents of real weights (scales 2^-13..2^2), but the first 16
        // blocks (a whole row of the 512-long tests) get the subnormal scales
        // of e = 0 and 1, which every kernel builds by a path of its own
        for (size_t b = 0; b < raw.size(); b += 17) raw[b] = (uint8_t)(b < 16 * 17 ? b / 17 % 2 : 114 + rng() % 16);
        return raw;
    }
    if (t == GgmlType::IQ1_M) {
        // d's 16 bits are the top nibbles of the 4 u16 scale words (bytes 48..55)
        for (size_t b = 0; b < raw.size() / 56; ++b) {
            const uint16_t h = fp32_to_fp16(nd(rng) * std::pow(10.0f, ud(rng)));
            for (int k = 0; k < 4; ++k) {
                uint8_t& hi = raw[b * 56 + 48 + 2 * k + 1];
                hi = (uint8_t)((hi & 0x0f) | (((h >> (4 * k)) & 0x0f) << 4));
            }
        }
        return raw;
    }
    for (size_t b = 0; b < raw.size() / (size_t)tr->block_bytes; ++b)
        for (int off : scale_offsets(t)) {
            const uint16_t h = fp32_to_fp16(nd(rng) * std::pow(10.0f, ud(rng)));
            std::memcpy(&raw[b * tr->block_bytes + off], &h, 2);
        }
    return raw;
}

std::vector<float> random_acts(int64_t n, std::mt19937& rng) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x((size_t)n);
    for (auto& v : x) v = nd(rng) * 3.0f;
    return x;
}

int64_t block_size(GgmlType t) { return type_traits(t)->block_size; }

// Float64 reference of dot(w, x) from the dequantized weights and the
// dequantized quantized activations, and the rounding bound the kernel must meet.
//
// Within a block the kernels sum integer products exactly; float rounding
// happens (a) on d_w*d_x and on converting/scaling each block's integer sum:
// a few ulps of that block's magnitude, (b) in accumulating nb block results:
// at most (nb) ulps of the sum of magnitudes (standard bound for a
// recursive float sum), (c) for F32/F16/BF16, in n/8 products per lane plus
// the lane reduction. The block magnitude is taken as
// sum |w_i x_i| + maxabs(w in block) * sum |x_i| because the kernels work on
// offset values (q + 32 in Q6_K, q with a separate minimum in Q4_1...) whose
// partial sums may exceed sum |w_i x_i|. Q8_1 carries s = d * sum(q) rounded
// to f16, so Q4_1/Q5_1 also get 2^-11 of |m * s| per block.
// Bound = 4 * 2^-24 * (depth + 8) * magnitude: a wrong nibble, scale or sign
// gives errors of the order of the magnitude itself, far above it.
struct DotRef {
    double value = 0, tol = 0, magnitude = 0;
};

DotRef reference_dot(GgmlType wt, int64_t n, const uint8_t* w, const uint8_t* xq) {
    const TypeKernels* kt = kernels_for(wt);
    std::vector<float> wf((size_t)n), xf((size_t)n);
    kt->dequantize(w, wf.data(), n);
    quant::any_dequantizer(kt->vec_dot_type)(xq, xf.data(), n);
    const int64_t bs = std::max<int64_t>(block_size(wt), 8);
    DotRef r;
    double mag = 0, q81 = 0;
    for (int64_t b0 = 0; b0 < n; b0 += bs) {
        double wmax = 0, xabs = 0;
        for (int64_t i = b0; i < b0 + bs; ++i) {
            r.value += (double)wf[i] * (double)xf[i];
            mag += std::fabs((double)wf[i] * (double)xf[i]);
            wmax = std::max(wmax, std::fabs((double)wf[i]));
            xabs += std::fabs((double)xf[i]);
        }
        mag += wmax * xabs;
    }
    if (kt->vec_dot_type == GgmlType::Q8_1) {
        const block_q8_1* xb = (const block_q8_1*)xq;
        const int64_t wbytes = type_traits(wt)->block_bytes;
        for (int64_t b = 0; b < n / 32; ++b) {
            uint16_t m;
            std::memcpy(&m, w + b * wbytes + 2, 2);  // Q4_1/Q5_1: d, then m
            q81 += std::fabs((double)fp16_to_fp32(m) * fp16_to_fp32(xb[b].s));
        }
    }
    const double depth = (double)(bs == 8 ? n / 8 : n / bs) + 8.0;
    r.tol = 4.0 * std::ldexp(1.0, -24) * depth * mag + std::ldexp(1.0, -10) * q81 + 1e-30;
    r.magnitude = mag;
    return r;
}

std::vector<uint8_t> quantize_acts(GgmlType wt, const std::vector<float>& x) {
    const GgmlType vt = kernels_for(wt)->vec_dot_type;
    const int64_t n = (int64_t)x.size();
    std::vector<uint8_t> xq((size_t)row_bytes(vt, n));
    quant::activation_quantizer(vt)(x.data(), xq.data(), n);
    return xq;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

const GgmlType kPackedTypes[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,
                                 GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::MXFP4};

// The activations as the packed kernels see them: x[j] ~ d[j / 32] * q[j].
struct PackedActs {
    std::vector<int8_t> q;
    std::vector<float> d;
};
PackedActs packed_acts(GgmlType t, const float* x, int64_t k) {
    std::vector<uint8_t> buf((size_t)quant::packed_act_row_bytes(k));
    quant::packed_quantize_act(*quant::packed_layout(t), x, k, buf.data());
    PackedActs a;
    a.q.assign((const int8_t*)buf.data(), (const int8_t*)buf.data() + k);
    const auto* meta = (const quant::PackedActMeta*)(buf.data() + (k + 63) / 64 * 64);
    for (int64_t g = 0; g < k / 32; ++g) a.d.push_back(meta[g].d);
    return a;
}

// |m| of group g (32 elements) of a file row, for the types with a float min
// (0 for the others, whose offset the kernels apply in integers).
double group_min_abs(GgmlType t, const uint8_t* row, int64_t g) {
    switch (t) {
        case GgmlType::Q4_1:
        case GgmlType::Q5_1: {
            uint16_t m;
            std::memcpy(&m, row + g * row_bytes(t, 32) + 2, 2);
            return std::fabs(fp16_to_fp32(m));
        }
        case GgmlType::Q4_K:
        case GgmlType::Q5_K: {
            const uint8_t* b = row + (g / 8) * row_bytes(t, QK_K);
            uint16_t dmin;
            std::memcpy(&dmin, b + 2, 2);
            uint8_t sc, mn;
            quant::k4_scale_min((int)(g % 8), b + 4, &sc, &mn);
            return std::fabs(fp16_to_fp32(dmin)) * mn;
        }
        default: return 0;
    }
}

// Every kernel path the dispatcher has; a CPU runs those it supports.
const char* const kIsas[] = {"scalar", "avx2", "avx512vnni"};

}  // namespace

class TestQuant : public QObject {
    Q_OBJECT

    std::vector<Record> fx_;

    const Record* find(uint32_t kind, GgmlType t) const {
        for (const auto& r : fx_)
            if (r.kind == kind && r.type == t) return &r;
        return nullptr;
    }

    static void isa_rows() {
        QTest::addColumn<QString>("isa");
        QTest::addColumn<int>("type");
        for (const char* isa : kIsas)
            for (GgmlType t : kTypes)
                QTest::newRow(QString("%1/%2").arg(isa).arg(type_name((uint32_t)t).data()).toUtf8().constData())
                    << QString(isa) << (int)t;
    }

    // Selects a kernel path; false (the caller skips) when this CPU lacks it.
    static bool use_isa(const QString& isa) {
        cap_kernel_isa(isa.toUtf8().constData());
        return isa == cpu_kernel_isa();
    }

private slots:
    void initTestCase() {
        QString err;
        fx_ = load_fixtures(&err);
        QVERIFY2(!fx_.empty(), qPrintable(err));
        qInfo("dispatched kernel ISA: %s", cpu_kernel_isa());
        // matmulEqualsVecDot grows its scratch on purpose; keep the log quiet
        set_log_level(spdlog::level::err);
    }
    void cleanup() { force_scalar_kernels(false); }

    // The dispatcher reports the path it runs, and a cap never raises it.
    void isaCap() {
        QVERIFY(!cap_kernel_isa("sse9"));
        force_scalar_kernels(true);
        QCOMPARE(QString(cpu_kernel_isa()), QString("scalar"));
        QVERIFY(cap_kernel_isa("avx2"));
        const QString capped = cpu_kernel_isa();
        QVERIFY(capped == "avx2" || capped == "scalar");
        force_scalar_kernels(false);
        const QString best = cpu_kernel_isa();
        QVERIFY(best == "avx512vnni" || best == capped);
    }

    // Every supported type dequantizes random blocks bit for bit like gguf-py.
    void dequantizeMatchesGgufPy_data() {
        QTest::addColumn<int>("type");
        for (GgmlType t : kTypes) QTest::newRow(type_name((uint32_t)t).data()) << (int)t;
    }
    void dequantizeMatchesGgufPy() {
        QFETCH(int, type);
        const Record* r = find(0, (GgmlType)type);
        QVERIFY2(r, "type missing from the fixture");
        const TypeKernels* kt = kernels_for((GgmlType)type);
        QVERIFY(kt);
        const int64_t n = (int64_t)r->values.size();
        QCOMPARE((int64_t)r->bytes.size(), row_bytes((GgmlType)type, n));
        std::vector<float> out((size_t)n, -12345.0f);
        kt->dequantize(r->bytes.data(), out.data(), n);
        int nonzero = 0;
        for (int64_t i = 0; i < n; ++i) {
            nonzero += r->values[i] != 0.0f;
            if (!same_bits(out[i], r->values[i]))
                QFAIL(qPrintable(QString("element %1: got %2, gguf-py %3").arg(i).arg(out[i], 0, 'g', 9)
                                     .arg(r->values[i], 0, 'g', 9)));
        }
        QVERIFY(nonzero > n / 2);  // the fixture is real data, not zeros
        // get_rows dequantizes the same row of a table
        const int64_t k = std::max<int64_t>(block_size((GgmlType)type), 256);
        const WeightView wv{(GgmlType)type, k, n / k, r->bytes.data(), row_bytes((GgmlType)type, k)};
        const int32_t ids[2] = {(int32_t)(n / k - 1), 0};
        std::vector<float> rows((size_t)(2 * k));
        get_rows(wv, ids, 2, rows.data());
        for (int64_t i = 0; i < k; ++i) {
            QVERIFY(same_bits(rows[i], r->values[(n / k - 1) * k + i]));
            QVERIFY(same_bits(rows[k + i], r->values[i]));
        }
    }

    // Our reference quantizers write the bytes gguf-py writes (files match).
    void quantizeMatchesGgufPy_data() {
        QTest::addColumn<int>("type");
        for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,
                           GgmlType::MXFP4, GgmlType::F16, GgmlType::BF16})
            QTest::newRow(type_name((uint32_t)t).data()) << (int)t;
    }
    void quantizeMatchesGgufPy() {
        QFETCH(int, type);
        const Record* r = find(1, (GgmlType)type);
        QVERIFY2(r, "type missing from the fixture");
        const int64_t n = (int64_t)r->values.size();
        for (const char* isa : kIsas) {
            if (!use_isa(isa)) continue;
            const TypeKernels* kt = kernels_for((GgmlType)type);
            QVERIFY(kt && kt->quantize);
            std::vector<uint8_t> out(r->bytes.size(), 0xcd);
            kt->quantize(r->values.data(), out.data(), n);
            const auto mism = std::mismatch(out.begin(), out.end(), r->bytes.begin());
            if (mism.first != out.end())
                QFAIL(qPrintable(QString("%1 path: byte %2 differs: got %3, gguf-py %4")
                                     .arg(isa).arg(mism.first - out.begin())
                                     .arg(*mism.first).arg(*mism.second)));
        }
    }

    // Q4_K/Q6_K quantizers (own algorithm, no gguf-py reference): every value
    // comes back within half a quantization step of its block (a full step for
    // the one Q6_K value that may clamp at +31), and the whole row within a
    // few percent RMS, so a forged Q4_K model is a faithful copy.
    void kQuantRoundTrip_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<double>("max_rel_rms");
        QTest::newRow("Q4_K") << (int)GgmlType::Q4_K << 0.08;
        QTest::newRow("Q6_K") << (int)GgmlType::Q6_K << 0.02;
    }
    void kQuantRoundTrip() {
        QFETCH(int, type);
        QFETCH(double, max_rel_rms);
        const GgmlType t = (GgmlType)type;
        const TypeKernels* kt = kernels_for(t);
        QVERIFY(kt && kt->quantize);
        std::mt19937 rng(3000 + type);
        const int64_t n = 16 * QK_K;
        std::vector<float> x = random_acts(n, rng);
        for (int64_t i = 0; i < n; ++i) {
            if ((i / 32) % 5 == 1) x[i] = std::fabs(x[i]) + 4.0f;  // one-signed sub-blocks
            if ((i / 256) == 3) x[i] *= 1e-3f;                     // a quiet block
        }
        std::vector<uint8_t> q((size_t)row_bytes(t, n));
        kt->quantize(x.data(), q.data(), n);
        std::vector<float> y((size_t)n);
        kt->dequantize(q.data(), y.data(), n);
        double err2 = 0, x2 = 0;
        for (int64_t i = 0; i < n; ++i) {
            float step;
            if (t == GgmlType::Q4_K) {
                const block_q4_K& b = ((const block_q4_K*)q.data())[i / QK_K];
                uint8_t sc, m;
                quant::k4_scale_min((int)(i % QK_K) / 32, b.scales, &sc, &m);
                step = 0.5f * fp16_to_fp32(b.d) * (float)sc;
            } else {
                const block_q6_K& b = ((const block_q6_K*)q.data())[i / QK_K];
                step = std::fabs(fp16_to_fp32(b.d) * (float)b.scales[(i % QK_K) / 16]);
            }
            const float err = std::fabs(y[i] - x[i]);
            if (!(err <= step * 1.01f + 1e-6f * std::fabs(x[i])))
                QFAIL(qPrintable(QString("element %1: %2 came back as %3 (allowed %4)")
                                     .arg(i).arg(x[i]).arg(y[i]).arg(step)));
            err2 += (double)err * err;
            x2 += (double)x[i] * x[i];
        }
        QVERIFY2(std::sqrt(err2 / x2) < max_rel_rms, qPrintable(QString("rms %1").arg(std::sqrt(err2 / x2))));
    }

    // MXFP4 quantizer: the shared exponent puts the block's largest magnitude
    // in [4, 8) E2M1 units (2^(e-127)), and every value comes back as the
    // nearest E2M1 value (at most half the gap to its neighbours away), or
    // as +-6 units when it is above 6; a row of normal values comes back
    // within 15% RMS (the format has one mantissa bit).
    // IQ4_NL/IQ4_XS quantizers (own method, no gguf-py reference: it cannot
    // write them): the row comes back within a few percent RMS, and IQ4_NL's
    // scale search never does worse than the plain choice it starts from (the
    // largest value on the outer level -127, every value on its nearest level).
    void iq4RoundTrip_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<double>("max_rel_rms");
        QTest::newRow("IQ4_NL") << (int)GgmlType::IQ4_NL << 0.08;
        QTest::newRow("IQ4_XS") << (int)GgmlType::IQ4_XS << 0.08;
    }
    void iq4RoundTrip() {
        QFETCH(int, type);
        QFETCH(double, max_rel_rms);
        const GgmlType t = (GgmlType)type;
        const TypeKernels* kt = kernels_for(t);
        QVERIFY(kt && kt->quantize);
        std::mt19937 rng(4000 + type);
        const int64_t n = 16 * QK_K;
        std::vector<float> x = random_acts(n, rng);
        for (int64_t i = 0; i < n; ++i) {
            if ((i / 32) % 5 == 1) x[i] = std::fabs(x[i]) + 4.0f;  // one-signed groups
            if ((i / 256) == 3) x[i] *= 1e-3f;                     // a quiet block
            if ((i / 32) == 9) x[i] = 0.0f;                        // an all-zero group
        }
        std::vector<uint8_t> q((size_t)row_bytes(t, n));
        kt->quantize(x.data(), q.data(), n);
        std::vector<float> y((size_t)n);
        kt->dequantize(q.data(), y.data(), n);
        static constexpr int8_t kLevels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
        double err2 = 0, x2 = 0, base2 = 0;
        for (int64_t g = 0; g < n / 32; ++g) {
            float vmax = 0;
            for (int j = 0; j < 32; ++j)
                if (std::fabs(x[g * 32 + j]) > std::fabs(vmax)) vmax = x[g * 32 + j];
            const double d = vmax / -127.0;
            double ours = 0, base = 0;
            for (int j = 0; j < 32; ++j) {
                const double v = x[g * 32 + j];
                double best = INFINITY;
                for (int8_t l : kLevels) best = std::min(best, std::fabs(v - d * l));
                base += best * best;
                ours += (v - y[g * 32 + j]) * (v - y[g * 32 + j]);
                x2 += v * v;
            }
            if (t == GgmlType::IQ4_NL && !(ours <= base * 1.001 + 1e-12))
                QFAIL(qPrintable(QString("group %1: squared error %2, the plain scale gives %3").arg(g).arg(ours).arg(base)));
            if (g == 9) QCOMPARE(ours, 0.0);
            err2 += ours;
            base2 += base;
        }
        qInfo("%s: relative RMS error %.4f (plain scale: %.4f)", type_name((uint32_t)t).data(), std::sqrt(err2 / x2),
              std::sqrt(base2 / x2));
        QVERIFY2(std::sqrt(err2 / x2) < max_rel_rms, qPrintable(QString("rms %1").arg(std::sqrt(err2 / x2))));
    }

    void mxfp4RoundTrip() {
        const TypeKernels* kt = kernels_for(GgmlType::MXFP4);
        QVERIFY(kt && kt->quantize);
        std::mt19937 rng(3039);
        const int64_t n = 64 * 32;
        std::vector<float> x = random_acts(n, rng);
        for (int64_t i = 0; i < n; ++i) {
            if ((i / 32) % 7 == 1) x[i] = std::fabs(x[i]) + 4.0f;  // one-signed blocks
            if ((i / 32) % 7 == 3) x[i] *= std::ldexp(1.0f, -40);   // quiet blocks
            if ((i / 32) == 5) x[i] = 0.0f;                         // an all-zero block
        }
        std::vector<block_mxfp4> q((size_t)(n / 32));
        kt->quantize(x.data(), q.data(), n);
        std::vector<float> y((size_t)n);
        kt->dequantize(q.data(), y.data(), n);
        const float grid[] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
        double err2 = 0, x2 = 0;
        for (int64_t b = 0; b < n / 32; ++b) {
            float amax = 0.0f;
            for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[b * 32 + j]));
            const float unit = std::ldexp(1.0f, (int)q[b].e - 127);
            if (amax == 0.0f) QCOMPARE((int)q[b].e, 0);
            else QVERIFY2(amax >= 4.0f * unit && amax < 8.0f * unit, qPrintable(QString("block %1: e %2, amax %3")
                                                                                   .arg(b).arg(q[b].e).arg(amax)));
            for (int j = 0; j < 32; ++j) {
                const int64_t i = b * 32 + j;
                const float ax = std::fabs(x[i]) / unit;  // exact: unit is a power of two
                float allowed = 0.0f;
                if (ax >= 6.0f) allowed = ax - 6.0f;
                else
                    for (int g = 0; g < 7; ++g)
                        if (ax >= grid[g] && ax <= grid[g + 1]) allowed = std::fmin(ax - grid[g], grid[g + 1] - ax);
                const float err = std::fabs(y[i] - x[i]) / unit;
                if (!(err <= allowed) || (y[i] != 0.0f && (y[i] < 0.0f) != (x[i] < 0.0f)))
                    QFAIL(qPrintable(QString("element %1: %2 came back as %3 (unit %4)").arg(i).arg(x[i]).arg(y[i])
                                         .arg(unit)));
            }
        }
        for (int64_t i = 0; i < n; ++i)
            if ((i / 32) % 7 != 3) {
                err2 += (double)(y[i] - x[i]) * (y[i] - x[i]);
                x2 += (double)x[i] * x[i];
            }
        QVERIFY2(std::sqrt(err2 / x2) < 0.15, qPrintable(QString("rms %1").arg(std::sqrt(err2 / x2))));
    }

    // The GGUF reader sizes MXFP4 tensors from the type table (17 bytes per 32
    // values): a file with one loads and reads back; a row length that is not
    // a multiple of 32, or data cut short, is refused with a sentence.
    void mxfp4TensorSizes() {
        const TypeTraits* tr = type_traits(39u);
        QVERIFY(tr && tr->supported);
        QCOMPARE(QString(tr->name.data()), QString("MXFP4"));
        QCOMPARE(tr->block_size, 32);
        QCOMPARE(tr->block_bytes, 17);
        QCOMPARE(row_bytes(GgmlType::MXFP4, 2880), 2880 / 32 * 17);  // gpt-oss's hidden size
        QCOMPARE(row_bytes(GgmlType::MXFP4, 48), -1);
        QCOMPARE(row_bytes(GgmlType::MXFP4, -32), -1);

        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string good = (dir.path() + "/mxfp4.gguf").toStdString();
        std::mt19937 rng(39);
        const std::vector<uint8_t> w = random_raw(GgmlType::MXFP4, 64 * 3, rng);
        GgufWriter gw;
        gw.set_string("general.architecture", "llama");
        gw.add_tensor("blk.0.ffn_up_exps.weight", GgmlType::MXFP4, {64, 3}, w);
        QVERIFY(gw.write(good).ok());
        {
            auto f = GgufFile::open(good);
            QVERIFY2(f.ok(), f.ok() ? "" : f.message().c_str());
            const GgufTensorInfo* t = f.value()->find_tensor("blk.0.ffn_up_exps.weight");
            QVERIFY(t && t->type == GgmlType::MXFP4);
            QCOMPARE(t->n_bytes, (uint64_t)w.size());
            QVERIFY(std::memcmp(t->data, w.data(), w.size()) == 0);
        }
        std::ifstream in(good, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto write = [&](const std::string& name, const std::string& b) {
            const std::string p = (dir.path() + "/").toStdString() + name;
            std::ofstream(p, std::ios::binary).write(b.data(), (std::streamsize)b.size());
            return p;
        };
        // the tensor table entry: name, n_dims (u32), ne (u64 each), type (u32)
        const std::string name = "blk.0.ffn_up_exps.weight";
        const size_t at = bytes.find(name);
        QVERIFY(at != std::string::npos);
        std::string odd = bytes;
        const uint64_t ne0 = 48;
        std::memcpy(&odd[at + name.size() + 4], &ne0, 8);
        auto f = GgufFile::open(write("odd-row.gguf", odd));
        QVERIFY(!f.ok());
        QVERIFY2(f.message().find("not a multiple of the MXFP4 block size 32") != std::string::npos, f.message().c_str());
        f = GgufFile::open(write("short.gguf", bytes.substr(0, bytes.size() - 40)));
        QVERIFY(!f.ok());
        QVERIFY2(f.message().find("blk.0.ffn_up_exps.weight") != std::string::npos, f.message().c_str());
    }

    // F16/BF16 conversions of core/fp16.h against numpy's, element by element,
    // including overflow to inf, subnormals and rounding ties.
    void fp16Conversions() {
        const Record* h = find(0, GgmlType::F16);
        const Record* b = find(0, GgmlType::BF16);
        const Record* hq = find(1, GgmlType::F16);
        const Record* bq = find(1, GgmlType::BF16);
        QVERIFY(h && b && hq && bq);
        for (size_t i = 0; i < h->values.size(); ++i) {
            uint16_t v;
            std::memcpy(&v, &h->bytes[2 * i], 2);
            QVERIFY(same_bits(fp16_to_fp32(v), h->values[i]));
            std::memcpy(&v, &b->bytes[2 * i], 2);
            QVERIFY(same_bits(bf16_to_fp32(v), b->values[i]));
        }
        bool saw_inf = false;
        for (size_t i = 0; i < hq->values.size(); ++i) {
            uint16_t want;
            std::memcpy(&want, &hq->bytes[2 * i], 2);
            QCOMPARE(fp32_to_fp16(hq->values[i]), want);
            saw_inf |= (want & 0x7fff) == 0x7c00;
            std::memcpy(&want, &bq->bytes[2 * i], 2);
            QCOMPARE(fp32_to_bf16(bq->values[i]), want);
        }
        QVERIFY(saw_inf);
    }

    // The activation formats: SIMD and scalar quantizers agree byte for byte,
    // and Q8_K round-trips within half a step with exact group sums.
    void activationQuantizers() {
        std::mt19937 rng(7);
        const std::vector<float> x = random_acts(4096, rng);
        for (GgmlType vt : {GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8_K}) {
            const int64_t rb = row_bytes(vt, 4096);
            std::vector<uint8_t> s((size_t)rb);
            force_scalar_kernels(true);
            quant::activation_quantizer(vt)(x.data(), s.data(), 4096);
            for (const char* isa : kIsas) {
                if (!use_isa(isa)) continue;
                std::vector<uint8_t> a((size_t)rb);
                quant::activation_quantizer(vt)(x.data(), a.data(), 4096);
                QVERIFY2(a == s, qPrintable(QString("%1 %2").arg(isa).arg(type_name((uint32_t)vt).data())));
            }
        }
        std::vector<block_q8_K> q(4096 / QK_K);
        quant::activation_quantizer(GgmlType::Q8_K)(x.data(), q.data(), 4096);
        std::vector<float> back(4096);
        quant::any_dequantizer(GgmlType::Q8_K)(q.data(), back.data(), 4096);
        for (size_t b = 0; b < q.size(); ++b) {
            for (int g = 0; g < 16; ++g) {
                int s = 0;
                for (int j = 0; j < 16; ++j) s += q[b].qs[g * 16 + j];
                QCOMPARE((int)q[b].bsums[g], s);
            }
            for (int j = 0; j < QK_K; ++j)
                QVERIFY(std::fabs(back[b * QK_K + j] - x[b * QK_K + j]) <= q[b].d * 0.5f * 1.0001f);
        }
    }

    // vec_dot on the fixture's gguf-py blocks and on a longer random row.
    void vecDotMatchesFloat64_data() { isa_rows(); }
    void vecDotMatchesFloat64() {
        QFETCH(QString, isa);
        QFETCH(int, type);
        const GgmlType t = (GgmlType)type;
        if (!use_isa(isa)) QSKIP("this CPU lacks the instruction set");
        const TypeKernels* kt = kernels_for(t);
        QVERIFY(kt && kt->vec_dot);
        std::mt19937 rng(1000 + type);
        const Record* r = find(0, t);
        QVERIFY(r);
        struct Case { std::vector<uint8_t> w; int64_t n; };
        std::vector<Case> cases;
        // the fixture's float rows are random bit patterns whose products
        // overflow; so do MXFP4's edge scales (up to 2^124, on purpose)
        if (block_size(t) > 1 && t != GgmlType::MXFP4) cases.push_back({r->bytes, (int64_t)r->values.size()});
        cases.push_back({random_raw(t, 4096, rng), 4096});
        // an odd number of blocks: the tails of kernels that take blocks in
        // pairs (IQ4_NL on AVX-512) or decode them 8 at a time (the i-quants)
        if (block_size(t) > 1) cases.push_back({random_raw(t, 37 * block_size(t), rng), 37 * block_size(t)});
        for (const Case& c : cases) {
            const std::vector<float> x = random_acts(c.n, rng);
            const std::vector<uint8_t> xq = quantize_acts(t, x);
            const DotRef ref = reference_dot(t, c.n, c.w.data(), xq.data());
            const float got = kt->vec_dot(c.n, c.w.data(), xq.data());
            QVERIFY(std::isfinite(got));
            if (!(std::fabs((double)got - ref.value) <= ref.tol))
                QFAIL(qPrintable(QString("n %1: got %2, float64 reference %3, bound %4")
                                     .arg(c.n).arg(got, 0, 'g', 9).arg(ref.value, 0, 'g', 12).arg(ref.tol, 0, 'g', 3)));
            // the bound is far below the size of the terms, so a wrong nibble,
            // scale or sign in any block would exceed it
            QVERIFY(ref.tol < 2e-3 * ref.magnitude);
        }
    }

    // The threaded, tiled matmul returns exactly what vec_dot gives per row and
    // token, for odd shapes, 1 and 7 tokens, 1 and 2 threads, on both paths.
    void matmulEqualsVecDot_data() { isa_rows(); }
    void matmulEqualsVecDot() {
        QFETCH(QString, isa);
        QFETCH(int, type);
        const GgmlType t = (GgmlType)type;
        if (!use_isa(isa)) QSKIP("this CPU lacks the instruction set");
        const TypeKernels* kt = kernels_for(t);
        QVERIFY(kt);
        std::mt19937 rng(2000 + type);
        const int64_t k = 512, n = 37;
        const std::vector<uint8_t> w = random_raw(t, k * n, rng);
        const WeightView wv{t, k, n, w.data(), row_bytes(t, k)};
        MatmulScratch scratch;
        scratch.reserve(64);  // too small on purpose: matmul must grow it
        for (int threads : {1, 2}) {
            ThreadPool pool(threads);
            for (int64_t n_tok : {1, 7}) {
                const std::vector<float> x = random_acts(k * n_tok, rng);
                std::vector<float> y((size_t)(n * n_tok), -1.0f);
                matmul(wv, x.data(), n_tok, y.data(), pool, scratch);
                for (int64_t tok = 0; tok < n_tok; ++tok) {
                    const std::vector<float> xt(x.begin() + tok * k, x.begin() + (tok + 1) * k);
                    const std::vector<uint8_t> xq = quantize_acts(t, xt);
                    for (int64_t j = 0; j < n; ++j) {
                        const float want = kt->vec_dot(k, w.data() + j * wv.row_bytes, xq.data());
                        if (!same_bits(y[tok * n + j], want))
                            QFAIL(qPrintable(QString("threads %1, n_tok %2, token %3, row %4: matmul %5, vec_dot %6")
                                                 .arg(threads).arg(n_tok).arg(tok).arg(j)
                                                 .arg(y[tok * n + j], 0, 'g', 9).arg(want, 0, 'g', 9)));
                    }
                }
            }
        }
        QVERIFY(scratch.bytes() >= MatmulScratch::bytes_needed(t, k, 7));
    }

    // Packed weights (quant/packed.h) through the matmul, for every packed
    // type: 37 rows (a partial panel), 1..19 tokens (whole and partial
    // tiles), 1 and 2 threads. Each output is checked against float64 sums of
    // the file's dequantized weights times the activations as the kernel
    // quantized them, within the float rounding of its group-wise sums; and
    // every token gives the same bits alone as in a batch (decode = prefill).
    void packedMatmulMatchesFloat64_data() {
        QTest::addColumn<QString>("isa");
        QTest::addColumn<int>("type");
        for (const char* isa : {"avx2", "avx512vnni"})
            for (GgmlType t : kPackedTypes)
                QTest::newRow(QString("%1/%2").arg(isa).arg(type_name((uint32_t)t).data()).toUtf8().constData())
                    << QString(isa) << (int)t;
    }
    void packedMatmulMatchesFloat64() {
        QFETCH(QString, isa);
        QFETCH(int, type);
        const GgmlType t = (GgmlType)type;
        if (!use_isa(isa)) QSKIP("this CPU lacks the instruction set");
        QVERIFY(packed_kernels_available());
        std::mt19937 rng(3000 + type);
        const int64_t k = 512, n = 37;
        const std::vector<uint8_t> w = random_raw(t, k * n, rng);
        const int64_t rb = row_bytes(t, k);
        const WeightView file{t, k, n, w.data(), rb};
        ThreadPool pack_pool(2);
        const auto P = pack_weights(file, &pack_pool);
        QVERIFY(P);
        QCOMPARE((int64_t)P->bytes(), packed_bytes(t, k, n));
        WeightView wv = file;
        wv.packed = P.get();
        std::vector<double> deq((size_t)(k * n));
        {
            std::vector<float> row((size_t)k);
            for (int64_t j = 0; j < n; ++j) {
                kernels_for(t)->dequantize(w.data() + j * rb, row.data(), k);
                std::copy(row.begin(), row.end(), deq.begin() + j * k);
            }
        }
        const double eps = std::ldexp(1.0, -24);
        MatmulScratch scratch;
        for (int threads : {1, 2}) {
            ThreadPool pool(threads);
            for (int64_t n_tok : {1, 3, 8, 19}) {
                std::vector<float> x = random_acts(k * n_tok, rng);
                x[5] = 40.0f;  // an outlier channel, as real residual streams have
                std::vector<float> y((size_t)(n * n_tok), -1.0f), alone((size_t)n);
                matmul(wv, x.data(), n_tok, y.data(), pool, scratch);
                for (int64_t tok = 0; tok < n_tok; ++tok) {
                    const PackedActs a = packed_acts(t, x.data() + tok * k, k);
                    matmul(wv, x.data() + tok * k, 1, alone.data(), pool, scratch);
                    for (int64_t j = 0; j < n; ++j) {
                        double ref = 0, mag = 0;
                        for (int64_t e = 0; e < k; ++e) {
                            const double xe = (double)a.d[e / 32] * a.q[e];
                            ref += deq[j * k + e] * xe;
                            mag += (std::fabs(deq[j * k + e]) + 2 * group_min_abs(t, w.data() + j * rb, e / 32)) *
                                   std::fabs(xe);
                        }
                        const double tol = eps * (double)(k / 32 + 4) * mag;
                        const float got = y[tok * n + j];
                        if (!(std::fabs(got - ref) <= tol))
                            QFAIL(qPrintable(QString("threads %1, n_tok %2, token %3, row %4: got %5, float64 %6, bound %7")
                                                 .arg(threads).arg(n_tok).arg(tok).arg(j).arg(got, 0, 'g', 9)
                                                 .arg(ref, 0, 'g', 12).arg(tol, 0, 'g', 3)));
                        if (!same_bits(got, alone[j]))
                            QFAIL(qPrintable(QString("n_tok %1, token %2, row %3: %4 in the batch, %5 alone")
                                                 .arg(n_tok).arg(tok).arg(j).arg(got, 0, 'g', 9).arg(alone[j], 0, 'g', 9)));
                        // one wrong element moves a row by about mag / k: far above the bound
                        QVERIFY(tol < 1e-4 * mag);
                    }
                }
            }
        }
    }

    // The AVX2 and AVX-512 packed kernels give the same bits (the same float
    // operations in the same order; integer sums are exact), so a model
    // answers the same on both kinds of CPU.
    void packedIsasAgreeBitwise() {
        if (!use_isa("avx512vnni")) QSKIP("this CPU has no AVX-512 VNNI: only one packed path runs here");
        std::mt19937 rng(77);
        const int64_t k = 768, n = 45;
        ThreadPool pool(2);
        for (GgmlType t : kPackedTypes) {
            const std::vector<uint8_t> w = random_raw(t, k * n, rng);
            WeightView wv{t, k, n, w.data(), row_bytes(t, k)};
            const auto P = pack_weights(wv, &pool);
            QVERIFY(P);
            wv.packed = P.get();
            const std::vector<float> x = random_acts(k * 11, rng);
            MatmulScratch scratch;
            std::vector<float> a((size_t)(n * 11)), b(a.size());
            QVERIFY(use_isa("avx512vnni"));
            matmul(wv, x.data(), 11, a.data(), pool, scratch);
            QVERIFY(use_isa("avx2"));
            matmul(wv, x.data(), 11, b.data(), pool, scratch);
            for (size_t i = 0; i < a.size(); ++i)
                if (!same_bits(a[i], b[i]))
                    QFAIL(qPrintable(QString("%1, output %2: AVX-512 %3, AVX2 %4").arg(type_name((uint32_t)t).data())
                                         .arg(i).arg(a[i], 0, 'g', 9).arg(b[i], 0, 'g', 9)));
        }
    }

    // Several products with one input (Q, K, V) in one job give what one
    // matmul each gives, bit for bit, packed or not, same types or mixed.
    void matmulNEqualsMatmuls() {
        std::mt19937 rng(99);
        const int64_t k = 512;
        ThreadPool pool(2);
        for (bool mixed : {false, true}) {
            const GgmlType types[3] = {GgmlType::Q4_K, mixed ? GgmlType::Q6_K : GgmlType::Q4_K, GgmlType::Q4_K};
            const int64_t ns[3] = {96, 37, 200};
            std::vector<std::vector<uint8_t>> w(3);
            std::vector<std::unique_ptr<PackedMatrix>> packed(3);
            WeightView wv[3];
            for (int i = 0; i < 3; ++i) {
                w[i] = random_raw(types[i], k * ns[i], rng);
                wv[i] = WeightView{types[i], k, ns[i], w[i].data(), row_bytes(types[i], k)};
                packed[i] = pack_weights(wv[i], &pool);
                wv[i].packed = packed[i].get();
            }
            for (int64_t n_tok : {1, 13}) {
                const std::vector<float> x = random_acts(k * n_tok, rng);
                MatmulScratch scratch;
                std::vector<std::vector<float>> a(3), b(3);
                const WeightView* ws[3];
                float* ys[3];
                for (int i = 0; i < 3; ++i) {
                    a[i].assign((size_t)(ns[i] * n_tok), 0.0f);
                    b[i].assign(a[i].size(), 1.0f);
                    matmul(wv[i], x.data(), n_tok, a[i].data(), pool, scratch);
                    ws[i] = &wv[i];
                    ys[i] = b[i].data();
                }
                matmul_n(ws, ys, 3, x.data(), n_tok, pool, scratch);
                for (int i = 0; i < 3; ++i)
                    for (size_t e = 0; e < a[i].size(); ++e)
                        if (!same_bits(a[i][e], b[i][e]))
                            QFAIL(qPrintable(QString("mixed %1, n_tok %2, matrix %3, output %4: %5 alone, %6 together")
                                                 .arg(mixed).arg(n_tok).arg(i).arg(e).arg(a[i][e]).arg(b[i][e])));
            }
        }
    }

    // The packed kernels' activation quantizer: each value within half a step
    // of x, the steps as small as the group's largest value allows.
    void packedActivationQuantizer() {
        if (!packed_kernels_available()) QSKIP("this CPU has no packed kernels (AVX2)");
        std::mt19937 rng(11);
        std::vector<float> x = random_acts(1024, rng);
        for (int j = 64; j < 96; ++j) x[j] = 0.0f;  // an all-zero group
        x[200] = -3000.0f;
        const PackedActs a = packed_acts(GgmlType::Q4_0, x.data(), 1024);
        for (int64_t e = 0; e < 1024; ++e) {
            const float d = a.d[e / 32];
            QVERIFY(a.q[e] != -128);  // symmetric: -127..127
            QVERIFY2(std::fabs(x[e] - d * a.q[e]) <= 0.5f * d * 1.0001f + 1e-30f, qPrintable(QString::number(e)));
        }
        QCOMPARE(a.d[2], 0.0f);
        QCOMPARE((int)a.q[200], -127);
    }

    // Decode and prefill steps touch no allocator once the scratch is reserved
    // at load (the pool's job handle included).
    void matmulDoesNotAllocate() {
        std::mt19937 rng(5);
        const int64_t k = 768, n = 99;  // a multiple of every block size (Q6_K: 256)
        for (GgmlType t : {GgmlType::Q4_1, GgmlType::Q8_0, GgmlType::Q6_K, GgmlType::F32}) {
            const std::vector<uint8_t> w = random_raw(t, k * n, rng);
            const WeightView wv{t, k, n, w.data(), row_bytes(t, k)};
            const std::vector<float> x = random_acts(k * 9, rng);
            std::vector<float> y((size_t)(n * 9));
            ThreadPool pool(2);
            const auto P = pack_weights(wv, &pool);  // null where the CPU or type has no packed form
            for (const PackedMatrix* p : std::initializer_list<const PackedMatrix*>{nullptr, P.get()}) {
                WeightView v = wv;
                v.packed = p;
                MatmulScratch scratch;
                scratch.reserve(MatmulScratch::bytes_needed(t, k, 9, p != nullptr));
                matmul(v, x.data(), 9, y.data(), pool, scratch);  // warm-up
                const long before = g_allocs.load();
                for (int64_t n_tok : {1, 9, 1, 9}) matmul(v, x.data(), n_tok, y.data(), pool, scratch);
                QCOMPARE(g_allocs.load() - before, 0L);
                if (!P) break;
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestQuant)
#include "test_quant.moc"
