// Synthetic models (`engram-cli forge --synthetic`): random-weight files of any
// shape and type that the engine loads, tokenizes for and runs; the same seed
// gives the same bytes; a bad shape is refused before anything is written.
// Also the Q5_K (and Q2_K, Q3_K) quantizers those files need, against Q4_K and Q6_K.
#include <QTemporaryDir>
#include <QtTest>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "core/fp16.h"
#include "model/model.h"
#include "model/synthetic.h"
#include "quant/kernels.h"
#include "quant/kernels_impl.h"
#include "runtime/session.h"

using namespace eg;

namespace {

SyntheticOptions tiny(const std::string& path, GgmlType type) {
    SyntheticOptions o;
    o.n_layer = 2;
    o.n_embd = 256;
    o.n_head = 4;
    o.n_head_kv = 2;  // grouped-query attention, as in the 1B and 8B shapes
    o.n_ff = 512;
    o.n_vocab = 512;
    o.n_ctx = 256;
    o.type = type;
    o.seed = 7;
    o.out_path = path;
    return o;
}

std::vector<uint8_t> read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

int32_t argmax(const float* l, int64_t n) {
    int32_t b = 0;
    for (int64_t i = 1; i < n; ++i)
        if (l[i] > l[b]) b = (int32_t)i;
    return b;
}

double correlation(const std::vector<float>& a, const std::vector<float>& b) {
    double ma = 0, mb = 0;
    for (size_t i = 0; i < a.size(); ++i) { ma += a[i]; mb += b[i]; }
    ma /= (double)a.size();
    mb /= (double)b.size();
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return sab / std::sqrt(saa * sbb);
}

const char* kPrompt = "<|im_start|>user\nHello there, synthetic model!<|im_end|>\n<|im_start|>assistant\n";

struct RunResult {
    std::vector<float> logits;  // after the 16-token prompt
    std::vector<int32_t> greedy;
};

// Loads the model, evaluates the first 16 prompt tokens and decodes 8 greedy
// tokens; fails the calling test (returns false) when anything goes wrong.
bool run_model(const std::string& path, RunResult* out) {
    auto m = Model::load(path);
    if (!m.ok()) {
        qWarning("%s", m.message().c_str());
        return false;
    }
    const Model& model = *m.value();
    std::vector<int32_t> prompt = model.tokenizer().encode(kPrompt, false, true);
    if (prompt.size() < 16 || prompt[0] != *model.tokenizer().find_token("<|im_start|>")) {
        qWarning("prompt gave %zu tokens", prompt.size());
        return false;
    }
    prompt.resize(16);
    SessionOptions opt;
    opt.n_ctx = 128;
    opt.n_threads = 2;
    auto s = Session::create(model, opt);
    if (!s.ok() || !s.value()->eval(prompt).ok()) return false;
    Session& session = *s.value();
    out->logits.assign(session.logits(), session.logits() + session.n_vocab());
    for (int i = 0; i < 8; ++i) {
        const int32_t next = argmax(session.logits(), session.n_vocab());
        out->greedy.push_back(next);
        if (!session.eval(&next, 1).ok()) return false;
        for (int64_t j = 0; j < session.n_vocab(); ++j)
            if (!std::isfinite(session.logits()[j])) return false;
    }
    return true;
}

// RMS of (dequantize(quantize(x)) - x) over RMS of x.
double relative_rms_error(GgmlType t, const std::vector<float>& x, std::vector<uint8_t>* q_out = nullptr) {
    const TypeKernels* kt = kernels_for(t);
    const int64_t n = (int64_t)x.size();
    std::vector<uint8_t> q((size_t)row_bytes(t, n));
    kt->quantize(x.data(), q.data(), n);
    std::vector<float> y((size_t)n);
    kt->dequantize(q.data(), y.data(), n);
    double e2 = 0, x2 = 0;
    for (int64_t i = 0; i < n; ++i) {
        e2 += (double)(y[i] - x[i]) * (y[i] - x[i]);
        x2 += (double)x[i] * x[i];
    }
    if (q_out) *q_out = std::move(q);
    return std::sqrt(e2 / x2);
}

}  // namespace

class TestSynthetic : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    // The same networks unquantized (F16), with the output head tied to the
    // embeddings and not: what the quantized files approximate.
    RunResult f16_tied_, f16_untied_;

    std::string path(const char* name) const { return dir_.filePath(name).toStdString(); }

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        for (bool tied : {true, false}) {
            SyntheticOptions o = tiny(path(tied ? "f16.gguf" : "f16-untied.gguf"), GgmlType::F16);
            o.tied_output = tied;
            Status s = write_synthetic_model(o);
            QVERIFY2(s.ok(), s.message().c_str());
            QVERIFY(run_model(o.out_path, tied ? &f16_tied_ : &f16_untied_));
        }
    }

    // Every weight type: the file loads, the tokenizer reads ChatML, 16 tokens
    // give finite, spread logits, 8 greedy tokens decode; and the logits
    // follow the F16 model with the same seed (the quantizers wrote the same
    // network, not noise). Measured correlations: 1.0000 (F16, BF16), 0.9997
    // (Q8_0), 0.998 (Q6_K), 0.985 (Q5_K), 0.967 (Q4_1), 0.943 (Q4_0), 0.939
    // (Q4_K), 0.886 (Q3_K), 0.508 (Q2_K): random networks amplify weight
    // error about sixfold (see kQuantRoundTrip for the weight errors), so these
    // follow each type's weight error. A file whose weights are not the F16
    // file's (another head, a scrambled field) measures about 0 (-0.04 for
    // the untied head against the tied one).
    void everyType_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<bool>("tied");
        QTest::addColumn<double>("min_corr");
        QTest::newRow("F32") << (int)GgmlType::F32 << true << 0.99999;
        QTest::newRow("BF16") << (int)GgmlType::BF16 << false << 0.999;
        QTest::newRow("F16") << (int)GgmlType::F16 << false << 0.99999;
        QTest::newRow("Q4_0") << (int)GgmlType::Q4_0 << true << 0.85;
        QTest::newRow("Q4_1") << (int)GgmlType::Q4_1 << false << 0.85;
        QTest::newRow("Q8_0") << (int)GgmlType::Q8_0 << true << 0.995;
        QTest::newRow("Q2_K") << (int)GgmlType::Q2_K << true << 0.3;
        QTest::newRow("Q3_K") << (int)GgmlType::Q3_K << false << 0.7;
        QTest::newRow("Q4_K") << (int)GgmlType::Q4_K << false << 0.85;
        QTest::newRow("Q5_K") << (int)GgmlType::Q5_K << true << 0.95;
        QTest::newRow("Q6_K") << (int)GgmlType::Q6_K << false << 0.99;
    }
    void everyType() {
        QFETCH(int, type);
        QFETCH(bool, tied);
        QFETCH(double, min_corr);
        const std::string p = path((std::string(type_name((uint32_t)type)) + ".gguf").c_str());
        SyntheticOptions o = tiny(p, (GgmlType)type);
        o.tied_output = tied;
        Status s = write_synthetic_model(o);
        QVERIFY2(s.ok(), s.message().c_str());
        QVERIFY(!std::filesystem::exists(p + ".tmp"));

        auto m = Model::load(p);
        QVERIFY2(m.ok(), m.ok() ? "" : m.message().c_str());
        const HParams& hp = m.value()->hparams();
        QCOMPARE(hp.n_layer, (int64_t)2);
        QCOMPARE(hp.n_head_kv, (int64_t)2);
        QCOMPARE(hp.n_vocab, (int64_t)512);
        QCOMPARE(hp.tied_output, tied);
        QCOMPARE((int)m.value()->weights().layers[1].gate.type, type);

        RunResult r;
        QVERIFY(run_model(p, &r));
        const RunResult& ref = tied ? f16_tied_ : f16_untied_;
        float lo = r.logits[0], hi = r.logits[0];
        for (float v : r.logits) {
            QVERIFY(std::isfinite(v));
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
        qInfo("%s: logits span %.2f, greedy %d %d %d %d ..., correlation with F16 %.4f", type_name((uint32_t)type).data(),
              hi - lo, r.greedy[0], r.greedy[1], r.greedy[2], r.greedy[3], correlation(r.logits, ref.logits));
        QVERIFY2(hi - lo > 1.0f, "logits nearly all equal");
        QCOMPARE((int)r.greedy.size(), 8);
        QVERIFY(correlation(r.logits, ref.logits) > min_corr);
    }

    // qwen2 (QKV biases, NeoX RoPE), qwen3 (QK-norm) and qwen3moe (experts)
    // shapes load and run too.
    void otherArchs_data() {
        QTest::addColumn<QString>("arch");
        QTest::newRow("qwen2") << "qwen2";
        QTest::newRow("qwen3") << "qwen3";
        QTest::newRow("qwen3moe") << "qwen3moe";
    }
    void otherArchs() {
        QFETCH(QString, arch);
        const std::string p = path((arch + ".gguf").toUtf8().constData());
        SyntheticOptions o = tiny(p, GgmlType::Q8_0);
        o.arch = arch.toStdString();
        if (arch == "qwen3moe") {
            o.n_expert = 8;
            o.n_expert_used = 2;
            o.n_ff_exp = 128;
        }
        Status s = write_synthetic_model(o);
        QVERIFY2(s.ok(), s.message().c_str());
        auto m = Model::load(p);
        QVERIFY2(m.ok(), m.ok() ? "" : m.message().c_str());
        QCOMPARE(QString::fromStdString(m.value()->hparams().arch), arch);
        QCOMPARE(m.value()->hparams().has_qkv_bias, arch == "qwen2");
        QCOMPARE(m.value()->hparams().has_qk_norm, arch.startsWith("qwen3"));
        QCOMPARE(m.value()->hparams().n_expert, o.n_expert);
        QCOMPARE(m.value()->hparams().n_ff_exp, o.n_ff_exp);
        RunResult r;
        QVERIFY(run_model(p, &r));
    }

    // The tokenizer is a real byte-level BPE: any text (non-ASCII included)
    // encodes and decodes back to itself, merges shorten it, and ChatML
    // markers are single control tokens that end generation.
    void tokenizerRoundTrips() {
        auto m = Model::load(path("f16.gguf"));
        QVERIFY(m.ok());
        const Tokenizer& tok = m.value()->tokenizer();
        const std::string text = "the cat sat on a mat, naïve café — 東京 😀 \x01\n";
        const auto ids = tok.encode(text, false, false);
        QCOMPARE(QString::fromStdString(tok.decode(ids)), QString::fromStdString(text));
        QVERIFY2(ids.size() < text.size(), "no merge applied");
        const auto im_end = tok.find_token("<|im_end|>");
        QVERIFY(im_end && tok.is_eog(*im_end) && tok.is_control(*im_end));
        QCOMPARE(tok.eos_id(), *im_end);
        QVERIFY(m.value()->chat_template() && m.value()->chat_template()->find("<|im_start|>") != std::string::npos);
    }

    // Same options and seed: byte-identical files, whatever the thread count;
    // another seed: other weights.
    void sameSeedSameBytes() {
        SyntheticOptions a = tiny(path("a.gguf"), GgmlType::Q4_K);
        a.n_threads = 1;
        SyntheticOptions b = tiny(path("b.gguf"), GgmlType::Q4_K);
        b.n_threads = 3;
        SyntheticOptions c = tiny(path("c.gguf"), GgmlType::Q4_K);
        c.seed = 8;
        for (const auto* o : {&a, &b, &c}) QVERIFY(write_synthetic_model(*o).ok());
        const auto fa = read_all(a.out_path), fb = read_all(b.out_path), fc = read_all(c.out_path);
        QVERIFY(fa.size() > 100000);
        QVERIFY(fa == fb);
        QCOMPARE(fc.size(), fa.size());
        QVERIFY(fa != fc);
        auto bytes = synthetic_tensor_bytes(a);
        QVERIFY(bytes.ok());
        QVERIFY(bytes.value() < fa.size() && fa.size() - bytes.value() < 64 * 1024);  // header: metadata + vocab
    }

    // A shape the engine cannot run is refused with a sentence naming the
    // field, and leaves no file (nor .tmp) behind.
    void badShapeWritesNothing_data() {
        QTest::addColumn<QString>("field");
        QTest::addColumn<QString>("reason");
        QTest::newRow("K-quant block") << "n_embd" << "multiple of 256";
        QTest::newRow("n_ff block") << "n_ff" << "multiple of 256";
        QTest::newRow("heads") << "n_embd" << "not divisible by n_head";
        QTest::newRow("kv heads") << "n_head" << "not divisible by n_head_kv";
        QTest::newRow("vocab") << "n_vocab" << "outside";
        QTest::newRow("type") << "type" << "cannot be written";
        QTest::newRow("arch") << "arch" << "not one of";
    }
    void badShapeWritesNothing() {
        QFETCH(QString, field);
        QFETCH(QString, reason);
        const std::string p = path("bad.gguf");
        SyntheticOptions o = tiny(p, GgmlType::Q4_K);
        const QString row = QTest::currentDataTag();
        if (row == "K-quant block") o.n_embd = 320;
        if (row == "n_ff block") o.n_ff = 1000;
        if (row == "heads") { o.type = GgmlType::Q8_0; o.n_embd = 96; o.n_head = 5; }
        if (row == "kv heads") o.n_head_kv = 3;
        if (row == "vocab") o.n_vocab = 100;
        if (row == "type") o.type = GgmlType::Q8_K;  // an activation format, never a weight type
        if (row == "arch") o.arch = "gpt-neox";
        Status s = write_synthetic_model(o);
        QVERIFY(!s.ok());
        const QString msg = QString::fromStdString(s.message());
        qInfo("%s", qPrintable(msg));
        QVERIFY2(msg.startsWith(QString::fromStdString(p) + ": " + field + ": "), qPrintable(msg));
        QVERIFY2(msg.contains(reason), qPrintable(msg));
        QVERIFY(!std::filesystem::exists(p));
        QVERIFY(!std::filesystem::exists(p + ".tmp"));
        QVERIFY(!synthetic_tensor_bytes(o).ok());
    }

    void parsesTypeNames() {
        QCOMPARE((int)parse_synthetic_type("q4_k").value(), (int)GgmlType::Q4_K);
        QCOMPARE((int)parse_synthetic_type("Q5_K").value(), (int)GgmlType::Q5_K);
        QCOMPARE((int)parse_synthetic_type("f16").value(), (int)GgmlType::F16);
        auto bad = parse_synthetic_type("q4_k_m");
        QVERIFY(!bad.ok() && bad.message().find("Q4_K") != std::string::npos);
    }

    // K-quant round trips. Each value of a group lies on a grid of step
    // d*sc over the group's range, so it comes back within half a step (Q2_K,
    // Q5_K; 0.1% + 1e-6 of slack for float rounding) or, for the symmetric
    // Q3_K whose largest-magnitude value maps to -4, a full step for values
    // that clamp at +3. More levels, less error: the RMS errors must fall
    // strictly from Q2_K to Q6_K, and Q5_K (32 levels per 32 values) must
    // about halve Q4_K's (16). Data: Gaussian, one-signed sub-blocks, a quiet
    // block and an all-zero block, as weights have.
    void kQuantRoundTrip() {
        std::mt19937 rng(5005);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        const int64_t n = 64 * QK_K;
        std::vector<float> x((size_t)n);
        for (int64_t i = 0; i < n; ++i) {
            x[i] = nd(rng) * 0.05f;
            if ((i / 32) % 7 == 3) x[i] = std::fabs(x[i]) + 0.2f;  // one-signed sub-blocks
            if (i / QK_K == 5) x[i] *= 1e-3f;                      // a quiet block
            if (i / QK_K == 9) x[i] = 0.0f;                        // an all-zero block
        }
        const GgmlType order[] = {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};
        double err[5];
        for (int k = 0; k < 5; ++k) {
            err[k] = relative_rms_error(order[k], x);
            qInfo("%s: relative RMS error %.4f", type_name((uint32_t)order[k]).data(), err[k]);
            if (k > 0) QVERIFY(err[k] < err[k - 1]);
        }
        QVERIFY2(err[3] < 0.65 * err[2], "Q5_K should roughly halve Q4_K's error");

        for (GgmlType t : {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q5_K}) {
            std::vector<uint8_t> q((size_t)row_bytes(t, n));
            kernels_for(t)->quantize(x.data(), q.data(), n);
            std::vector<float> y((size_t)n);
            kernels_for(t)->dequantize(q.data(), y.data(), n);
            float worst = 0;
            for (int64_t i = 0; i < n; ++i) {
                const int64_t e = i % QK_K;
                float bound;  // the largest error a value may have
                if (t == GgmlType::Q5_K) {
                    const block_q5_K& b = ((const block_q5_K*)q.data())[i / QK_K];
                    uint8_t sc, m;
                    quant::k4_scale_min((int)e / 32, b.scales, &sc, &m);
                    bound = 0.5f * fp16_to_fp32(b.d) * (float)sc;
                } else if (t == GgmlType::Q2_K) {
                    const block_q2_K& b = ((const block_q2_K*)q.data())[i / QK_K];
                    bound = 0.5f * fp16_to_fp32(b.d) * (float)(b.scales[e / 16] & 0x0f);
                } else {
                    const block_q3_K& b = ((const block_q3_K*)q.data())[i / QK_K];
                    int8_t sc[16];
                    quant::q3_K_scales(b.scales, sc);
                    bound = std::fabs(fp16_to_fp32(b.d) * (float)sc[e / 16]);
                }
                const float d = std::fabs(y[i] - x[i]);
                worst = std::max(worst, d / std::max(bound, 1e-30f));
                if (d > bound * 1.001f + 1e-6f)
                    QFAIL(qPrintable(QString("%1 value %2: %3 came back as %4 (bound %5)")
                                         .arg(type_name((uint32_t)t).data()).arg(i).arg(x[i]).arg(y[i]).arg(bound)));
            }
            qInfo("%s: worst error %.3f of its bound", type_name((uint32_t)t).data(), worst);
            for (int64_t i = 9 * QK_K; i < 10 * QK_K; ++i) QCOMPARE(y[i], 0.0f);
        }
    }

    // Not a test: how long a 1B-shaped Q4_K file takes to write (set
    // ENGRAM_SYNTHETIC_BENCH=<dir> to run it; the file is ~0.6 GB).
    void timeOneBShaped() {
        const char* out = std::getenv("ENGRAM_SYNTHETIC_BENCH");
        if (!out || !*out) QSKIP("set ENGRAM_SYNTHETIC_BENCH=<dir> to time a 1B-shaped write");
        SyntheticOptions o;
        o.n_layer = 16;
        o.n_embd = 2048;
        o.n_head = 32;
        o.n_head_kv = 8;
        o.n_ff = 8192;
        o.n_vocab = 32000;
        o.n_ctx = 4096;
        o.type = GgmlType::Q4_K;
        o.tied_output = false;
        o.out_path = std::string(out) + "/synthetic-1b-q4_k.gguf";
        const auto t0 = std::chrono::steady_clock::now();
        Status s = write_synthetic_model(o);
        const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        QVERIFY2(s.ok(), s.message().c_str());
        qInfo("1B-shaped Q4_K: %.1f MiB in %.1f s", (double)std::filesystem::file_size(o.out_path) / (1 << 20), sec);
    }
};

QTEST_GUILESS_MAIN(TestSynthetic)
#include "test_synthetic.moc"
