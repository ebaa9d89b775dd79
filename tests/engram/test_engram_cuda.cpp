// Engram modules on the GPU (cuda_backend.cpp): the extension says which
// rows a position reads and serves them from its tiers; the backend caches
// them in VRAM and computes the module from its LookupModule description.
//
// On every machine: the description and the row API reproduce apply() — the
// rows read_rows() hands over are the file's bytes, and the module computed
// from the description alone (a plain reference in this file) adds what
// apply() adds. With a GPU (skipped without): a forged Engram model on a
// synthetic base gives the CPU's logits and greedy tokens with all blocks on
// the GPU and with half of them; the smallest VRAM row cache (which evicts
// all the time) gives exactly the logits of one that holds every row; and the
// session's stats show the VRAM tier.
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <set>

#include "backend/gpu.h"
#include "core/thread_pool.h"
#include "cpu/matmul.h"
#include "engram_model.h"
#include "forge.h"
#include "model/synthetic.h"
#include "quant/kernels.h"
#include "runtime/lookup_stager.h"
#include "runtime/session.h"

using namespace eg;

namespace {

constexpr float kLogitTol = 0.35f;  // as test_cuda_model: CPU Q8/F16 activations vs GPU F32

std::vector<float> dequant_rows(const WeightView& w) {
    std::vector<float> out((size_t)(w.n * w.k));
    const TypeKernels* k = kernels_for(w.type);
    for (int64_t r = 0; r < w.n; ++r) k->dequantize(w.data + r * w.row_bytes, out.data() + r * w.k, w.k);
    return out;
}

// y [n_tok, W.n] = e [n_tok, W.k] W^T (+ bias), in double.
std::vector<float> project(const WeightView& W, const std::vector<float>& e, int64_t n_tok, const float* bias) {
    const std::vector<float> w = dequant_rows(W);
    std::vector<float> y((size_t)(n_tok * W.n));
    for (int64_t t = 0; t < n_tok; ++t)
        for (int64_t r = 0; r < W.n; ++r) {
            double a = 0;
            for (int64_t j = 0; j < W.k; ++j) a += (double)w[(size_t)(r * W.k + j)] * e[(size_t)(t * W.k + j)];
            y[(size_t)(t * W.n + r)] = (float)a + (bias ? bias[r] : 0.0f);
        }
    return y;
}

std::vector<float> rms(const float* x, const float* w, int64_t n, float eps) {
    double ss = 0;
    for (int64_t j = 0; j < n; ++j) ss += (double)x[j] * x[j];
    const double s = 1.0 / std::sqrt(ss / (double)n + eps);
    std::vector<float> y((size_t)n);
    for (int64_t j = 0; j < n; ++j) y[(size_t)j] = (float)(x[j] * s * w[j]);
    return y;
}

// The module as LookupModule describes it (model/extension.h), positions
// 0..n_tok, from the rows' bytes: what a GPU backend computes. Returns x + out.
std::vector<float> reference_module(const LookupModule& mod, const std::vector<uint8_t>& rows_by_pos,
                                    std::vector<float> x, int64_t n_tok, int64_t n) {
    const int64_t H = mod.rows_per_token, K = mod.row_values, E = mod.gathered_width();
    std::vector<float> e((size_t)(n_tok * E));
    const TypeKernels* k = kernels_for(mod.row_type);
    for (int64_t i = 0; i < n_tok * H; ++i) k->dequantize(rows_by_pos.data() + i * mod.row_bytes, e.data() + i * K, K);
    std::vector<float> key, value;
    int64_t stride = n;
    if (mod.wkv) {
        key = project(*mod.wkv, e, n_tok, nullptr);
        value = key;
        stride = 2 * n;
    } else {
        key = project(*mod.key, e, n_tok, mod.key_bias);
        value = project(*mod.value, e, n_tok, mod.value_bias);
    }
    const int64_t voff = mod.wkv ? n : 0;
    std::vector<float> out((size_t)(n_tok * n)), hist((size_t)(n_tok * n));
    for (int64_t t = 0; t < n_tok; ++t) {
        const auto q = rms(x.data() + t * n, mod.q_norm, n, mod.eps);
        const auto kn = rms(key.data() + t * stride, mod.k_norm, n, mod.eps);
        double s = 0;
        for (int64_t j = 0; j < n; ++j) s += (double)q[(size_t)j] * kn[(size_t)j];
        s /= std::sqrt((double)n);
        const double z = (s > 0 ? 1 : s < 0 ? -1 : 0) * std::sqrt(std::max(std::fabs(s), 1e-6));
        const double g = 1.0 / (1.0 + std::exp(-z));
        for (int64_t j = 0; j < n; ++j) out[(size_t)(t * n + j)] = (float)(g * value[(size_t)(t * stride + voff + j)]);
        if (mod.conv) {
            const auto h = rms(out.data() + t * n, mod.conv_norm, n, mod.eps);
            std::copy(h.begin(), h.end(), hist.begin() + t * n);
        }
    }
    for (int64_t t = 0; t < n_tok; ++t)
        for (int64_t j = 0; j < n; ++j) {
            double v = out[(size_t)(t * n + j)];
            if (mod.conv) {
                double acc = 0;
                for (int64_t kk = 0; kk < mod.conv_kernel; ++kk) {
                    const int64_t p = t - (mod.conv_kernel - 1 - kk) * mod.conv_dilation;
                    if (p >= 0) acc += (double)mod.conv[j * mod.conv_kernel + kk] * hist[(size_t)(p * n + j)];
                }
                v += acc / (1.0 + std::exp(-acc));
            }
            x[(size_t)(t * n + j)] += (float)v;
        }
    return x;
}

float top2_gap(const float* l, int64_t n) {
    float a = -INFINITY, b = -INFINITY;
    for (int64_t i = 0; i < n; ++i) {
        if (l[i] > a) b = a, a = l[i];
        else if (l[i] > b) b = l[i];
    }
    return a - b;
}

int32_t argmax(const float* l, int64_t n) { return (int32_t)(std::max_element(l, l + n) - l); }

struct Greedy {
    std::vector<float> prompt_logits;
    std::vector<int32_t> tokens;
    std::vector<float> gaps;  // top-2 gap before each token
};

Result<Greedy> greedy(Session& s, const std::vector<int32_t>& prompt, int n) {
    if (auto st = s.eval(prompt); !st) return st.error();
    Greedy g;
    g.prompt_logits.assign(s.logits(), s.logits() + s.n_vocab());
    for (int i = 0; i < n; ++i) {
        int32_t t = argmax(s.logits(), s.n_vocab());
        g.gaps.push_back(top2_gap(s.logits(), s.n_vocab()));
        g.tokens.push_back(t);
        if (auto st = s.eval(&t, 1); !st) return st.error();
    }
    return g;
}

}  // namespace

class TestEngramCuda : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::string v41_, demo_;
    std::vector<int32_t> prompt_;

    std::string forge(const std::string& base, const char* name, engram::Form form, GgmlType type) {
        engram::ForgeOptions o;
        o.base_path = base;
        o.out_path = dir_.filePath(name).toStdString();
        o.form = form;
        o.layers = {1, 2};
        o.max_ngram = 3;
        o.heads = 4;
        o.key_length = 32;
        o.rows_per_head = 1009;
        o.type = type;
        o.seed = 11;
        auto s = engram::forge(o);
        if (!s) qFatal("forge %s failed: %s", name, s.message().c_str());
        return o.out_path;
    }

    static engram::EngramOptions opts(const char* budget) {
        return engram::make_options(budget, "wtinylfu", true, false, false).value();
    }

    // Data rows: both module forms.
    static void add_forms() {
        QTest::addColumn<QString>("which");
        QTest::newRow("v41 F16") << "v41";
        QTest::newRow("demo Q8_0") << "demo";
    }
    const std::string& path_of(const QString& which) const { return which == "v41" ? v41_ : demo_; }

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        SyntheticOptions so;
        so.n_layer = 4;
        so.n_embd = 256;
        so.n_head = 4;
        so.n_head_kv = 2;
        so.n_ff = 512;
        so.n_vocab = 512;
        so.type = GgmlType::Q4_K;
        so.seed = 5;
        so.n_threads = 2;
        so.out_path = dir_.filePath("base.gguf").toStdString();
        const Status st = write_synthetic_model(so);
        QVERIFY2(st.ok(), st.ok() ? "" : st.message().c_str());
        v41_ = forge(so.out_path, "v41.gguf", engram::Form::V41, GgmlType::F16);
        demo_ = forge(so.out_path, "demo.gguf", engram::Form::Demo, GgmlType::Q8_0);
        std::mt19937 rng(3);
        for (int i = 0; i < 100; ++i) prompt_.push_back((int32_t)(rng() % 500));
    }

    void description_reproduces_apply_data() { add_forms(); }
    void description_reproduces_apply() {
        QFETCH(QString, which);
        auto m = engram::load_model(path_of(which), opts("25%"));
        QVERIFY2(m.ok(), m.ok() ? "" : m.message().c_str());
        const Model& model = *m.value();
        ModelExtension& x = *model.extension();
        const int64_t n = model.hparams().n_embd, n_tok = (int64_t)prompt_.size();
        ThreadPool pool(2);
        for (int64_t il : {1, 2}) {
            const LookupModule* mod = x.lookup_module(il);
            QVERIFY(mod != nullptr);
            QCOMPARE(x.lookup_module(0), nullptr);
            QCOMPARE(mod->layer, il);
            QCOMPARE(mod->rows_per_token, int64_t(8));  // (3 - 1) orders x 4 heads
            QCOMPARE(mod->conv != nullptr, which == "demo");
            const GgufTensorInfo* table =
                model.file().find_tensor("blk." + std::to_string(il) + ".engram_embd.weight");
            QVERIFY(table != nullptr);
            QCOMPARE(mod->table_bytes(), table->n_bytes);

            std::vector<float> x0((size_t)(n_tok * n));
            std::mt19937 rng(9);
            std::normal_distribution<float> nd(0, 1);
            for (auto& v : x0) v = nd(rng);

            // apply(), the CPU path.
            auto st1 = x.new_state(256);
            x.prepare(*st1, prompt_.data(), n_tok, 0);
            std::vector<float> want = x0;
            QVERIFY(x.apply(*st1, il, want.data(), n_tok, 0, pool, nullptr).ok());

            // The GPU's path on the host: ids, then the rows' bytes.
            auto st2 = x.new_state(256);
            const uint64_t before_all = x.stats().lookups;
            x.prepare(*st2, prompt_.data(), n_tok, 0);
            const uint64_t all_ahead = x.stats().lookups - before_all;
            std::vector<uint64_t> ids((size_t)(n_tok * mod->rows_per_token));
            QVERIFY(x.lookup_rows(*st2, il, n_tok, 0, ids.data()).ok());
            std::vector<uint64_t> uniq(std::set<uint64_t>(ids.begin(), ids.end()).size());
            {
                std::set<uint64_t> s(ids.begin(), ids.end());
                std::copy(s.begin(), s.end(), uniq.begin());
            }
            QVERIFY(uniq.size() > 8);
            QVERIFY(uniq.back() < mod->n_rows);
            std::vector<uint8_t> bytes(uniq.size() * mod->row_bytes);
            QVERIFY(x.read_rows(*st2, il, n_tok, 0, uniq.data(), uniq.size(), bytes.data()).ok());
            for (size_t i = 0; i < uniq.size(); ++i)
                QVERIFY(std::memcmp(bytes.data() + i * mod->row_bytes, table->data + uniq[i] * mod->row_bytes,
                                    mod->row_bytes) == 0);
            // With a GPU holding every other row, prepare() fetches only the
            // rest ahead; read_rows() still serves every row (the others at
            // once), with the file's bytes; a row past the table is refused.
            const uint64_t lookups0 = x.stats().lookups;
            auto st3 = x.new_state(256);
            x.set_device_rows(*st3, il, [](uint64_t r) { return r % 2 == 0; });
            x.prepare(*st3, prompt_.data(), n_tok, 0);
            const uint64_t ahead = x.stats().lookups - lookups0;
            QVERIFY(x.lookup_rows(*st3, il, n_tok, 0, ids.data()).ok());
            std::fill(bytes.begin(), bytes.end(), 0);
            QVERIFY(x.read_rows(*st3, il, n_tok, 0, uniq.data(), uniq.size(), bytes.data()).ok());
            for (size_t i = 0; i < uniq.size(); ++i)
                QVERIFY(std::memcmp(bytes.data() + i * mod->row_bytes, table->data + uniq[i] * mod->row_bytes,
                                    mod->row_bytes) == 0);
            // Both layers were prepared; this one fetched only its odd rows ahead.
            size_t even = 0;
            for (uint64_t r : uniq) even += r % 2 == 0;
            QVERIFY(even > 0 && even < uniq.size());
            QCOMPARE(all_ahead - ahead, uint64_t(even));
            // The CPU path refuses a layer a GPU runs for this sequence.
            std::vector<float> xx = x0;
            QVERIFY(!x.apply(*st3, il, xx.data(), n_tok, 0, pool, nullptr).ok());
            auto st4 = x.new_state(256);
            x.prepare(*st4, prompt_.data(), n_tok, 0);
            QVERIFY(x.lookup_rows(*st4, il, n_tok, 0, ids.data()).ok());
            const uint64_t past = mod->n_rows;
            auto bad = x.read_rows(*st4, il, n_tok, 0, &past, 1, bytes.data());
            QVERIFY(!bad.ok());
            QVERIFY2(bad.message().find("outside its table") != std::string::npos, bad.message().c_str());

            // The module from the description alone.
            std::vector<uint8_t> by_pos(ids.size() * mod->row_bytes);
            for (size_t i = 0; i < ids.size(); ++i)
                std::memcpy(by_pos.data() + i * mod->row_bytes, table->data + ids[i] * mod->row_bytes, mod->row_bytes);
            const std::vector<float> got = reference_module(*mod, by_pos, x0, n_tok, n);
            double max_delta = 0, max_err = 0;
            for (size_t i = 0; i < got.size(); ++i) {
                max_delta = std::max(max_delta, (double)std::fabs(want[i] - x0[i]));
                max_err = std::max(max_err, (double)std::fabs(want[i] - got[i]));
            }
            QVERIFY2(max_delta > 1e-3, "the module adds something");
            // apply() rounds activations to Q8/F16 for its products: ~1e-2 relative.
            QVERIFY2(max_err <= 2e-2 * max_delta + 1e-4,
                     qPrintable(QString("layer %1: error %2 of a delta %3").arg(il).arg(max_err).arg(max_delta)));
        }
    }

    // The host half of the GPU path (LookupStager) against a host "device"
    // (a byte array of slots): a 100-token prompt in batches of 32, then 40
    // one-token steps, with the smallest cache (one batch of rows, evicting
    // all the time) and with one that holds every row. After each batch's
    // staged rows are written into their slots, every slot the batch reads
    // holds the file's bytes of the row its position reads; rows the device
    // holds are not fetched from DRAM or the file ahead.
    void host_device_staging_data() { add_forms(); }
    void host_device_staging() {
        QFETCH(QString, which);
        auto m = engram::load_model(path_of(which), opts("25%"));
        QVERIFY2(m.ok(), m.ok() ? "" : m.message().c_str());
        const Model& model = *m.value();
        ModelExtension& x = *model.extension();
        const int64_t nb = 32;
        std::vector<int32_t> toks = prompt_;
        std::mt19937 rng(17);
        for (int i = 0; i < 40; ++i) toks.push_back((int32_t)(rng() % 500));
        uint64_t fetched[2] = {0, 0}, staged[2] = {0, 0};
        for (int big = 0; big < 2; ++big) {
            struct Dev {
                std::unique_ptr<LookupStager> stager;
                std::vector<uint8_t> vram;  // the "device" slots
                const uint8_t* file = nullptr;
            };
            std::vector<Dev> devs;
            auto state = x.new_state(256);
            for (int64_t il : {1, 2}) {
                const LookupModule& mod = *x.lookup_module(il);
                Dev d;
                d.stager = std::make_unique<LookupStager>(mod, big ? (uint32_t)mod.n_rows : 0, nb);
                d.stager->attach(x, *state);
                d.vram.assign(d.stager->cache().capacity() * mod.row_bytes, 0xAB);
                d.file = model.file().find_tensor("blk." + std::to_string(il) + ".engram_embd.weight")->data;
                devs.push_back(std::move(d));
            }
            const uint64_t lookups0 = x.stats().lookups;
            auto run = [&](int64_t pos0, int64_t n) {
                for (Dev& d : devs) {
                    const LookupModule& mod = d.stager->module();
                    const size_t ids_n = (size_t)(n * mod.rows_per_token);
                    std::vector<int32_t> slot_of(ids_n), miss(d.stager->max_misses());
                    std::vector<uint8_t> rows((size_t)d.stager->max_misses() * mod.row_bytes);
                    auto k = d.stager->stage(x, *state, n, pos0, slot_of.data(), miss.data(), rows.data());
                    QVERIFY2(k.ok(), k.ok() ? "" : k.message().c_str());
                    for (size_t i = 0; i < k.value(); ++i)
                        std::memcpy(d.vram.data() + (size_t)miss[i] * mod.row_bytes, rows.data() + i * mod.row_bytes,
                                    mod.row_bytes);
                    std::vector<uint64_t> ids(ids_n);
                    QVERIFY(x.lookup_rows(*state, mod.layer, n, pos0, ids.data()).ok());
                    for (size_t i = 0; i < ids_n; ++i)
                        QVERIFY2(std::memcmp(d.vram.data() + (size_t)slot_of[i] * mod.row_bytes,
                                             d.file + ids[i] * mod.row_bytes, mod.row_bytes) == 0,
                                 qPrintable(QString("layer %1, position %2: slot %3 does not hold row %4")
                                                .arg(mod.layer)
                                                .arg(pos0 + (int64_t)i / mod.rows_per_token)
                                                .arg(slot_of[i])
                                                .arg(ids[i])));
                }
            };
            x.prepare(*state, toks.data(), 100, 0);
            for (int64_t p = 0; p < 100; p += nb) {
                run(p, std::min<int64_t>(nb, 100 - p));
                if (QTest::currentTestFailed()) return;
            }
            for (int64_t p = 100; p < (int64_t)toks.size(); ++p) {
                x.prepare(*state, toks.data() + p, 1, p);
                run(p, 1);
                if (QTest::currentTestFailed()) return;
            }
            fetched[big] = x.stats().lookups - lookups0;
            for (const Dev& d : devs) staged[big] += d.stager->staged_bytes();
            if (!big)
                for (const Dev& d : devs) QCOMPARE(d.stager->cache().size(), d.stager->cache().capacity());  // full
        }
        // Holding every row, the device re-reads none and fetches less ahead.
        QVERIFY2(staged[1] < staged[0], qPrintable(QString("%1 vs %2").arg(staged[1]).arg(staged[0])));
        QVERIFY2(fetched[1] < fetched[0], qPrintable(QString("%1 vs %2").arg(fetched[1]).arg(fetched[0])));
    }

    void gpu_matches_cpu_data() { add_forms(); }
    void gpu_matches_cpu() {
        std::string why;
        if (cuda_probe(false, &why).empty()) QSKIP(qPrintable(QString::fromStdString("no CUDA device: " + why)));
        QFETCH(QString, which);
        const std::string path = path_of(which);
        const int n_gen = 48;
        auto run = [&](std::vector<BlockRange> split, uint64_t vram) -> std::pair<Greedy, ExtensionStats> {
            auto m = engram::load_model(path, opts("25%"));
            if (!m) qFatal("%s", m.message().c_str());
            SessionOptions so(256, 32, 2);  // a 100-token prompt: four prefill batches
            so.split = std::move(split);
            so.engram_vram_bytes = vram;
            auto s = Session::create(*m.value(), so);
            if (!s) qFatal("%s", s.message().c_str());
            auto g = greedy(*s.value(), prompt_, n_gen);
            if (!g) qFatal("%s", g.message().c_str());
            return {g.value(), s.value()->extension_stats()};
        };
        const auto [cpu, cpu_stats] = run({}, 0);
        const auto [big, big_stats] = run({{"cuda:0", 0, 4}}, 64ull << 20);
        const auto [small, small_stats] = run({{"cuda:0", 0, 4}}, 0);
        const auto [half, half_stats] = run({{"cpu", 0, 2}, {"cuda:0", 2, 4}}, 64ull << 20);
        QVERIFY(cpu_stats.tiers.empty() || cpu_stats.tiers[0].tier != "vram");

        // Evicting all the time changes nothing: the same bits.
        QCOMPARE(small.prompt_logits, big.prompt_logits);
        QCOMPARE(small.tokens, big.tokens);
        QCOMPARE(big_stats.tiers[0].tier, std::string("vram"));
        QCOMPARE(small_stats.tiers[0].tier, std::string("vram"));
        QVERIFY(small_stats.tiers[0].capacity_bytes < big_stats.tiers[0].capacity_bytes);
        QVERIFY(small_stats.tiers[0].misses > big_stats.tiers[0].misses);
        QVERIFY(big_stats.tiers[0].hits > 0);
        QCOMPARE(small_stats.tiers[0].hits + small_stats.tiers[0].misses,
                 big_stats.tiers[0].hits + big_stats.tiers[0].misses);
        // Rows held in VRAM are not fetched from DRAM or the SSD ahead.
        QVERIFY(big_stats.lookups < small_stats.lookups);

        for (const Greedy* g : {&big, &half}) {
            float d = 0;
            for (size_t i = 0; i < cpu.prompt_logits.size(); ++i)
                d = std::max(d, std::fabs(g->prompt_logits[i] - cpu.prompt_logits[i]));
            QVERIFY2(d <= kLogitTol, qPrintable(QString("max logit difference %1").arg(d)));
            for (int i = 0; i < n_gen; ++i) {
                if (g->tokens[(size_t)i] == cpu.tokens[(size_t)i]) continue;
                // A first difference is allowed only at a near-tie.
                QVERIFY2(cpu.gaps[(size_t)i] <= 2 * kLogitTol,
                         qPrintable(QString("token %1 differs with a top-2 gap of %2").arg(i).arg(cpu.gaps[(size_t)i])));
                break;
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestEngramCuda)
#include "test_engram_cuda.moc"
