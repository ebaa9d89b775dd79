// What the engine does not run is said in one sentence naming it and what
// it does run — from the file's header (loading, Import) or, before a byte
// is fetched, from the file name's quant tag and the Hub's GGUF metadata
// (Download, --pull) — and nothing is left behind.
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "fake_hf_server.h"
#include "gguf/gguf.h"
#include "library/downloader.h"
#include "library/gguf_check.h"
#include "library/model_registry.h"
#include "model/model.h"
#include "model/runnable.h"
#include "test_env.h"

using eg::library::DownloadError;
using eg::library::Downloader;
using eg::library::DownloadRequest;

namespace {

const QString kTiny = QStringLiteral(EG_TESTS_DIR "/reference/arch/qwen2-tiny.gguf");

QByteArray read_all(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// qwen2-tiny with its architecture renamed, or one tensor of a type we do not run.
QString write_variant(const QString& dir, const QString& name, const std::string& arch, bool q8_1_tensor) {
    auto src = eg::GgufFile::open(kTiny.toStdString());
    if (!src) return {};
    eg::GgufWriter w;
    for (const auto& [key, value] : src.value()->metadata()) {
        if (key == "general.architecture") continue;
        std::string k = key;
        if (k.rfind("qwen2.", 0) == 0) k = arch + k.substr(5);
        w.set_value(k, value);
    }
    w.set_string("general.architecture", arch);
    for (const auto& t : src.value()->tensors())
        w.add_tensor_ref(t.name, t.type, std::vector<int64_t>(t.ne, t.ne + t.n_dims), t.data, t.n_bytes);
    // Q8_1 (an activation format of ggml's, never a weight type here): 36 bytes per 32
    if (q8_1_tensor) w.add_tensor("extra.weight", eg::GgmlType::Q8_1, {256}, std::vector<uint8_t>(8 * 36, 0));
    const QString path = dir + u'/' + name;
    return w.write(path.toStdString()) ? path : QString();
}

}  // namespace

class TestRefusals : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        qunsetenv("HF_TOKEN");
        qunsetenv("HF_ENDPOINT");
        qputenv("no_proxy", "127.0.0.1,localhost");
        qunsetenv("http_proxy");
        qunsetenv("HTTP_PROXY");
    }

    // The claim: loading names the architecture or type and lists what runs.
    void loading_names_what_is_not_run_and_what_is() {
        QTemporaryDir tmp;
        const QString mamba = write_variant(tmp.path(), "mamba.gguf", "mamba", false);
        QVERIFY(!mamba.isEmpty());
        auto m = eg::Model::load(mamba.toStdString());
        QVERIFY(!m.ok());
        QVERIFY2(QString::fromStdString(m.message()).contains(
                     "general.architecture: the architecture 'mamba' is not one this engine runs (it runs llama, "),
                 m.message().c_str());
        const QString iq = write_variant(tmp.path(), "iq.gguf", "qwen2", true);
        auto m2 = eg::Model::load(iq.toStdString());
        QVERIFY(!m2.ok());
        QVERIFY2(QString::fromStdString(m2.message())
                     .contains("tensor extra.weight: its type Q8_1 is not one this engine runs (it runs F32, F16"),
                 m2.message().c_str());
    }

    // The claim: Import says it from the header, before copying a byte.
    void import_refuses_from_the_header_and_copies_nothing() {
        QTemporaryDir tmp;
        const QString mamba = write_variant(tmp.path(), "mamba.gguf", "mamba", false);
        eg::library::ModelRegistry registry(QStringLiteral("refusals"));
        QVERIFY(registry.open(tmp.filePath("models.sqlite3")));
        const QString models = tmp.filePath("models");
        auto id = registry.import_file(mamba, eg::library::ImportMode::Copy, models);
        QVERIFY(!id.ok());
        QVERIFY2(QString::fromStdString(id.message()).contains("'mamba' is not one this engine runs"), id.message().c_str());
        QVERIFY(QDir(models).entryList(QDir::Files).isEmpty());
        QVERIFY(registry.list().isEmpty());
    }

    // The claim: the name's quant tag is read the way publishers write it.
    void quant_tags_in_file_names() {
        QVERIFY(eg::library::runnable_on_hub("r", "Model-Q4_K_M.gguf", {}).ok());
        QVERIFY(eg::library::runnable_on_hub("r", "Q8_0/model.Q8_0-00001-of-00003.gguf", {}).ok());
        QVERIFY(eg::library::runnable_on_hub("r", "model-bf16.gguf", {}).ok());
        QVERIFY(eg::library::runnable_on_hub("r", "model.gguf", {}).ok());  // no tag: the header decides
        // every i-quant and ternary type runs, so do the i-quant mixes
        for (const char* f : {"Llama-3.1-8B-Instruct-IQ4_XS.gguf", "model.IQ2_M.gguf", "model-TQ1_0.gguf", "m-IQ1_S.gguf"})
            QVERIFY2(eg::library::runnable_on_hub("r", f, {}).ok(), f);
        for (const char* f : {"Llama-3.1-8B-Instruct-Q8_1.gguf", "model.Q8_K.gguf"}) {
            auto s = eg::library::runnable_on_hub("r", f, {});
            QVERIFY2(!s.ok(), f);
            QVERIFY2(QString::fromStdString(s.message()).contains("is not one this engine runs (it runs F32"), s.message().c_str());
        }
        auto a = eg::library::runnable_on_hub("tiiuae/falcon-7b-GGUF", "falcon-7b-Q4_K_M.gguf", "falcon");
        QVERIFY(!a.ok());
        QVERIFY2(QString::fromStdString(a.message())
                     .startsWith("tiiuae/falcon-7b-GGUF: the architecture 'falcon' (the Hub's GGUF metadata) is not "
                                 "one this engine runs (it runs llama, "),
                 a.message().c_str());
    }

    // The claim: Download refuses before any byte of the file is fetched —
    // from the name's tag with no request at all, from the Hub's metadata
    // with no request for the file — and leaves nothing on disk.
    void download_refuses_before_any_byte() {
        FakeHfServer server;
        QVERIFY(server.listen());
        const QByteArray bytes = read_all(kTiny);
        server.add_file("org/Tiny-Q81-GGUF", "tiny-Q8_1.gguf", bytes);
        server.add_file("tiiuae/falcon-7b-GGUF", "falcon-7b-Q4_K_M.gguf", bytes);
        server.set_gguf_architecture("tiiuae/falcon-7b-GGUF", "falcon");
        server.add_file("org/Qwen2-Tiny-GGUF", "qwen2-tiny.Q8_0.gguf", bytes);
        server.set_gguf_architecture("org/Qwen2-Tiny-GGUF", "qwen2");
        QTemporaryDir tmp;
        Downloader d(tmp.filePath("data"));
        d.set_endpoint(server.endpoint());
        QHash<qint64, DownloadError> failed;
        QHash<qint64, QString> done;
        connect(&d, &Downloader::failed, this, [&](qint64 id, const DownloadError& e) { failed[id] = e; });
        connect(&d, &Downloader::finished, this, [&](qint64 id, const QString& p, const QString&) { done[id] = p; });
        const QString models = tmp.filePath("models");
        auto start = [&](const QString& repo, const QString& file) {
            DownloadRequest r;
            r.repo = repo;
            r.file = file;
            r.dest_dir = models;
            return d.start(r);
        };
        const qint64 a = start("org/Tiny-Q81-GGUF", "tiny-Q8_1.gguf");
        QTRY_VERIFY(failed.contains(a));
        QCOMPARE(failed[a].kind, DownloadError::Kind::Unsupported);
        QVERIFY2(failed[a].message.startsWith("tiny-Q8_1.gguf: its quant type Q8_1 is not one this engine runs"),
                 qPrintable(failed[a].message));
        QCOMPARE(server.requests.size(), 0);  // not even the Hub was asked

        const qint64 b = start("tiiuae/falcon-7b-GGUF", "falcon-7b-Q4_K_M.gguf");
        QTRY_VERIFY(failed.contains(b));
        QCOMPARE(failed[b].kind, DownloadError::Kind::Unsupported);
        QVERIFY2(failed[b].message.contains("the architecture 'falcon' (the Hub's GGUF metadata) is not one this engine runs"),
                 qPrintable(failed[b].message));
        for (const auto& r : server.requests) QVERIFY2(!r.path.contains("/resolve/") && !r.path.startsWith("/cdn/"), r.path.constData());

        // What the engine runs goes through the same path.
        const qint64 c = start("org/Qwen2-Tiny-GGUF", "qwen2-tiny.Q8_0.gguf");
        QTRY_VERIFY(done.contains(c));
        QCOMPARE(read_all(done[c]), bytes);
        // Nothing of the refused ones is on disk.
        QDirIterator it(models, QDir::Files, QDirIterator::Subdirectories);
        QStringList left;
        while (it.hasNext()) left << QFileInfo(it.next()).fileName();
        QCOMPARE(left, QStringList{"qwen2-tiny.Q8_0.gguf"});
    }

    // The claim: --pull says the same sentence and fails.
    void headless_pull_refuses_in_one_sentence() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file("org/Tiny-Q81-GGUF", "tiny-Q8_1.gguf", read_all(kTiny));
        QTemporaryDir tmp;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("HF_ENDPOINT", server.endpoint());
        env.insert("ENGRAM_CACHE_DIR", tmp.filePath("cache"));
        env.remove("DISPLAY");
        env.remove("WAYLAND_DISPLAY");
        env.remove("QT_QPA_PLATFORM");
        QProcess p;
        p.setProcessEnvironment(env);
        QSignalSpy finished(&p, &QProcess::finished);
        p.start(QStringLiteral(EG_DESKTOP_PATH), {"--data-dir", tmp.filePath("data"), "--pull", "org/Tiny-Q81-GGUF", "tiny-Q8_1.gguf"});
        QVERIFY(finished.wait(60000));
        QCOMPARE(p.exitCode(), 1);
        const QByteArray err = p.readAllStandardError();
        QVERIFY2(err.contains("its quant type Q8_1 is not one this engine runs (it runs F32, F16"), err.constData());
        QCOMPARE(server.requests.size(), 0);
    }
};

QTEST_GUILESS_MAIN(TestRefusals)
#include "test_refusals.moc"
