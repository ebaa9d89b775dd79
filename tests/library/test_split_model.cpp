// Split models (llama.cpp's NAME-0000k-of-0000N.gguf parts): loaded from the
// first part with exactly the whole file's answers, a missing or mismatched
// part named in one sentence, and downloaded as one item — by the library's
// Downloader and by `engram-desktop --pull` — into the repository's folder.
// The parts are cut by tests/reference/split/split_gguf.py (gguf-py's writer):
// the committed qwen2-tiny ones, and the default model's, cut at test time.
#include <QCryptographicHash>
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cstring>

#include "fake_hf_server.h"
#include "library/downloader.h"
#include "library/gguf_check.h"
#include "library/hub_client.h"
#include "library/model_registry.h"
#include "model/model.h"
#include "runtime/session.h"
#include "test_env.h"

using eg::library::DownloadError;
using eg::library::Downloader;
using eg::library::DownloadRequest;

namespace {

const QString kSplitDir = QStringLiteral(EG_TESTS_DIR "/reference/split");
const QString kWhole = QStringLiteral(EG_TESTS_DIR "/reference/arch/qwen2-tiny.gguf");
QString part(int k) { return kSplitDir + QStringLiteral("/qwen2-tiny-0000%1-of-00003.gguf").arg(k); }

QByteArray read_all(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// The logits after a prompt, then 8 greedy tokens: what a user's reply is made of.
struct Answer {
    std::vector<float> logits;
    std::vector<int32_t> tokens;
    QString error;
};

Answer answer(const std::string& path) {
    Answer a;
    auto m = eg::Model::load(path);
    if (!m) {
        a.error = QString::fromStdString(m.message());
        return a;
    }
    auto s = eg::Session::create(*m.value(), eg::SessionOptions{256, 32, 2});
    if (!s) {
        a.error = QString::fromStdString(s.message());
        return a;
    }
    eg::Session& ss = *s.value();
    const std::vector<int32_t> prompt = m.value()->tokenizer().encode("Once upon a time, in a small village,", true, false);
    if (auto st = ss.eval(prompt); !st) {
        a.error = QString::fromStdString(st.message());
        return a;
    }
    a.logits.assign(ss.logits(), ss.logits() + ss.n_vocab());
    for (int i = 0; i < 8; ++i) {
        const float* l = ss.logits();
        int32_t best = 0;
        for (int64_t j = 1; j < ss.n_vocab(); ++j)
            if (l[j] > l[best]) best = (int32_t)j;
        a.tokens.push_back(best);
        if (auto st = ss.eval(&best, 1); !st) break;
    }
    return a;
}

// The three committed parts linked into `dir` (under their own names unless renamed).
void link_parts(const QString& dir, const QHash<int, int>& instead = {}) {
    for (int k = 1; k <= 3; ++k)
        QFile::link(part(instead.value(k, k)), dir + QStringLiteral("/qwen2-tiny-0000%1-of-00003.gguf").arg(k));
}

QString load_error(const QString& path) {
    auto m = eg::Model::load(path.toStdString());
    return m ? QString() : QString::fromStdString(m.message());
}

}  // namespace

class TestSplitModel : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        qunsetenv("HF_TOKEN");
        qunsetenv("HF_ENDPOINT");
        qputenv("no_proxy", "127.0.0.1,localhost");
        qunsetenv("http_proxy");
        qunsetenv("HTTP_PROXY");
    }

    // The claim: a split model opened from its first part answers exactly as the unsplit file.
    void split_tiny_model_answers_exactly_as_the_whole_file() {
        auto f = eg::GgufFile::open(part(1).toStdString());
        QVERIFY2(f.ok(), f.ok() ? "" : f.message().c_str());
        QCOMPARE(f.value()->part_count(), 3u);
        auto whole = eg::GgufFile::open(kWhole.toStdString());
        QVERIFY(whole.ok());
        QCOMPARE(f.value()->tensors().size(), whole.value()->tensors().size());
        // Each tensor is read from its own part, and tensors live in all three.
        QSet<uint32_t> parts;
        for (const auto& t : f.value()->tensors()) {
            parts.insert(t.part);
            const eg::GgufTensorInfo* w = whole.value()->find_tensor(t.name);
            QVERIFY(w);
            QCOMPARE(t.n_bytes, w->n_bytes);
            QVERIFY(std::memcmp(t.data, w->data, t.n_bytes) == 0);
        }
        QCOMPARE(parts.size(), 3);

        const Answer a = answer(part(1).toStdString()), b = answer(kWhole.toStdString());
        QVERIFY2(a.error.isEmpty(), qPrintable(a.error));
        QVERIFY2(b.error.isEmpty(), qPrintable(b.error));
        QVERIFY(a.logits == b.logits);  // bit for bit
        QVERIFY(a.tokens == b.tokens);
    }

    // The same claim on the default model (SmolLM2), cut into 3 parts at test time.
    void split_default_model_answers_exactly_as_the_whole_file() {
        const QString model = QString::fromStdString(eg_test::default_model_path());
        const QString python = QString::fromStdString(eg_test::cache_dir()) + QStringLiteral("/refenv/bin/python");
        if (!QFileInfo::exists(model)) QSKIP("the default model is not cached (scripts/fetch-model.sh)");
        if (!QFileInfo::exists(python)) QSKIP("no gguf-py venv in ~/.cache/engram-desktop/refenv to cut the model");
        QTemporaryDir tmp;
        QProcess p;
        p.start(python, {kSplitDir + QStringLiteral("/split_gguf.py"), model, tmp.filePath(QStringLiteral("smol")),
                         QStringLiteral("--parts"), QStringLiteral("3")});
        QVERIFY(p.waitForFinished(300000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        const QString first = tmp.filePath(QStringLiteral("smol-00001-of-00003.gguf"));
        const Answer a = answer(first.toStdString()), b = answer(model.toStdString());
        QVERIFY2(a.error.isEmpty(), qPrintable(a.error));
        QVERIFY2(b.error.isEmpty(), qPrintable(b.error));
        QVERIFY(a.logits == b.logits);
        QVERIFY(a.tokens == b.tokens);
    }

    // The claim: a missing part, or a part of the wrong place, is one sentence
    // naming the file and the key; nothing loads and nothing crashes.
    void a_missing_or_mismatched_part_is_named_with_its_key() {
        QTemporaryDir tmp;
        link_parts(tmp.path());
        const QString first = tmp.filePath(QStringLiteral("qwen2-tiny-00001-of-00003.gguf"));
        QVERIFY(load_error(first).isEmpty());

        QFile::remove(tmp.filePath(QStringLiteral("qwen2-tiny-00003-of-00003.gguf")));
        QString e = load_error(first);
        QVERIFY2(e.contains(QStringLiteral("qwen2-tiny-00003-of-00003.gguf: split.count:")) &&
                     e.contains(QStringLiteral("part 3 is missing")),
                 qPrintable(e));

        QTemporaryDir swapped;
        link_parts(swapped.path(), {{2, 3}, {3, 2}});  // parts 2 and 3 under each other's names
        e = load_error(swapped.filePath(QStringLiteral("qwen2-tiny-00001-of-00003.gguf")));
        QVERIFY2(e.contains(QStringLiteral("qwen2-tiny-00002-of-00003.gguf: split.no: is 2")), qPrintable(e));

        // A whole model under a part's name is not a part.
        QTemporaryDir stray;
        link_parts(stray.path());
        QFile::remove(stray.filePath(QStringLiteral("qwen2-tiny-00002-of-00003.gguf")));
        QFile::link(kWhole, stray.filePath(QStringLiteral("qwen2-tiny-00002-of-00003.gguf")));
        e = load_error(stray.filePath(QStringLiteral("qwen2-tiny-00001-of-00003.gguf")));
        QVERIFY2(e.contains(QStringLiteral("qwen2-tiny-00002-of-00003.gguf: split.count: missing: the file is not a part")),
                 qPrintable(e));

        // A later part opened alone names the first.
        e = load_error(part(2));
        QVERIFY2(e.contains(QStringLiteral("split.no: this is part 2 of 3")) &&
                     e.contains(QStringLiteral("qwen2-tiny-00001-of-00003.gguf")),
                 qPrintable(e));
    }

    // The claim: the Downloader fetches every part of a split model as one
    // item (one id, one progress that only grows, one finished()), each part
    // verified, into the repository's folder; files of the same name in two
    // folders stay two files.
    void a_split_model_downloads_as_one_item_into_its_folder() {
        FakeHfServer server;
        QVERIFY(server.listen());
        const QString repo = QStringLiteral("engram-test/Qwen2-Tiny-Split-GGUF");
        for (int k = 1; k <= 3; ++k)
            server.add_file(repo, QStringLiteral("Q8_0/") + QFileInfo(part(k)).fileName(), read_all(part(k)));
        server.add_file(repo, QStringLiteral("A/tiny.gguf"), read_all(kWhole));
        server.add_file(repo, QStringLiteral("B/tiny.gguf"), read_all(QStringLiteral(EG_TESTS_DIR "/reference/arch/llama3-tiny.gguf")));
        // Throttled, with a dropped connection inside the first part: it resumes there.
        server.set_throttle(16384, 2);
        QTemporaryDir tmp;
        Downloader d(tmp.filePath(QStringLiteral("data")));
        d.set_endpoint(server.endpoint());
        QList<qint64> done_seen;
        qint64 last_total = -1;
        QString finished_path, finished_sha;
        int finished_count = 0;
        QString failure;
        connect(&d, &Downloader::progress, this, [&](qint64, qint64 done, qint64 total, double, double) {
            done_seen << done;
            last_total = total;
        });
        connect(&d, &Downloader::finished, this, [&](qint64, const QString& path, const QString& sha) {
            finished_path = path;
            finished_sha = sha;
            ++finished_count;
        });
        connect(&d, &Downloader::failed, this, [&](qint64 id, const DownloadError& e) {
            failure = e.message;
            if (e.kind == DownloadError::Kind::ConnectionLost) d.resume(id);  // as the app's retry does
        });
        DownloadRequest r;
        r.repo = repo;
        r.file = QStringLiteral("Q8_0/qwen2-tiny-00001-of-00003.gguf");
        r.dest_dir = tmp.filePath(QStringLiteral("models"));
        server.drop_at(60000);
        d.start(r);
        QTRY_VERIFY_WITH_TIMEOUT(finished_count == 1, 30000);
        const qint64 all = QFileInfo(part(1)).size() + QFileInfo(part(2)).size() + QFileInfo(part(3)).size();
        QCOMPARE(finished_path, tmp.filePath(QStringLiteral("models/Q8_0/qwen2-tiny-00001-of-00003.gguf")));
        QCOMPARE(finished_sha, QString::fromLatin1(QCryptographicHash::hash(read_all(part(1)), QCryptographicHash::Sha256).toHex()));
        for (int k = 1; k <= 3; ++k)
            QCOMPARE(read_all(tmp.filePath(QStringLiteral("models/Q8_0/") + QFileInfo(part(k)).fileName())), read_all(part(k)));
        QVERIFY(std::is_sorted(done_seen.cbegin(), done_seen.cend()));
        QCOMPARE(done_seen.last(), all);
        QCOMPARE(last_total, all);
        QCOMPARE(eg::library::model_bytes(finished_path), all);
        QVERIFY(load_error(finished_path).isEmpty());
        // No .part or sidecar left anywhere.
        QDirIterator it(tmp.filePath(QStringLiteral("models")), {QStringLiteral("*.part*")}, QDir::Files,
                        QDirIterator::Subdirectories);
        QVERIFY(!it.hasNext());

        // Same file name, two folders: two files.
        server.set_throttle(0, 0);
        for (const QString& f : {QStringLiteral("A/tiny.gguf"), QStringLiteral("B/tiny.gguf")}) {
            r.file = f;
            d.start(r);
            QTRY_VERIFY_WITH_TIMEOUT(finished_path == tmp.filePath(QStringLiteral("models/") + f), 20000);
        }
        QCOMPARE(read_all(tmp.filePath(QStringLiteral("models/A/tiny.gguf"))), read_all(kWhole));
        QVERIFY(read_all(tmp.filePath(QStringLiteral("models/B/tiny.gguf"))) != read_all(kWhole));
    }

    // The claim: a split model stopped in its second part — by Cancel, or by
    // quitting — is one item too: Cancel leaves no part on disk; the next run
    // lists it once, under its first part, and finishes it from there.
    void a_split_download_cancels_and_resumes_as_one_item() {
        FakeHfServer server;
        QVERIFY(server.listen());
        const QString repo = QStringLiteral("engram-test/Qwen2-Tiny-Split-GGUF");
        for (int k = 1; k <= 3; ++k)
            server.add_file(repo, QStringLiteral("Q8_0/") + QFileInfo(part(k)).fileName(), read_all(part(k)));
        server.set_throttle(8192, 5);
        const qint64 part1 = QFileInfo(part(1)).size();
        QTemporaryDir tmp;
        const QString models = tmp.filePath(QStringLiteral("models"));
        DownloadRequest r;
        r.repo = repo;
        r.file = QStringLiteral("Q8_0/qwen2-tiny-00001-of-00003.gguf");
        r.dest_dir = models;
        auto files_left = [&] {
            QStringList out;
            for (QDirIterator it(models, QDir::Files, QDirIterator::Subdirectories); it.hasNext();)
                out << QFileInfo(it.next()).fileName();
            out.sort();
            return out;
        };
        {
            Downloader d(tmp.filePath(QStringLiteral("data")));
            d.set_endpoint(server.endpoint());
            qint64 done = 0;
            connect(&d, &Downloader::progress, this, [&](qint64, qint64 b, qint64, double, double) { done = b; });
            const qint64 id = d.start(r);
            QTRY_VERIFY_WITH_TIMEOUT(done > part1 + 20000, 20000);  // inside part 2
            QVERIFY(files_left().contains(QStringLiteral("qwen2-tiny-00001-of-00003.gguf")));
            d.cancel(id);
            QCOMPARE(files_left(), QStringList());
        }
        qint64 at_quit = 0;
        {
            Downloader d(tmp.filePath(QStringLiteral("data")));
            d.set_endpoint(server.endpoint());
            connect(&d, &Downloader::progress, this, [&](qint64, qint64 b, qint64, double, double) { at_quit = b; });
            d.start(r);
            QTRY_VERIFY_WITH_TIMEOUT(at_quit > part1 + 20000, 20000);
        }  // quit mid part 2: its .part and sidecar stay
        QCOMPARE(files_left(), (QStringList{QStringLiteral("qwen2-tiny-00001-of-00003.gguf"),
                                            QStringLiteral("qwen2-tiny-00002-of-00003.gguf.part"),
                                            QStringLiteral("qwen2-tiny-00002-of-00003.gguf.part.json")}));
        server.set_throttle(0, 0);
        Downloader d(tmp.filePath(QStringLiteral("data")));
        d.set_endpoint(server.endpoint());
        const QList<eg::library::PartialDownload> partial = d.partial_downloads(models);
        QCOMPARE(partial.size(), 1);
        QCOMPARE(partial[0].request.file, r.file);  // the model, by its first part
        QVERIFY(partial[0].bytes_done >= at_quit - 16384 && partial[0].bytes_done > part1);
        QString finished;
        connect(&d, &Downloader::finished, this, [&](qint64, const QString& path, const QString&) { finished = path; });
        const qint64 id = d.adopt(partial[0]);
        const int cdn_before = server.cdn_requests();
        d.resume(id);
        QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty(), 20000);
        QCOMPARE(server.cdn_requests() - cdn_before, 2);  // parts 2 (resumed) and 3; part 1 not again
        QVERIFY(server.requests.last().path.startsWith("/cdn/"));
        for (int k = 1; k <= 3; ++k)
            QCOMPARE(read_all(models + QStringLiteral("/Q8_0/") + QFileInfo(part(k)).fileName()), read_all(part(k)));
        QVERIFY(load_error(finished).isEmpty());
    }

    // The claim: the Hub's file list shows a split model as one row, its
    // first part, with the size of all its parts; an incomplete one not at all.
    void the_hub_listing_shows_a_split_model_as_one_row() {
        QJsonArray tree;
        auto file = [&](const QString& path, qint64 size) {
            tree.push_back(QJsonObject{{"type", "file"}, {"path", path}, {"size", size},
                                       {"lfs", QJsonObject{{"oid", QString(64, u'a')}, {"size", size}}}});
        };
        for (int k = 1; k <= 3; ++k) file(QStringLiteral("Q4_K_M/big-Q4_K_M-0000%1-of-00003.gguf").arg(k), 1000 * k);
        file(QStringLiteral("big-Q8_0.gguf"), 50);
        file(QStringLiteral("Q2_K/big-Q2_K-00001-of-00002.gguf"), 7);  // part 2 is not listed
        auto files = eg::library::parse_tree_json(QJsonDocument(tree).toJson());
        QVERIFY(files.ok());
        QCOMPARE(files->size(), 2);
        QCOMPARE(files->at(0).path, QStringLiteral("Q4_K_M/big-Q4_K_M-00001-of-00003.gguf"));
        QCOMPARE(files->at(0).size_bytes, qint64(6000));
        QCOMPARE(files->at(0).parts, 3);
        QCOMPARE(files->at(1).path, QStringLiteral("big-Q8_0.gguf"));
        QCOMPARE(files->at(1).parts, 1);
    }

    // The claim: `engram-desktop --pull REPO FIRST-PART` fetches the whole
    // split model and registers it once, with the size of all its parts.
    void headless_pull_of_a_split_model() {
        FakeHfServer server;
        QVERIFY(server.listen());
        const QString repo = QStringLiteral("engram-test/Qwen2-Tiny-Split-GGUF");
        for (int k = 1; k <= 3; ++k)
            server.add_file(repo, QStringLiteral("Q8_0/") + QFileInfo(part(k)).fileName(), read_all(part(k)));
        QTemporaryDir tmp;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("HF_ENDPOINT"), server.endpoint());
        env.insert(QStringLiteral("ENGRAM_CACHE_DIR"), tmp.filePath(QStringLiteral("cache")));
        env.remove(QStringLiteral("DISPLAY"));
        env.remove(QStringLiteral("WAYLAND_DISPLAY"));
        env.remove(QStringLiteral("QT_QPA_PLATFORM"));
        const QString data = tmp.filePath(QStringLiteral("data"));
        auto run = [&](const QStringList& args, QByteArray* out, QByteArray* err) {
            QProcess p;
            p.setProcessEnvironment(env);
            QSignalSpy done(&p, &QProcess::finished);
            p.start(QStringLiteral(EG_DESKTOP_PATH), QStringList{QStringLiteral("--data-dir"), data} + args);
            if (!done.wait(60000)) return -1;  // the fake server needs this thread's event loop
            *out = p.readAllStandardOutput();
            *err = p.readAllStandardError();
            return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
        };
        QByteArray out, err;
        QCOMPARE(run({QStringLiteral("--pull"), repo, QStringLiteral("Q8_0/qwen2-tiny-00001-of-00003.gguf")}, &out, &err), 0);
        const QString first = tmp.filePath(QStringLiteral("cache/models/Q8_0/qwen2-tiny-00001-of-00003.gguf"));
        QVERIFY2(err.contains(first.toUtf8()), err.constData());
        QVERIFY(load_error(first).isEmpty());
        QCOMPARE(run({QStringLiteral("--list-models")}, &out, &err), 0);
        const QJsonArray list = QJsonDocument::fromJson(out).array();
        QCOMPARE(list.size(), 1);  // the later parts are not models of their own
        QCOMPARE(list[0].toObject().value(QStringLiteral("path")).toString(), first);
        QCOMPARE(list[0].toObject().value(QStringLiteral("size_bytes")).toInteger(),
                 QFileInfo(part(1)).size() + QFileInfo(part(2)).size() + QFileInfo(part(3)).size());
    }
};

QTEST_GUILESS_MAIN(TestSplitModel)
#include "test_split_model.moc"
