// The planner as a user meets it: "where does my model go with this much
// VRAM and DRAM, how fast will it decode, and if it does not fit, why?".
// ModelInfo from the real SmolLM2 file and from a small written GGUF with an
// Engram table; 1B/8B/70B llama-shaped models (with and without Engram
// tables) under VRAM budgets 0-80 GB and Engram DRAM budgets 0-100% on an
// assumed GPU; the hardware probe's cache; the real `engram-cli plan`.
#include <QtTest>

#include <QProcess>
#include <QTemporaryDir>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "plan/model_info.h"
#include "plan/planner.h"
#include "plan/probe.h"
#include "quant/types.h"
#include "test_env.h"

using namespace eg;

namespace {

constexpr uint64_t GiB = 1ull << 30;

// A llama-shaped model as the planner sees it: Q4_K blocks (4.5 bits per
// weight: 144 bytes per 256), F32 norms, a Q6_K output head, two Engram
// tables of F16 rows of 256 values (512 bytes) at blocks 1 and n_layer / 2.
ModelInfo llama_shape(const std::string& name, int64_t n_layer, int64_t n_embd, int64_t n_ff, int64_t n_head,
                      int64_t n_head_kv, int64_t n_vocab, bool tied, uint64_t engram_rows_per_table) {
    ModelInfo m;
    m.path = name;
    m.arch = "llama";
    m.n_layer = n_layer;
    m.n_embd = n_embd;
    m.n_ff = n_ff;
    m.n_head = n_head;
    m.n_head_kv = n_head_kv;
    m.head_dim = n_embd / n_head;
    m.n_vocab = n_vocab;
    m.n_ctx_train = 131072;
    m.tied_output = tied;
    const uint64_t q_dim = (uint64_t)n_embd, kv_dim = (uint64_t)(n_head_kv * m.head_dim);
    const uint64_t params = (uint64_t)n_embd * (q_dim + 2 * kv_dim) + q_dim * (uint64_t)n_embd + 3ull * n_embd * n_ff;
    m.block_weight_bytes.assign((size_t)n_layer, params * 144 / 256 + 2ull * n_embd * 4);
    m.token_embd_bytes = (uint64_t)n_embd * n_vocab * 144 / 256;
    m.token_row_bytes = (uint64_t)n_embd * 144 / 256;
    m.output_bytes = tied ? m.token_embd_bytes : (uint64_t)n_embd * n_vocab * 210 / 256;
    m.output_norm_bytes = (uint64_t)n_embd * 4;
    if (engram_rows_per_table) {
        m.engram_head_count = 8;
        m.engram_max_ngram = 3;
        for (int64_t il : {int64_t(1), n_layer / 2})
            m.engram_tables.push_back(
                {il, "blk." + std::to_string(il) + ".engram_embd.weight", engram_rows_per_table, 512, 256});
    }
    m.file_bytes = m.weights_bytes() + m.engram_table_bytes();
    return m;
}

// The real SmolLM2-135M (read in initTestCase) and the same with Engram
// tables as `scripts/bench-engram.sh` forges them: blocks 1 and 15, F16
// rows of 64 values, 4 GiB each.
ModelInfo g_smol;

ModelInfo smol_with_engram() {
    ModelInfo m = g_smol;
    m.path = "SmolLM2+engram";
    m.engram_head_count = 8;
    m.engram_max_ngram = 3;
    for (int64_t il : {int64_t(1), int64_t(15)})
        m.engram_tables.push_back({il, "blk." + std::to_string(il) + ".engram_embd.weight", 32ull << 20, 128, 64});
    m.file_bytes += m.engram_table_bytes();
    return m;
}

std::vector<ModelInfo> shapes() {
    std::vector<ModelInfo> smol;
    if (g_smol.n_layer > 0) {
        smol.push_back(g_smol);
        smol.back().path = "SmolLM2";
        smol.push_back(smol_with_engram());
    }
    std::vector<ModelInfo> all = {
        llama_shape("1B", 16, 2048, 8192, 32, 8, 128256, true, 0),
        llama_shape("1B+engram", 16, 2048, 8192, 32, 8, 128256, true, 2u << 20),      // 2 GiB of tables
        llama_shape("8B", 32, 4096, 14336, 32, 8, 128256, false, 0),
        llama_shape("8B+engram", 32, 4096, 14336, 32, 8, 128256, false, 8u << 20),    // 8 GiB
        llama_shape("70B", 80, 8192, 28672, 64, 8, 128256, false, 0),
        llama_shape("70B+engram", 80, 8192, 28672, 64, 8, 128256, false, 32u << 20),  // 32 GiB
    };
    all.insert(all.begin(), smol.begin(), smol.end());
    return all;
}

ModelInfo shape(const std::string& name) {
    for (const ModelInfo& m : shapes())
        if (m.path == name) return m;
    qFatal("no model shape %s", name.c_str());
}

// A workstation: 64 GiB of DRAM (56 free) and an assumed 80 GB GPU, so that
// every VRAM budget of the table is honoured.
Hardware workstation() {
    Hardware hw;
    hw.dram_total_bytes = 64 * GiB;
    hw.dram_free_bytes = 56 * GiB;
    hw.dram_read_GBps = 40;
    hw.ssd_read_GBps = 1.0;
    hw.gpus.push_back({"assumed", 80 * GiB, 80 * GiB, 25, 2000});
    return hw;
}

const std::vector<uint64_t> kVramBudgets = {0, 4 * GiB, 8 * GiB, 24 * GiB, 80 * GiB};
const std::vector<double> kEngramShares = {0, 0.05, 0.25, 1.0};

Budgets budgets(const ModelInfo& m, uint64_t vram, double engram_share, int64_t n_ctx = 4096) {
    Budgets b;
    b.vram_bytes = vram;
    b.engram_dram_bytes = (uint64_t)std::llround(engram_share * (double)m.engram_table_bytes());
    b.n_ctx = n_ctx;
    return b;
}

QString all_problems(const Placement& p) {
    QStringList l;
    for (const auto& s : p.problems) l << QString::fromStdString(s);
    return l.join(" | ");
}

bool any_problem(const Placement& p, const QString& needle) {
    for (const auto& s : p.problems)
        if (QString::fromStdString(s).contains(needle)) return true;
    return false;
}

// Every block exactly once, in order; GPU blocks contiguous at the end; every
// byte of the model (weights, KV, Engram tables) in exactly one tier, apart
// from the copies the plan names (a tied head uploaded, the CPU's packed
// copies beyond the file's bytes, the VRAM hot-row cache); nothing over a tier's capacity that the plan did not move on.
QString check_invariants(const ModelInfo& m, const Budgets& b, const Placement& p) {
    if ((int64_t)p.blocks.size() != m.n_layer) return "blocks placed: " + QString::number(p.blocks.size());
    int64_t n_gpu = 0;
    for (int64_t i = 0; i < m.n_layer; ++i) {
        const auto& bp = p.blocks[(size_t)i];
        if (bp.index != i) return QString("block %1 at position %2").arg(bp.index).arg(i);
        if (bp.device != "cpu" && bp.device != "cuda:0") return "device " + QString::fromStdString(bp.device);
        if (bp.device == "cuda:0") ++n_gpu;
        if (i > 0 && p.blocks[(size_t)i - 1].device == "cuda:0" && bp.device == "cpu")
            return QString("block %1 on the CPU after a GPU block").arg(i);
    }
    if (n_gpu != p.n_gpu_blocks) return "n_gpu_blocks disagrees with the blocks";
    const uint64_t copy = (p.output_copies_token_table ? m.output_bytes : 0) + p.cpu_packed_extra_bytes;
    const uint64_t weights = p.vram.weights_bytes + p.dram.weights_bytes + p.ssd.weights_bytes;
    if (weights != m.weights_bytes() + copy)
        return QString("weights over tiers %1, model %2 (+copy %3)").arg(weights).arg(m.weights_bytes()).arg(copy);
    const uint64_t kv = p.vram.kv_bytes + p.dram.kv_bytes + p.ssd.kv_bytes;
    if (kv != (uint64_t)m.n_layer * m.kv_bytes_per_block(b.n_ctx)) return "KV over tiers does not add up";
    if (p.dram.engram_bytes + p.ssd.engram_bytes != m.engram_table_bytes()) return "Engram tables do not add up";
    uint64_t gpu_tables = 0;
    for (const auto& t : m.engram_tables)
        if (p.blocks[(size_t)t.layer].device == "cuda:0") gpu_tables += t.bytes();
    if (p.vram.engram_bytes > gpu_tables) return "VRAM hot-row cache larger than the GPU layers' tables";
    if (p.vram.bytes() > b.vram_bytes) return QString("VRAM use %1 over the budget %2").arg(p.vram.bytes()).arg(b.vram_bytes);
    if (p.dram.engram_bytes > b.engram_dram_bytes) return "resident Engram rows over the Engram DRAM budget";
    if (p.dram.bytes() > p.dram.capacity_bytes && p.ssd.weights_bytes == 0) return "DRAM over capacity, nothing moved";
    if ((p.vram.bytes() > 0) != (p.output_device == "cuda:0")) return "VRAM used without the head on the GPU";
    const double tps = p.predicted.decode_tokens_per_s;
    if (!(tps > 0) || !std::isfinite(tps)) return "prediction " + QString::number(tps);
    return {};
}

std::string write_gguf(const QString& dir, const std::string& name, const GgufWriter& w) {
    const std::string path = (dir + "/").toStdString() + name;
    Status s = w.write(path);
    return s.ok() ? path : std::string();
}

// A two-block llama GGUF with an Engram table at block 1 (F16, 64 values a
// row, 1000 rows); `mutate` breaks it for the error cases.
GgufWriter engram_gguf(const std::function<void(GgufWriter&, std::vector<int32_t>&, std::string&)>& mutate = {}) {
    GgufWriter w;
    std::vector<int32_t> layer_ids = {1};
    std::string table = "blk.1.engram_embd.weight";
    if (mutate) mutate(w, layer_ids, table);
    w.set_string("general.architecture", "llama");
    w.set_u32("llama.block_count", 2);
    w.set_u32("llama.embedding_length", 8);
    w.set_u32("llama.feed_forward_length", 16);
    w.set_u32("llama.attention.head_count", 2);
    w.set_u32("llama.attention.head_count_kv", 1);
    w.set_u32("llama.context_length", 256);
    w.set_i32_array("llama.engram.layer_ids", layer_ids);
    w.set_u32("llama.engram.head_count", 4);
    w.set_u32("llama.engram.max_ngram_size", 3);
    w.set_u32("llama.engram.key_length", 64);
    auto f32 = [&](const std::string& n, std::vector<int64_t> ne) {
        int64_t c = 1;
        for (auto x : ne) c *= x;
        w.add_tensor(n, GgmlType::F32, ne, std::vector<uint8_t>((size_t)c * 4, 0));
    };
    f32("token_embd.weight", {8, 32});
    f32("output_norm.weight", {8});
    for (int il = 0; il < 2; ++il) {
        const std::string b = "blk." + std::to_string(il) + ".";
        f32(b + "attn_q.weight", {8, 8});
        f32(b + "ffn_up.weight", {8, 16});
    }
    w.add_tensor(table, GgmlType::F16, {64, 1000}, std::vector<uint8_t>(64 * 1000 * 2, 0));
    return w;
}

struct Run {
    int code = -1;
    QString out, err;
};

Run run(const QString& program, const QStringList& args, const QProcessEnvironment& env) {
    QProcess p;
    p.setProcessEnvironment(env);
    p.start(program, args);
    if (!p.waitForStarted()) return {};
    p.closeWriteChannel();
    if (!p.waitForFinished(120000)) {
        p.kill();
        p.waitForFinished();
    }
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}

}  // namespace

class TestPlanner : public QObject {
    Q_OBJECT
    std::string smol_path_;
    ModelInfo smol_;
    QTemporaryDir tmp_;

private slots:
    void initTestCase() {
        smol_path_ = eg_test::default_model_path();
        if (!QFile::exists(QString::fromStdString(smol_path_)))
            QFAIL(qPrintable(QString("default model missing at %1: run scripts/fetch-model.sh").arg(smol_path_.c_str())));
        auto f = GgufFile::open(smol_path_);
        QVERIFY2(f.ok(), f.ok() ? "" : f.message().c_str());
        auto mi = model_info(*f.value());
        QVERIFY2(mi.ok(), mi.ok() ? "" : mi.message().c_str());
        smol_ = mi.value();
        g_smol = smol_;
        QVERIFY(tmp_.isValid());
    }

    // The numbers `engram-cli info` users know for SmolLM2-135M, and every
    // tensor byte of the file accounted for exactly once.
    void smollm2_model_info() {
        QCOMPARE(smol_.arch, std::string("llama"));
        QCOMPARE(smol_.n_layer, 30);
        QCOMPARE(smol_.n_embd, 576);
        QCOMPARE(smol_.n_ff, 1536);
        QCOMPARE(smol_.n_head, 9);
        QCOMPARE(smol_.n_head_kv, 3);
        QCOMPARE(smol_.head_dim, 64);
        QCOMPARE(smol_.n_vocab, 49152);
        QCOMPARE(smol_.n_ctx_train, 8192);
        QVERIFY(smol_.tied_output);
        QVERIFY(smol_.engram_tables.empty());
        QCOMPARE(smol_.engram_rows_per_token(), 0);
        auto f = GgufFile::open(smol_path_);
        QVERIFY(f.ok());
        uint64_t all = 0;
        for (const auto& t : f.value()->tensors()) all += t.n_bytes;
        QCOMPARE(smol_.weights_bytes(), all);
        for (int64_t i = 0; i < smol_.n_layer; ++i) {
            QCOMPARE(smol_.block_weight_bytes[(size_t)i], smol_.block_weight_bytes[0]);  // same shapes and types
            QVERIFY(smol_.block_weight_bytes[(size_t)i] > 2'000'000);  // ~3.5M params at 4.5+ bits
        }
        QCOMPARE(smol_.output_bytes, smol_.token_embd_bytes);
        // F16 K and V of 3 heads of 64 at 4096 tokens: 3 MiB per block.
        QCOMPARE(smol_.kv_bytes_per_block(4096), 2ull * 4096 * 3 * 64 * 2);
    }

    void engram_model_info() {
        const std::string path = write_gguf(tmp_.path(), "engram.gguf", engram_gguf());
        QVERIFY(!path.empty());
        auto f = GgufFile::open(path);
        QVERIFY2(f.ok(), f.ok() ? "" : f.message().c_str());
        auto mi = model_info(*f.value());
        QVERIFY2(mi.ok(), mi.ok() ? "" : mi.message().c_str());
        QCOMPARE(mi->engram_tables.size(), size_t(1));
        const EngramTableShape& t = mi->engram_tables[0];
        QCOMPARE(t.layer, 1);
        QCOMPARE(t.rows, uint64_t(1000));
        QCOMPARE(t.row_bytes, uint64_t(128));
        QCOMPARE(t.bytes(), uint64_t(128000));
        QCOMPARE(t.row_values, int64_t(64));
        QVERIFY(!t.has_conv);
        QCOMPARE(mi->engram_rows_per_token(), 8);  // (3 - 1) orders x 4 heads
        // The table is not a block weight: both blocks weigh the same.
        QCOMPARE(mi->block_weight_bytes[0], mi->block_weight_bytes[1]);
        QCOMPARE(mi->block_weight_bytes[1], uint64_t((64 + 128) * 4));
    }

    void engram_model_info_errors_data() {
        QTest::addColumn<int>("which");
        QTest::addColumn<QString>("expected");
        QTest::newRow("layer past block_count") << 0 << "llama.engram.layer_ids: block 5 is outside [0, 2)";
        QTest::newRow("table missing") << 1 << "tensor blk.1.engram_embd.weight: missing";
        QTest::newRow("block tensor past block_count") << 2 << "tensor blk.7.attn_k.weight: block 7 is past";
    }
    void engram_model_info_errors() {
        QFETCH(int, which);
        QFETCH(QString, expected);
        GgufWriter w = engram_gguf([&](GgufWriter& w, std::vector<int32_t>& ids, std::string& table) {
            if (which == 0) ids = {5};
            if (which == 1) table = "blk.0.engram_other.weight";
            if (which == 2) w.add_tensor("blk.7.attn_k.weight", GgmlType::F32, {8}, std::vector<uint8_t>(32, 0));
        });
        const std::string path = write_gguf(tmp_.path(), "bad" + std::to_string(which) + ".gguf", w);
        QVERIFY(!path.empty());
        auto f = GgufFile::open(path);
        QVERIFY2(f.ok(), f.ok() ? "" : f.message().c_str());
        auto mi = model_info(*f.value());
        QVERIFY(!mi.ok());
        const QString msg = QString::fromStdString(mi.message());
        QVERIFY2(msg.contains(expected), qPrintable(msg));
        QVERIFY2(msg.contains(QString::fromStdString(path)), qPrintable(msg));  // names the file
    }

    // The matrix: every model shape x VRAM budget x Engram DRAM share.
    void scenarios_data() {
        QTest::addColumn<int>("model");
        QTest::addColumn<quint64>("vram");
        QTest::addColumn<double>("engram");
        const auto ms = shapes();
        for (int mi = 0; mi < (int)ms.size(); ++mi)
            for (uint64_t v : kVramBudgets)
                for (double e : kEngramShares) {
                    if (ms[(size_t)mi].engram_tables.empty() && e != 1.0) continue;
                    QTest::addRow("%s vram=%lluG engram=%g%%", ms[(size_t)mi].path.c_str(),
                                  (unsigned long long)(v / GiB), e * 100)
                        << mi << (quint64)v << e;
                }
    }
    void scenarios() {
        QFETCH(int, model);
        QFETCH(quint64, vram);
        QFETCH(double, engram);
        const ModelInfo m = shapes()[(size_t)model];
        const Budgets b = budgets(m, vram, engram);
        const Placement p = plan(m, workstation(), b);
        const QString bad = check_invariants(m, b, p);
        QVERIFY2(bad.isEmpty(), qPrintable(bad + " / problems: " + all_problems(p)));
        if (vram == 0) {
            QCOMPARE(p.n_gpu_blocks, 0);
            QCOMPARE(p.output_device, std::string("cpu"));
            QCOMPARE(p.vram.bytes(), uint64_t(0));
        }
        // Whatever does not fit on the GPU is said in words.
        if (vram > 0 && p.n_gpu_blocks < m.n_layer)
            QVERIFY2(any_problem(p, QString("of %1 blocks").arg(m.n_layer)) || any_problem(p, "cannot hold the output head"),
                     qPrintable(all_problems(p)));
        // Engram rows not resident come from the SSD: 4 KiB reads per miss.
        if (!m.engram_tables.empty() && engram < 1.0 && p.vram.engram_bytes == 0) QVERIFY(p.predicted.ssd_bytes > 0);
        const nlohmann::json j = to_json(p);
        QCOMPARE(j["blocks"].size(), (size_t)m.n_layer);
        QCOMPARE(j["tiers"]["vram"]["bytes"].get<uint64_t>(), p.vram.bytes());
        QVERIFY(j["predicted"]["decode_tokens_per_s"].get<double>() > 0);
    }

    // More VRAM or more Engram DRAM never predicts a slower decode (fine
    // sweeps, not just the table's points). Bytes per token are whole bytes:
    // a byte of rounding moves a prediction by ~1e-9, hence the 1e-7 slack.
    void predictions_monotonic() {
        for (const ModelInfo& m : shapes()) {
            for (double e : kEngramShares) {
                double last = 0;
                for (uint64_t v = 0; v <= 80 * GiB; v += GiB / 4) {
                    const double tps = plan(m, workstation(), budgets(m, v, e)).predicted.decode_tokens_per_s;
                    QVERIFY2(tps >= last * (1 - 1e-7),
                             qPrintable(QString("%1: %2 tok/s at %3 GiB VRAM after %4 with less")
                                            .arg(m.path.c_str()).arg(tps, 0, 'g', 17).arg(v / (double)GiB).arg(last, 0, 'g', 17)));
                    last = tps;
                }
            }
            if (m.engram_tables.empty()) continue;
            for (uint64_t v : kVramBudgets) {
                double last = 0;
                for (int pct = 0; pct <= 100; ++pct) {
                    const double tps = plan(m, workstation(), budgets(m, v, pct / 100.0)).predicted.decode_tokens_per_s;
                    QVERIFY2(tps >= last * (1 - 1e-7),
                             qPrintable(QString("%1: %2 tok/s at Engram %3% after %4 with less")
                                            .arg(m.path.c_str()).arg(tps).arg(pct).arg(last)));
                    last = tps;
                }
            }
        }
    }

    // The 8B model (4.6 GB at Q4_K) fits a 24 GB card whole, head included,
    // with nothing to complain about, and decodes far faster than on the CPU.
    void eight_b_fits_24g() {
        const ModelInfo m = shape("8B+engram");
        const Placement p = plan(m, workstation(), budgets(m, 24 * GiB, 1.0));
        QCOMPARE(p.n_gpu_blocks, m.n_layer);
        QCOMPARE(p.output_device, std::string("cuda:0"));
        QVERIFY2(p.problems.empty(), qPrintable(all_problems(p)));
        QCOMPARE(p.kv.size(), size_t(2));
        QCOMPARE(p.kv[1].device, std::string("cuda:0"));
        QCOMPARE(p.kv[1].kv_bytes, 32 * m.kv_bytes_per_block(4096));
        // The Engram block 1 and 16 run on the GPU: leftover VRAM caches hot rows.
        QVERIFY(p.vram.engram_bytes > 0);
        const Placement cpu = plan(m, workstation(), budgets(m, 0, 1.0));
        QVERIFY(p.predicted.decode_tokens_per_s > 5 * cpu.predicted.decode_tokens_per_s);
        // Bandwidth-bound: ~4.6 GB at 2000 GB/s is at most ~430 tok/s.
        QVERIFY(p.predicted.decode_tokens_per_s < 2000e9 / (double)m.blocks_bytes());
    }

    void partial_offload_explained() {
        const ModelInfo m = shape("8B");  // 8B
        const Placement p = plan(m, workstation(), budgets(m, 2 * GiB, 1.0));
        QVERIFY(p.n_gpu_blocks > 0 && p.n_gpu_blocks < m.n_layer);
        QVERIFY2(any_problem(p, QString("the VRAM budget of 2.0 GiB holds %1 of 32 blocks").arg(p.n_gpu_blocks)),
                 qPrintable(all_problems(p)));
        QCOMPARE(p.blocks.back().device, std::string("cuda:0"));  // the last blocks, with the head
        QCOMPARE(p.blocks.front().device, std::string("cpu"));
        QCOMPARE(p.predicted.pcie_crossings, 2);
    }

    void kv_cache_explained() {
        // 131072 tokens of KV: 512 MiB per block; the weights would fit 16 GB, the KV does not.
        const ModelInfo m = shape("8B");
        const Placement p = plan(m, workstation(), budgets(m, 16 * GiB, 1.0, 131072));
        QVERIFY(p.n_gpu_blocks < m.n_layer);
        QVERIFY2(any_problem(p, "the KV cache of 131072 tokens needs"), qPrintable(all_problems(p)));
        QVERIFY2(any_problem(p, "a shorter --ctx"), qPrintable(all_problems(p)));
    }

    void no_gpu_all_cpu() {
        Hardware hw = workstation();
        hw.gpus.clear();
        const ModelInfo m = shape("8B");
        const Placement p = plan(m, hw, budgets(m, 8 * GiB, 1.0));
        QCOMPARE(p.n_gpu_blocks, 0);
        for (const auto& bp : p.blocks) QCOMPARE(bp.device, std::string("cpu"));
        QCOMPARE(p.output_device, std::string("cpu"));
        QVERIFY2(any_problem(p, "no GPU: the VRAM budget of 8.0 GiB is ignored, all 32 blocks run on the CPU"),
                 qPrintable(all_problems(p)));
        // CPU decode of 4.6 GB at 40 GB/s: a handful of tokens per second.
        QVERIFY(p.predicted.decode_tokens_per_s > 3 && p.predicted.decode_tokens_per_s < 10);
    }

    // A mixture of experts: the tiers hold every expert, a token reads the
    // ones it runs (2 of 8 in the tiny qwen3moe: a quarter), and its blocks
    // stay on the CPU (the CUDA backend does not run experts yet) with a
    // note saying so.
    void moe_reads_the_used_experts() {
        auto f = GgufFile::open(eg_test::fixture("reference/moe/qwen3moe-tiny.gguf"));
        QVERIFY(f.ok());
        auto mi = model_info(*f.value());
        QVERIFY2(mi.ok(), mi.ok() ? "" : mi.message().c_str());
        const ModelInfo& m = mi.value();
        QCOMPARE(m.n_expert, int64_t(8));
        QCOMPARE(m.expert_read_share(), 0.25);
        for (int64_t il = 0; il < m.n_layer; ++il) {
            const uint64_t e = m.block_expert_cpu_bytes[(size_t)il];
            QVERIFY(e > 0);
            QCOMPARE(m.block_cpu(il) - m.block_cpu_read(il), e - e / 4);
        }
        const Placement p = plan(m, workstation(), budgets(m, 8 * GiB, 1.0, 256));
        QCOMPARE(p.n_gpu_blocks, 0);
        bool noted = false;
        for (const auto& n : p.notes) noted = noted || n.find("experts") != std::string::npos;
        QVERIFY(noted);
        uint64_t held = 0, read = 0;
        for (int64_t il = 0; il < m.n_layer; ++il) held += m.block_cpu(il), read += m.block_cpu_read(il);
        QVERIFY(p.dram.weights_bytes + p.dram.expert_bytes >= held);
        QCOMPARE(p.dram.expert_bytes, p.experts.total_bytes);
        QVERIFY(p.predicted.dram_bytes < held);
        QVERIFY(p.predicted.dram_bytes >= read);
    }

    // Decode attention on the CPU: with the attention rates measured, a
    // token deep in a long context costs the KV the kernel streams at its
    // measured rate; without them, the KV bytes at DRAM speed alone. The
    // context is the one asked for (decode_kv_tokens), else half of n_ctx.
    void cpu_attention_priced() {
        Hardware hw = workstation();
        hw.gpus.clear();
        hw.cpu_threads = 2;
        const ModelInfo m = shape("8B");
        Budgets b = budgets(m, 0, 1.0, 8192);
        const Placement plain = plan(m, hw, b);
        QCOMPARE(plain.predicted.kv_tokens, int64_t(4096));
        b.decode_kv_tokens = 8000;
        const Placement deep = plan(m, hw, b);
        QCOMPARE(deep.predicted.kv_tokens, int64_t(8000));
        const double kv_s = (double)m.kv_bytes_per_block(8000) * (double)m.n_layer / 40e9;
        // More context, more KV read: exactly its bytes at 40 GB/s.
        QVERIFY(std::fabs((1 / deep.predicted.decode_tokens_per_s - 1 / plain.predicted.decode_tokens_per_s) -
                          ((double)m.kv_bytes_per_block(8000 - 4096) * (double)m.n_layer / 40e9)) < 1e-6);
        // A kernel that streams the KV at 10 GB/s (a quarter of DRAM's):
        // the attention takes four times the KV's read time.
        hw.cpu_attention.push_back({128, 1000, 1000, 10, 10});
        const Placement slow = plan(m, hw, b);
        QVERIFY(std::fabs((1 / slow.predicted.decode_tokens_per_s - 1 / deep.predicted.decode_tokens_per_s) -
                          3 * kv_s) < 1e-6);
        QVERIFY(slow.predicted.cpu_compute_s > deep.predicted.cpu_compute_s);
        // Arithmetic slower than the stream (10 GMAC/s): priced by its MACs.
        hw.cpu_attention = {{128, 10, 10, 1000, 1000}};
        const double macs = 2.0 * (double)m.n_head * 8000 * (double)m.head_dim * (double)m.n_layer;
        const Placement compute = plan(m, hw, b);
        QVERIFY(std::fabs((1 / compute.predicted.decode_tokens_per_s - 1 / deep.predicted.decode_tokens_per_s) -
                          (macs / 10e9 - kv_s)) < 1e-6);
    }

    // Without /proc/meminfo the plan does not invent a shortage; it says so.
    void unknown_dram_not_checked() {
        Hardware hw = workstation();
        hw.dram_total_bytes = hw.dram_free_bytes = 0;
        const ModelInfo m = shape("70B+engram");
        const Placement p = plan(m, hw, budgets(m, 0, 1.0));
        QCOMPARE(p.ssd.weights_bytes, uint64_t(0));
        QCOMPARE(p.dram.engram_bytes, m.engram_table_bytes());
        bool noted = false;
        for (const auto& n : p.notes) noted |= n.find("free DRAM unknown") != std::string::npos;
        QVERIFY(noted);
    }

    // 70B (~40 GB) with 4 GB of VRAM and 8 GB of free DRAM: said in words,
    // and predicted as slow as the SSD makes it.
    void impossible_seventy_b() {
        Hardware hw = workstation();
        hw.dram_total_bytes = 16 * GiB;
        hw.dram_free_bytes = 8 * GiB;
        hw.gpus[0].vram_total_bytes = hw.gpus[0].vram_free_bytes = 4 * GiB;
        const ModelInfo m = shape("70B+engram");
        const Budgets b = budgets(m, 4 * GiB, 0.25);
        const Placement p = plan(m, hw, b);
        const QString bad = check_invariants(m, b, p);
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
        QVERIFY2(any_problem(p, "of 80 blocks"), qPrintable(all_problems(p)));
        QVERIFY2(any_problem(p, "of DRAM for its CPU blocks") && any_problem(p, "but only 8.0 GiB is free"),
                 qPrintable(all_problems(p)));
        QVERIFY2(any_problem(p, "the Engram DRAM budget of"), qPrintable(all_problems(p)));
        QVERIFY(p.ssd.weights_bytes > 20 * GiB);
        QVERIFY(p.predicted.decode_tokens_per_s < 0.1);
    }

    // With VRAM to spare, the Engram tables of GPU blocks are served from the
    // VRAM hot-row cache: no SSD reads even with no DRAM budget.
    void engram_hot_rows_in_vram() {
        const ModelInfo m = shape("1B+engram");  // 1B + 2 GiB of tables
        const Placement p = plan(m, workstation(), budgets(m, 80 * GiB, 0));
        QCOMPARE(p.n_gpu_blocks, m.n_layer);
        QCOMPARE(p.vram.engram_bytes, m.engram_table_bytes());
        QCOMPARE(p.dram.engram_bytes, uint64_t(0));
        QCOMPARE(p.predicted.ssd_bytes, uint64_t(0));
        QVERIFY(p.output_copies_token_table);  // 1B is tied
        // On the CPU, a zero budget means every row comes from the SSD.
        const Placement cpu = plan(m, workstation(), budgets(m, 0, 0));
        QCOMPARE(cpu.predicted.ssd_bytes, uint64_t(2 * 16 * 4096));  // 2 layers x (3 - 1) orders x 8 heads x 4 KiB
        for (const auto& e : cpu.engram) QCOMPARE(e.ssd_read_rate, 1.0);
    }

    // The Engram VRAM budget caps the hot-row cache; the GPU always holds at
    // least the rows one prefill batch reads (its cache is where they land),
    // and a smaller cache predicts more reads over PCIe.
    void engram_vram_budget_caps_the_hot_rows() {
        const ModelInfo m = shape("1B+engram");
        Budgets b = budgets(m, 80 * GiB, 0);
        const Placement all = plan(m, workstation(), b);
        b.engram_vram_bytes = m.engram_table_bytes() / 4;
        const Placement quarter = plan(m, workstation(), b);
        QCOMPARE(quarter.n_gpu_blocks, all.n_gpu_blocks);
        QVERIFY(quarter.vram.engram_bytes <= m.engram_table_bytes() / 4);
        QVERIFY(quarter.vram.engram_bytes > m.engram_table_bytes() / 4 - 2 * 4096);  // whole rows per table
        QVERIFY(quarter.predicted.pcie_bytes > all.predicted.pcie_bytes);
        QVERIFY(quarter.predicted.decode_tokens_per_s <= all.predicted.decode_tokens_per_s);
        b.engram_vram_bytes = 0;
        const Placement none = plan(m, workstation(), b);
        const uint64_t batch_rows = (uint64_t)b.n_batch * m.engram_rows_per_token();
        for (const auto& e : none.engram) {
            QCOMPARE(e.device, std::string("cuda:0"));
            QCOMPARE(e.vram_cache_rows, std::min<uint64_t>(e.rows, batch_rows));
        }
        QVERIFY(none.predicted.pcie_bytes > quarter.predicted.pcie_bytes);
    }

    // Besides their rows, Engram modules on the GPU need a batch's gathered
    // rows, key|value and output, one batch of staged rows per module, and
    // in the demo form a conv history per position (cuda_backend.cpp): the
    // plan counts them as VRAM scratch, and blocks are fitted with them.
    void engram_gpu_scratch_counted() {
        const ModelInfo plain = shape("1B");
        ModelInfo m = shape("1B+engram");
        const Budgets b = budgets(m, 80 * GiB, 0, 4096);
        const Placement p0 = plan(plain, workstation(), b);
        const Placement p1 = plan(m, workstation(), b);
        QCOMPARE(p1.n_gpu_blocks, m.n_layer);
        const uint64_t nb = 512, H = 16, E = H * 256, D = 2048;
        // At least the gathered rows, key|value, output and each module's staging.
        QVERIFY(p1.vram.scratch_bytes - p0.vram.scratch_bytes >= nb * (E + 3 * D) * 4 + 2 * nb * H * (512 + 8));
        // The demo form keeps a history per position: exactly n_ctx x n_embd floats a module.
        for (auto& t : m.engram_tables) t.has_conv = true;
        const Placement d4 = plan(m, workstation(), b);
        const Placement d2 = plan(m, workstation(), budgets(m, 80 * GiB, 0, 2048));
        QCOMPARE(d4.vram.scratch_bytes - d2.vram.scratch_bytes, uint64_t(2 * 2048 * D * 4));
        // On the CPU none of it is on a GPU.
        const Placement cpu = plan(m, workstation(), budgets(m, 0, 0));
        QCOMPARE(cpu.vram.scratch_bytes, uint64_t(0));
        // With the budget just short of what every block needs beside the
        // Engram scratch, one block fewer fits: the scratch is part of the fit.
        const uint64_t all = p1.vram.weights_bytes + p1.vram.kv_bytes + p1.vram.scratch_bytes;
        const Placement tight = plan(m, workstation(), budgets(m, all - 1, 0));
        QVERIFY(tight.n_gpu_blocks < m.n_layer);
        QVERIFY(tight.vram.bytes() <= all - 1);  // the Engram rows it keeps included
        QVERIFY(tight.vram.engram_bytes > 0);
    }

    void zipf_model() {
        QCOMPARE(zipf_hit_rate(0, 1000), 0.0);
        QCOMPARE(zipf_hit_rate(1000, 1000), 1.0);
        // s = 1: the hottest 5% of 384M rows serve about 85% of reads.
        const double h = zipf_hit_rate(384'000'000 / 20, 384'000'000);
        QVERIFY2(h > 0.8 && h < 0.9, qPrintable(QString::number(h)));
        double last = 0;
        for (uint64_t c = 1; c <= 4096; c *= 2) {
            QVERIFY(zipf_hit_rate(c, 4096) > last);
            last = zipf_hit_rate(c, 4096);
        }
    }

    void smollm2_plans() {
        Hardware hw = workstation();
        hw.gpus[0].vram_total_bytes = hw.gpus[0].vram_free_bytes = 24 * GiB;
        Budgets b;
        b.vram_bytes = 24 * GiB;
        b.n_ctx = 4096;
        const Placement p = plan(smol_, hw, b);
        QVERIFY(check_invariants(smol_, b, p).isEmpty());
        QCOMPARE(p.n_gpu_blocks, 30);
        QVERIFY2(p.problems.empty(), qPrintable(all_problems(p)));
        b.vram_bytes = 0;
        const Placement c = plan(smol_, hw, b);
        QCOMPARE(c.n_gpu_blocks, 0);
        QCOMPARE(c.dram.kv_bytes, 30 * smol_.kv_bytes_per_block(4096));
    }

    void parse_arguments() {
        auto g = parse_assumed_gpu("24G,25");
        QVERIFY(g.ok());
        QCOMPARE(g->vram_free_bytes, 24 * GiB);
        QCOMPARE(g->h2d_GBps, 25.0);
        QCOMPARE(g->vram_read_GBps, kDefaultVramReadGBps);
        QCOMPARE(g->name, std::string("assumed"));
        auto g3 = parse_assumed_gpu("80GiB, 50, 3000");
        QVERIFY(g3.ok());
        QCOMPARE(g3->vram_read_GBps, 3000.0);
        for (const char* bad : {"", "24X", "24G,fast", "0", "24G,1,2,3", "50%"}) {
            auto r = parse_assumed_gpu(bad);
            QVERIFY2(!r.ok(), bad);
            QVERIFY(QString::fromStdString(r.message()).contains("--assume-gpu"));
        }
        auto b = parse_byte_budget("512M", "VRAM budget");
        QVERIFY(b.ok());
        QCOMPARE(b->resolve(0), 512ull << 20);
        auto pct = parse_byte_budget("25%", "VRAM budget");
        QVERIFY(pct.ok());
        QCOMPARE(pct->resolve(8 * GiB), 2 * GiB);
        auto e = parse_byte_budget("lots", "Engram DRAM budget");
        QVERIFY(!e.ok());
        QVERIFY(QString::fromStdString(e.message()).startsWith("Engram DRAM budget 'lots'"));
    }

    // The probe measures once, caches, and reuses the cache; a damaged cache
    // is measured again rather than trusted.
    void probe_cache() {
        uint64_t total = 0, avail = 0;
        QVERIFY(read_meminfo(&total, &avail));
        QVERIFY(total > 0 && avail > 0 && avail <= total);
        ProbeOptions o;
        o.cache_path = (tmp_.path() + "/hw/hardware.json").toStdString();
        const Hardware a = probe_hardware(o);
        QVERIFY2(a.dram_read_GBps > 0.5, qPrintable(QString::number(a.dram_read_GBps)));
        // The kernels are timed for the types the planner prices, the
        // i-quants and ternary types (no quantizer: zero blocks) included;
        // without a rate it would price them at DRAM speed.
        for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q3_K, GgmlType::IQ4_XS, GgmlType::IQ3_S, GgmlType::IQ2_XXS,
                           GgmlType::IQ1_M, GgmlType::TQ1_0}) {
            const auto r = std::find_if(a.cpu_matvec.begin(), a.cpu_matvec.end(),
                                        [&](const CpuKernelRate& k) { return k.type == (uint32_t)t; });
            QVERIFY2(r != a.cpu_matvec.end() && r->GBps_1t > 0 && r->GBps_all > 0,
                     std::string(type_name((uint32_t)t)).c_str());
        }
        QVERIFY(QFile::exists(QString::fromStdString(o.cache_path)));
        std::ifstream in(o.cache_path);
        const nlohmann::json j = nlohmann::json::parse(in);
        QVERIFY(j["probed_at"].is_number_integer());
        QCOMPARE(j["dram_read_GBps"].get<double>(), a.dram_read_GBps);
        const Hardware b = probe_hardware(o);
        QCOMPARE(b.dram_read_GBps, a.dram_read_GBps);  // reused, not measured again
        bool from_cache = false;
        for (const auto& n : b.notes) from_cache |= n.find("from " + o.cache_path) != std::string::npos;
        QVERIFY(from_cache);
        {
            std::ofstream out(o.cache_path, std::ios::trunc);
            out << "{ not json";
        }
        const Hardware c = probe_hardware(o);
        QVERIFY(c.dram_read_GBps > 0.5);
        std::ifstream again(o.cache_path);
        QVERIFY(!nlohmann::json::parse(again, nullptr, false).is_discarded());
    }

    // The real program on the real model, planning for an assumed 24 GB card.
    void cli_plan() {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("XDG_CACHE_HOME", tmp_.path() + "/xdg");
        const QString model = QString::fromStdString(smol_path_);
        Run r = run(EG_CLI_PATH, {"plan", "-m", model, "--assume-gpu", "24G", "--ctx", "2048"}, env);
        if (r.code != 0 && !r.err.contains("engram-cli plan:"))
            QFAIL(qPrintable("engram-cli has no `plan` subcommand yet (wire app/cli/plan_command.cpp): " + r.err));
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const nlohmann::json j = nlohmann::json::parse(r.out.toStdString(), nullptr, false);
        QVERIFY2(!j.is_discarded(), qPrintable(r.out.left(300)));
        QCOMPARE(j["blocks"].size(), size_t(30));
        for (const auto& b : j["blocks"]) {
            QVERIFY(b["index"].is_number_integer());
            QCOMPARE(b["device"].get<std::string>(), std::string("cuda:0"));
        }
        QCOMPARE(j["output"]["device"].get<std::string>(), std::string("cuda:0"));
        for (const char* tier : {"vram", "dram", "ssd"}) {
            QVERIFY2(j["tiers"][tier]["bytes"].is_number_unsigned(), tier);
            for (const char* cat : {"weights", "kv", "engram", "scratch"})
                QVERIFY2(j["tiers"][tier]["by_category"][cat].is_number_unsigned(), cat);
        }
        QCOMPARE(j["tiers"]["vram"]["by_category"]["kv"].get<uint64_t>(), 30 * smol_.kv_bytes_per_block(2048));
        QVERIFY(j["predicted"]["decode_tokens_per_s"].get<double>() > 0);
        QVERIFY(j["problems"].is_array());
        QCOMPARE(j["budgets"]["n_ctx"].get<int64_t>(), 2048);
        QCOMPARE(j["hardware"]["gpus"][0]["name"].get<std::string>(), std::string("assumed"));
        QVERIFY(QFile::exists(tmp_.path() + "/xdg/engram-desktop/hardware.json"));

        // The VRAM budget as a share of the assumed card: 1% of 24 GiB holds some blocks.
        r = run(EG_CLI_PATH, {"plan", "-m", model, "--assume-gpu", "24G,25", "--vram-budget", "1%"}, env);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const nlohmann::json part = nlohmann::json::parse(r.out.toStdString());
        QCOMPARE(part["blocks"][0]["device"].get<std::string>(), std::string("cpu"));
        QVERIFY(!part["problems"].empty());

        // The Engram VRAM budget is echoed; a bad one is a sentence.
        r = run(EG_CLI_PATH, {"plan", "-m", model, "--assume-gpu", "24G", "--engram-vram-budget", "64M"}, env);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QCOMPARE(nlohmann::json::parse(r.out.toStdString())["budgets"]["engram_vram_bytes"].get<uint64_t>(),
                 uint64_t(64) << 20);
        r = run(EG_CLI_PATH, {"plan", "-m", model, "--engram-vram-budget", "some"}, env);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("Engram VRAM budget 'some'"), qPrintable(r.err));

        // A bad budget is a sentence and exit 1, not a plan.
        r = run(EG_CLI_PATH, {"plan", "-m", model, "--vram-budget", "lots"}, env);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("VRAM budget 'lots'"), qPrintable(r.err));
    }
};

QTEST_GUILESS_MAIN(TestPlanner)
#include "test_planner.moc"
