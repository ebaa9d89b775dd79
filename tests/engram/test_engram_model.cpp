// Engram modules inside the real model: SmolLM2-135M-Instruct with forged
// Engram layers, run through the engine's decoder with the tiered store.
// What a user relies on: a zero-value model answers exactly as the base
// model; every DRAM budget (100% .. 0%) and prefetch on or off give the same
// tokens and logits; decoding token by token equals a full forward; a damaged
// file is refused with a sentence; the CLI shows the configuration and chats.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "config.h"
#include "engram_fixture.h"
#include "engram_model.h"
#include "forge.h"
#include "runtime/generate.h"
#include "runtime/session.h"
#include "test_env.h"

using namespace eg;

namespace {

struct Run {
    std::vector<int32_t> tokens;  // greedy continuation
    std::vector<float> logits;    // after the prompt
};

Result<Run> greedy(const Model& m, const std::vector<int32_t>& prompt, int n) {
    auto s = Session::create(m, SessionOptions{256, 64, 2});
    if (!s) return s.error();
    Session& ss = *s.value();
    if (auto st = ss.eval(prompt); !st) return st.error();
    Run r;
    r.logits.assign(ss.logits(), ss.logits() + ss.n_vocab());
    for (int i = 0; i < n; ++i) {
        const float* l = ss.logits();
        int32_t best = 0;
        for (int64_t j = 1; j < ss.n_vocab(); ++j)
            if (l[j] > l[best]) best = (int32_t)j;
        r.tokens.push_back(best);
        if (auto st = ss.eval(&best, 1); !st) return st.error();
    }
    return r;
}

engram::EngramOptions options(const std::string& budget, bool prefetch, bool direct = true) {
    auto o = engram::make_options(budget, "wtinylfu", prefetch, direct, false);
    return o.value();
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    float m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

}  // namespace

class TestEngramModel : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::string base_, zero_v41_, zero_demo_, v41_, demo_;
    std::vector<int32_t> prompt_;

    std::string forge(const std::string& name, engram::Form form, std::vector<int64_t> layers, GgmlType type,
                      bool zero) {
        return eg_test::forge_engram(base_, dir_.filePath(QString::fromStdString(name)).toStdString(), form,
                                     std::move(layers), type, zero);
    }

private slots:
    void initTestCase() {
        base_ = eg_test::default_model_path();
        if (!QFile::exists(QString::fromStdString(base_)))
            QFAIL(qPrintable(QString("default model missing at %1: run scripts/fetch-model.sh").arg(base_.c_str())));
        QVERIFY(dir_.isValid());
        zero_v41_ = forge("zero-v41.gguf", engram::Form::V41, {1, 15}, GgmlType::F16, true);
        zero_demo_ = forge("zero-demo.gguf", engram::Form::Demo, {1, 15}, GgmlType::Q8_0, true);
        v41_ = forge("v41.gguf", engram::Form::V41, {1, 15}, GgmlType::F16, false);
        demo_ = forge("demo.gguf", engram::Form::Demo, {2, 10}, GgmlType::Q8_0, false);
        auto m = Model::load(base_);
        QVERIFY(m.ok());
        prompt_ = m.value()->tokenizer().encode(
            "<|im_start|>user\nWhat is the capital of France, and why is it famous?<|im_end|>\n<|im_start|>assistant\n",
            false, true);
        QVERIFY(prompt_.size() > 10);
    }

    void base_loader_refuses_engram_file() {
        // A program that loads an Engram model without the Engram loader must
        // not run it as if it were the base model.
        auto m = Model::load(v41_);
        QVERIFY(!m.ok());
        QVERIFY2(m.message().find("Engram") != std::string::npos, m.message().c_str());
    }

    void zero_value_answers_as_the_base_model() {
        auto base = Model::load(base_);
        QVERIFY(base.ok());
        auto want = greedy(*base.value(), prompt_, 64);
        QVERIFY(want.ok());
        for (const std::string& path : {zero_v41_, zero_demo_}) {
            for (const char* budget : {"100%", "5%"}) {
                auto m = engram::load_model(path, options(budget, true));
                QVERIFY2(m.ok(), m.ok() ? "" : m.message().c_str());
                QVERIFY(m.value()->extension() != nullptr);
                auto got = greedy(*m.value(), prompt_, 64);
                QVERIFY2(got.ok(), got.ok() ? "" : got.message().c_str());
                QCOMPARE(got->tokens, want->tokens);
                QCOMPARE(max_abs_diff(got->logits, want->logits), 0.0f);
                // The memory path really ran: rows were looked up.
                QVERIFY(m.value()->extension()->stats().lookups > 0);
            }
        }
    }

    void every_budget_gives_the_same_answer() {
        auto base = Model::load(base_);
        QVERIFY(base.ok());
        auto base_run = greedy(*base.value(), prompt_, 8);
        QVERIFY(base_run.ok());
        for (const std::string& path : {v41_, demo_}) {
            auto ref_m = engram::load_model(path, options("100%", true));
            QVERIFY2(ref_m.ok(), ref_m.ok() ? "" : ref_m.message().c_str());
            auto ref = greedy(*ref_m.value(), prompt_, 24);
            QVERIFY2(ref.ok(), ref.ok() ? "" : ref.message().c_str());
            // The modules change the model (else this test proves nothing).
            QVERIFY(max_abs_diff(ref->logits, base_run->logits) > 1e-4f);
            for (const char* budget : {"25%", "5%", "0"}) {
                for (bool prefetch : {true, false}) {
                    for (bool direct : {true, false}) {
                        auto m = engram::load_model(path, options(budget, prefetch, direct));
                        QVERIFY2(m.ok(), m.ok() ? "" : m.message().c_str());
                        auto got = greedy(*m.value(), prompt_, 24);
                        QVERIFY2(got.ok(), got.ok() ? "" : got.message().c_str());
                        const std::string what = path + " budget " + budget + (prefetch ? " prefetch" : " no-prefetch") +
                                                 (direct ? " direct" : " buffered");
                        QVERIFY2(got->tokens == ref->tokens, what.c_str());
                        QVERIFY2(max_abs_diff(got->logits, ref->logits) == 0.0f, what.c_str());
                        const ExtensionStats st = m.value()->extension()->stats();
                        QCOMPARE(st.tiers.size(), size_t(2));
                        const TierStats& dram = st.tiers[0];
                        const TierStats& ssd = st.tiers[1];
                        QCOMPARE(dram.hits + dram.misses, st.lookups);
                        QVERIFY2(dram.bytes_resident <= dram.capacity_bytes, what.c_str());
                        if (std::strcmp(budget, "0") == 0) {
                            // Nothing resident: every row came from the file.
                            QCOMPARE(dram.hits, uint64_t(0));
                            QVERIFY(ssd.hits > 0 && ssd.bytes_read > 0);
                        }
                    }
                }
            }
        }
    }

    void incremental_equals_full_forward() {
        // The base model's one-token step takes the matrix-vector kernels and
        // a batch the tiled ones, which round differently (as llama.cpp's
        // do), so "incremental" is checked with batches of 2..5 tokens, whose
        // base path is bit-identical to one big batch: any difference is then
        // the Engram state's (hash history, conv history, chunked prefetch).
        // One-token steps of the module itself are checked bit for bit in
        // test_engram_module.
        for (const std::string& path : {v41_, demo_}) {
            auto m = engram::load_model(path, options("25%", true));
            QVERIFY(m.ok());
            auto logits_with_batch = [&](int64_t n_batch) {
                auto s = Session::create(*m.value(), SessionOptions{256, n_batch, 2});
                if (!s.ok() || !s.value()->eval(prompt_).ok()) qFatal("eval failed");
                return std::vector<float>(s.value()->logits(), s.value()->logits() + s.value()->n_vocab());
            };
            const std::vector<float> full = logits_with_batch(64);
            const int64_t n_prompt = (int64_t)prompt_.size();
            for (int64_t nb : {7, 5, 4, 3, 2}) {
                if (n_prompt % nb == 1) continue;  // its last batch would be one token
                const std::string what = path + " n_batch " + std::to_string(nb);
                QVERIFY2(max_abs_diff(full, logits_with_batch(nb)) == 0.0f, what.c_str());
            }
            // Several eval() calls (a conversation's turns) and a rollback
            // with a re-run suffix (prefix reuse) give the same logits.
            auto s = Session::create(*m.value(), SessionOptions{256, 64, 2});
            QVERIFY(s.ok());
            Session& ss = *s.value();
            const int64_t n = (int64_t)prompt_.size();
            QVERIFY(ss.eval(prompt_.data(), n / 2).ok());
            QVERIFY(ss.eval(prompt_.data() + n / 2, n - n / 2).ok());
            std::vector<float> turns(ss.logits(), ss.logits() + ss.n_vocab());
            QVERIFY2(max_abs_diff(full, turns) == 0.0f, path.c_str());
            ss.truncate(n - 5);
            QVERIFY(ss.eval(prompt_.data() + n - 5, 5).ok());
            std::vector<float> again(ss.logits(), ss.logits() + ss.n_vocab());
            QVERIFY2(max_abs_diff(full, again) == 0.0f, path.c_str());
        }
    }

    void untied_token_table_is_served_by_the_store() {
        // llama3-tiny has its own output head, so its token table is only
        // looked up row by row: the tiered store serves it, at any budget.
        const std::string base = eg_test::fixture("reference/arch/llama3-tiny.gguf");
        engram::ForgeOptions o;
        o.base_path = base;
        o.out_path = dir_.filePath("tiny-zero.gguf").toStdString();
        o.layers = {0, 1};
        o.heads = 2;
        o.key_length = 16;
        o.rows_per_head = 101;
        o.zero_value = true;
        auto fs = engram::forge(o);
        QVERIFY2(fs.ok(), fs.ok() ? "" : fs.message().c_str());
        auto bm = Model::load(base);
        QVERIFY(bm.ok());
        QVERIFY(!bm.value()->hparams().tied_output);
        const std::vector<int32_t> prompt = {1, 5, 9, 20, 7, 3, 11, 5, 9};
        auto want = greedy(*bm.value(), prompt, 16);
        QVERIFY(want.ok());
        for (const char* budget : {"100%", "5%", "0"}) {
            auto m = engram::load_model(o.out_path, options(budget, true));
            QVERIFY2(m.ok(), m.ok() ? "" : m.message().c_str());
            QVERIFY(m.value()->extension()->serves_embeddings());
            auto got = greedy(*m.value(), prompt, 16);
            QVERIFY2(got.ok(), got.ok() ? "" : got.message().c_str());
            QCOMPARE(got->tokens, want->tokens);
            QCOMPARE(max_abs_diff(got->logits, want->logits), 0.0f);
        }
    }

    void truncated_file_is_refused_with_a_sentence() {
        const std::string cut = dir_.filePath("cut.gguf").toStdString();
        std::filesystem::copy_file(v41_, cut, std::filesystem::copy_options::overwrite_existing);
        std::filesystem::resize_file(cut, std::filesystem::file_size(cut) - 4096);
        auto m = engram::load_model(cut, options("5%", true));
        QVERIFY(!m.ok());
        QVERIFY2(m.message().find("cut.gguf") != std::string::npos, m.message().c_str());
    }

    void cli_info_rows_run_and_chat() {
        QProcess p;
        p.start(EG_CLI_PATH, {"info", "-m", QString::fromStdString(v41_), "--json"});
        QVERIFY(p.waitForFinished(120000));
        QCOMPARE(p.exitCode(), 0);
        auto info = nlohmann::json::parse(p.readAllStandardOutput().toStdString());
        QCOMPARE(info["engram"]["layer_ids"], nlohmann::json({1, 15}));
        QCOMPARE(info["engram"]["form"], "v41");
        QCOMPARE(info["engram"]["layers"].size(), size_t(2));

        p.start(EG_CLI_PATH, {"engram-rows", "-m", QString::fromStdString(v41_), "--text", "The cat sat on the mat."});
        QVERIFY(p.waitForFinished(120000));
        QCOMPARE(p.exitCode(), 0);
        auto rows = nlohmann::json::parse(p.readAllStandardOutput().toStdString());
        const size_t n = rows["tokens"].size();
        QVERIFY(n > 3);
        QCOMPARE(rows["compressed"].size(), n);
        QCOMPARE(rows["layers"].size(), size_t(2));
        auto f = GgufFile::open(v41_);
        QVERIFY(f.ok());
        auto hp_model = Model::load(base_);
        auto cfg = engram::read_config(*f.value(), hp_model.value()->hparams());
        QVERIFY2(cfg.ok(), cfg.ok() ? "" : cfg.message().c_str());
        for (size_t li = 0; li < 2; ++li) {
            QCOMPARE(rows["layers"][li]["layer"].get<int64_t>(), cfg->layers[li].layer);
            const auto& per_pos = rows["layers"][li]["rows"];
            QCOMPARE(per_pos.size(), n);
            for (const auto& r : per_pos) {
                QCOMPARE((int64_t)r.size(), cfg->heads_per_layer());
                for (int64_t h = 0; h < cfg->heads_per_layer(); ++h) {
                    const uint64_t v = r[h].get<uint64_t>();
                    const size_t k = li * cfg->heads_per_layer() + h;
                    QVERIFY(v >= cfg->offsets[k] && v < cfg->offsets[k] + cfg->primes[k]);
                }
            }
        }

        p.start(EG_CLI_PATH, {"run", "-m", QString::fromStdString(v41_), "--engram-dram-budget", "5%", "-p",
                              "Hello", "-n", "8", "--temp", "0", "--no-engram-hot-stats"});
        QVERIFY(p.waitForFinished(120000));
        const QString err = p.readAllStandardError();
        QVERIFY2(p.exitCode() == 0, qPrintable(err));
        QVERIFY2(err.contains("[engram]") && err.contains("dram:"), qPrintable(err));

        p.start(EG_CLI_PATH, {"chat", "-m", QString::fromStdString(v41_), "--engram-dram-budget", "5%", "-n", "16",
                              "--no-engram-hot-stats"});
        QVERIFY(p.waitForStarted());
        p.write("What is the capital of France?\n/exit\n");
        p.closeWriteChannel();
        QVERIFY(p.waitForFinished(120000));
        QVERIFY2(p.exitCode() == 0, qPrintable(p.readAllStandardError()));
        QVERIFY(!p.readAllStandardOutput().trimmed().isEmpty());

        p.start(EG_CLI_PATH, {"run", "-m", QString::fromStdString(v41_), "--engram-dram-budget", "lots", "-p", "x"});
        QVERIFY(p.waitForFinished(60000));
        QVERIFY(p.exitCode() != 0);
        QVERIFY(QString(p.readAllStandardError()).contains("budget"));
    }
};

QTEST_GUILESS_MAIN(TestEngramModel)
#include "test_engram_model.moc"
