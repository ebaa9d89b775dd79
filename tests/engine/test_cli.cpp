// engram-cli and engram-bench as a user runs them: real binaries, the real
// default model, exit codes and what they print; a damaged model file gives
// a sentence naming the file, not a crash.
#include <QtTest>

#include <cmath>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>

#include "chat/chat_template.h"
#include "model/model.h"
#include "test_env.h"

namespace {
struct Run {
    int code = -1;
    QString out, err;
};

Run run(const QString& program, const QStringList& args, const QByteArray& input = {}, int timeout_ms = 300000) {
    QProcess p;
    p.start(program, args);
    if (!p.waitForStarted()) return {};
    if (!input.isEmpty()) p.write(input);
    p.closeWriteChannel();
    if (!p.waitForFinished(timeout_ms)) {
        p.kill();
        p.waitForFinished();
    }
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}
}  // namespace

class TestCli : public QObject {
    Q_OBJECT
    QString model_;
    const QString cli_ = EG_CLI_PATH;

private slots:
    void initTestCase() {
        model_ = QString::fromStdString(eg_test::default_model_path());
        if (!QFile::exists(model_)) QFAIL("default model missing: run scripts/fetch-model.sh");
    }

    void info() {
        const Run r = run(cli_, {"info", "-m", model_, "--json"});
        QCOMPARE(r.code, 0);
        const QJsonObject j = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(j["architecture"].toString(), QString("llama"));
        QCOMPARE(j["layers"].toInt(), 30);
        QCOMPARE(j["chat_template"].toBool(), true);
        QVERIFY(j["parameters"].toDouble() > 134e6);
        QCOMPARE(j["tensor_types"].toObject()["Q4_1"].toInt(), 210);
        const Run text = run(cli_, {"info", "-m", model_});
        QCOMPARE(text.code, 0);
        QVERIFY(text.out.contains("134.5 M"));
        QVERIFY(text.out.contains("MiB KV"));
    }

    void tokenize() {
        const Run r = run(cli_, {"tokenize", "-m", model_, "--text", "Hello, world!"});
        QCOMPARE(r.code, 0);
        const QJsonArray ids = QJsonDocument::fromJson(r.out.toUtf8()).array();
        // SmolLM2's tokenizer (llama.cpp agrees): "Hello" "," " world" "!"
        QCOMPARE(ids.size(), 4);
        QCOMPARE(ids[0].toInt(), 19556);
    }

    // perplexity over the text of the exact-math reference (test_accuracy):
    // our tokenizer gives its ids, so the result is within test_accuracy's 1%
    // of the reference's perplexity; a shorter context splits it in windows.
    void perplexity() {
        QFile f(QString::fromStdString(eg_test::fixture("reference/model/smollm2_exact.json")));
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QJsonObject ref = QJsonDocument::fromJson(f.readAll()).object();
        const double ref_ppl = ref["stats"].toObject()["text_perplexity"].toDouble();
        const int n = ref["text"].toObject()["tokens"].toArray().size();
        const QString text = QString::fromStdString(eg_test::fixture("reference/model/gull_rock.txt"));
        const Run r = run(cli_, {"perplexity", "-m", model_, "-f", text, "--json"});
        QCOMPARE(r.code, 0);
        const QJsonObject j = QJsonDocument::fromJson(r.out.toUtf8()).object();
        qInfo("engram-cli perplexity: %.4f, the exact reference's %.4f", j["perplexity"].toDouble(), ref_ppl);
        QCOMPARE(j["tokens"].toInt(), n);
        QCOMPARE(j["scored"].toInt(), n - 1);
        QCOMPARE(j["windows"].toInt(), 1);
        QVERIFY2(std::fabs(j["perplexity"].toDouble() / ref_ppl - 1) < 0.01, qPrintable(r.out));
        const Run w = run(cli_, {"perplexity", "-m", model_, "-f", text, "-c", "400"});
        QCOMPARE(w.code, 0);
        // 3 windows (400 + 400 + 344), each one position short of its length; a short context predicts worse.
        QVERIFY2(w.out.contains(QString("over %1 predicted tokens: %2 tokens in 3 window(s) of up to 400").arg(n - 3).arg(n)),
                 qPrintable(w.out));
        const Run none = run(cli_, {"perplexity", "-m", model_, "-f", "/nonexistent/text.txt"});
        QVERIFY(none.code != 0);
    }

    // A question this 135M model answers right with a clear margin. (Not
    // "the capital of France": there its exact float64 forward puts "The"
    // and "La" 0.08 apart, so any two correct engines may start either way,
    // and after "La" it does not say Paris.)
    void run_chat_answers() {
        const Run r = run(cli_, {"run", "-m", model_, "--chat", "--system", "You are a helpful assistant.", "-p",
                                 "How many days are there in a week?", "--temp", "0", "-n", "24"});
        QCOMPARE(r.code, 0);
        QVERIFY2(r.out.contains("7") || r.out.contains("seven"), qPrintable(r.out));
        QVERIFY(r.err.contains("tok/s"));
        QVERIFY(r.err.contains("first token after"));
    }

    // gpt-oss's tiny reference model: run --chat renders the harmony template
    // the file carries (its system block, channels and <|start|> markers:
    // hundreds of tokens where ChatML would give a dozen), and generates.
    void run_chat_gptoss_harmony() {
        const std::string path = eg_test::fixture("reference/gptoss/gptoss-tiny.gguf");
        auto m = eg::Model::load(path);
        QVERIFY(m.ok());
        auto t = eg::ChatTemplate::parse(*m.value()->chat_template());
        QVERIFY(t.ok());
        auto text = t.value().render({{"user", "the cat in the hat"}}, true, "<|startoftext|>", "<|return|>");
        QVERIFY(text.ok());
        QVERIFY(text.value().find("<|start|>user<|message|>the cat in the hat<|end|><|start|>assistant") !=
                std::string::npos);
        const size_t n = m.value()->tokenizer().encode(text.value(), false, true).size();
        QVERIFY(n > 100);
        const Run r = run(cli_, {"run", "-m", QString::fromStdString(path), "--chat", "-p", "the cat in the hat",
                                 "--temp", "0", "-n", "8"});
        QCOMPARE(r.code, 0);
        QVERIFY2(r.err.contains(QString("prompt: %1 tokens").arg(n)), qPrintable(r.err));
        QVERIFY2(r.err.contains("reply: 8 tokens"), qPrintable(r.err));
    }

    void interactive_chat_two_turns() {
        const Run r = run(cli_, {"chat", "-m", model_, "--temp", "0", "-n", "16"},
                          "Say hello.\nNow say goodbye.\n/exit\n");
        QCOMPARE(r.code, 0);
        // Two replies, each followed by its stats line; the second reuses the first turn's KV.
        QCOMPARE(r.err.count("tok/s | reply"), 2);
        QRegularExpression reused(R"(\((\d+) reused\))");
        QList<int> counts;
        for (auto it = reused.globalMatch(r.err); it.hasNext();) counts << it.next().captured(1).toInt();
        QCOMPARE(counts.size(), 2);
        QCOMPARE(counts[0], 0);
        QVERIFY2(counts[1] > 20, qPrintable(r.err));
    }

    void damaged_model_is_a_clear_error() {
        QTemporaryDir dir;
        const QString cut = dir.filePath("cut.gguf");
        QFile in(model_);
        QVERIFY(in.open(QIODevice::ReadOnly));
        QFile out(cut);
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write(in.read(40 * 1024 * 1024));
        out.close();
        const Run r = run(cli_, {"run", "-m", cut, "-p", "hi"});
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains(cut) && r.err.contains("truncated"), qPrintable(r.err));
        const Run missing = run(cli_, {"info", "-m", dir.filePath("nope.gguf")});
        QVERIFY(missing.code != 0);
    }

    void bench_reports_json() {
        const Run r = run(EG_BENCH_PATH, {"-m", model_, "-p", "32", "-n", "8", "-r", "1"});
        QCOMPARE(r.code, 0);
        const QJsonObject j = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QVERIFY(j["prefill_tokens_per_s"].toObject()["median"].toDouble() > 0);
        QVERIFY(j["decode_tokens_per_s"].toObject()["median"].toDouble() > 0);
        QVERIFY(j["peak_rss_bytes"].toDouble() > 50e6);
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
