// Tests of the model library (library/) against a fake Hugging Face
// server on 127.0.0.1 with real faults: a full verified download, dropped
// connections resumed to a byte-identical file, a wrong checksum, no disk
// space, cancel, an app restart mid-download, a server that ignores Range,
// 401/404/connection refused/stall messages, the Hub API, the registry and
// the headless --pull / --list-models commands.
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QStorageInfo>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QtTest>

#include <sys/stat.h>

#include "fake_hf_server.h"
#include "library/downloader.h"
#include "library/hub_client.h"
#include "library/model_registry.h"
#include "store/result_qt.h"

using eg::library::DownloadError;
using eg::library::DownloadRequest;
using eg::library::Downloader;
using eg::library::HubClient;
using eg::library::ImportMode;
using eg::library::InstalledModel;
using eg::library::ModelRegistry;
using eg::library::PartialDownload;
using Kind = eg::library::DownloadError::Kind;

namespace {

const QString kRepo = QStringLiteral("engram-test/Qwen2-Tiny-GGUF");
const QString kFile = QStringLiteral("qwen2-tiny.Q8_0.gguf");

QByteArray read_all(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

QByteArray sha_hex(const QByteArray& b) { return QCryptographicHash::hash(b, QCryptographicHash::Sha256).toHex(); }

// Every outcome of every download, recorded from the moment it is emitted.
struct Recorder {
    struct Outcome {
        bool ok = false;
        QString message, path, sha256;
        Kind kind = Kind::Network;  // of a failure
        bool offline = false;       // DownloadError::is_offline()
    };
    QHash<qint64, Outcome> outcomes;
    QHash<qint64, qint64> bytes_done;
    QHash<qint64, qint64> bytes_total;
    QStringList notices;
    QList<qint64> cancelled;

    void watch(Downloader& d) {
        QObject::connect(&d, &Downloader::finished, [this](qint64 id, const QString& path, const QString& sha) {
            outcomes[id] = {true, {}, path, sha};
        });
        QObject::connect(&d, &Downloader::failed, [this](qint64 id, const DownloadError& e) {
            outcomes[id] = {false, e.message, {}, {}, e.kind, e.is_offline()};
        });
        QObject::connect(&d, &Downloader::progress, [this](qint64 id, qint64 done, qint64 total, double, double) {
            bytes_done[id] = done;
            bytes_total[id] = total;
        });
        QObject::connect(&d, &Downloader::notice, [this](qint64, const QString& m) { notices << m; });
        QObject::connect(&d, &Downloader::cancelled, [this](qint64 id) { cancelled << id; });
    }
    // Waits for the download's next outcome (and consumes it).
    Outcome wait(qint64 id, int timeout_ms = 20000) {
        QDeadlineTimer deadline(timeout_ms);
        while (!outcomes.contains(id) && !deadline.hasExpired()) QTest::qWait(5);
        if (!outcomes.contains(id)) return {false, QStringLiteral("TEST: no outcome within %1 ms").arg(timeout_ms), {}, {}};
        return outcomes.take(id);
    }
};

QStringList files_in(const QString& dir) {
    return QDir(dir).entryList(QDir::Files | QDir::Hidden | QDir::NoDotAndDotDot);
}

}  // namespace

class TestDownloader : public QObject {
    Q_OBJECT

    QByteArray model_;  // the real tiny GGUF the server serves
    QByteArray model2_;

    DownloadRequest request(const QString& dest, const QString& repo = kRepo, const QString& file = kFile) {
        DownloadRequest r;
        r.repo = repo;
        r.file = file;
        r.dest_dir = dest;
        return r;
    }

private slots:
    void initTestCase() {
        qunsetenv("HF_TOKEN");
        qunsetenv("HF_ENDPOINT");
        qputenv("no_proxy", "127.0.0.1,localhost");
        qunsetenv("http_proxy");
        qunsetenv("HTTP_PROXY");
        model_ = read_all(QStringLiteral(EG_TESTS_DIR "/reference/arch/qwen2-tiny.gguf"));
        model2_ = read_all(QStringLiteral(EG_TESTS_DIR "/reference/arch/llama3-tiny.gguf"));
        QVERIFY(model_.size() > 100000);
        QVERIFY(model2_.size() > 100000);
    }

    // The claim: one call fetches resolve → 302 → CDN, verifies the etag hash
    // and GGUF, moves the file into place and it can be registered; two at once work.
    void full_download_is_verified_and_registered() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        server.add_file(QStringLiteral("engram-test/Llama3-Tiny-GGUF"), QStringLiteral("llama3-tiny.gguf"), model2_);
        QTemporaryDir tmp;
        Downloader d(tmp.path() + QStringLiteral("/data"));
        d.set_endpoint(server.endpoint());
        Recorder rec;
        rec.watch(d);
        const QString dest = tmp.path() + QStringLiteral("/models");
        const qint64 a = d.start(request(dest));
        const qint64 b = d.start(request(dest, QStringLiteral("engram-test/Llama3-Tiny-GGUF"),
                                         QStringLiteral("llama3-tiny.gguf")));
        const auto oa = rec.wait(a);
        const auto ob = rec.wait(b);
        QVERIFY2(oa.ok, qPrintable(oa.message));
        QVERIFY2(ob.ok, qPrintable(ob.message));
        QCOMPARE(oa.path, dest + QLatin1Char('/') + kFile);
        QCOMPARE(read_all(oa.path), model_);
        QCOMPARE(oa.sha256.toLatin1(), sha_hex(model_));
        QCOMPARE(read_all(ob.path), model2_);
        QCOMPARE(rec.bytes_total.value(a), qint64(model_.size()));
        QCOMPARE(rec.bytes_done.value(a), qint64(model_.size()));
        QCOMPARE(server.cdn_requests(), 2);
        QVERIFY(!server.requests.first().headers.contains("authorization"));  // no token configured
        QCOMPARE(files_in(dest).size(), 2);  // no .part or sidecar left

        ModelRegistry registry(QStringLiteral("t-full"));
        const auto opened = registry.open(tmp.path() + QStringLiteral("/data/models.sqlite3"));
        QVERIFY2(opened, opened.message().c_str());
        InstalledModel m;
        m.path = oa.path;
        m.source = QStringLiteral("huggingface");
        m.repo = kRepo;
        m.file = kFile;
        m.revision = QStringLiteral("main");
        m.size_bytes = model_.size();
        m.sha256 = oa.sha256;
        const auto added = registry.add(m);
        QVERIFY2(added, added ? "" : added.message().c_str());
        const qint64 id = added.value();
        QVERIFY(id > 0);
        const auto listed = registry.list();
        QCOMPARE(listed.size(), 1);
        QCOMPARE(listed[0].sha256, oa.sha256);
        QCOMPARE(listed[0].repo, kRepo);
        QVERIFY(!listed[0].last_used_at.isValid());
        QVERIFY(registry.touch_last_used(id));
        QVERIFY(registry.find(id)->last_used_at.isValid());
    }

    // The claim: a connection dropped at 5 random points costs no fetched
    // byte, and the resumed file is byte-identical.
    void dropped_connections_resume_to_an_identical_file() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        QTemporaryDir tmp;
        Downloader d(tmp.path());
        d.set_endpoint(server.endpoint());
        Recorder rec;
        rec.watch(d);
        QRandomGenerator rng(20261129);
        QList<qint64> points;
        while (points.size() < 5) {
            const qint64 p = 1000 + qint64(rng.bounded(quint32(model_.size() - 2000)));
            if (!points.contains(p)) points << p;
        }
        std::sort(points.begin(), points.end());
        const DownloadRequest req = request(tmp.path());
        const QString part = Downloader::part_path_for(req);
        qint64 id = 0;
        for (int i = 0; i < points.size(); ++i) {
            server.drop_at(points[i]);
            if (i == 0) id = d.start(req);
            else d.resume(id);
            const auto o = rec.wait(id);
            QVERIFY2(!o.ok, "the download should have failed at the drop");
            QVERIFY2(o.message.contains(QStringLiteral("connection")), qPrintable(o.message));
            QCOMPARE(o.kind, Kind::ConnectionLost);
            QCOMPARE(QFileInfo(part).size(), points[i]);  // every byte before the drop is kept
            if (i > 0) QCOMPARE(server.last_range(), "bytes=" + QByteArray::number(points[i - 1]) + "-");
        }
        server.drop_at(-1);
        d.resume(id);
        const auto o = rec.wait(id);
        QVERIFY2(o.ok, qPrintable(o.message));
        QCOMPARE(server.last_range(), "bytes=" + QByteArray::number(points.last()) + "-");
        QCOMPARE(read_all(o.path), model_);
        QCOMPARE(o.sha256.toLatin1(), sha_hex(model_));
        QVERIFY(!QFile::exists(part));
        QVERIFY(!QFile::exists(part + QStringLiteral(".json")));
    }

    // The claim: a file whose hash differs from X-Linked-Etag (or from the
    // catalog's value) is deleted, named with both hashes, never registered.
    void wrong_checksum_is_rejected_and_deleted() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        server.set_wrong_etag(true);
        QTemporaryDir tmp;
        Downloader d(tmp.path());
        d.set_endpoint(server.endpoint());
        Recorder rec;
        rec.watch(d);
        ModelRegistry registry(QStringLiteral("t-sum"));
        QVERIFY(registry.open(tmp.path() + QStringLiteral("/models.sqlite3")));
        QObject::connect(&d, &Downloader::finished, [&](qint64, const QString& path, const QString& sha) {
            (void)registry.add(InstalledModel{0, path, QStringLiteral("huggingface"), kRepo, kFile,
                                              QStringLiteral("main"), model_.size(), sha, {}, {}});
        });
        const QString dest = tmp.path() + QStringLiteral("/models");
        auto o = rec.wait(d.start(request(dest)));
        QVERIFY(!o.ok);
        const QByteArray wrong = sha_hex("something else");
        QVERIFY2(o.message.contains(QStringLiteral("checksum mismatch: expected ") + QString::fromLatin1(wrong)),
                 qPrintable(o.message));
        QVERIFY2(o.message.contains(QStringLiteral("got ") + QString::fromLatin1(sha_hex(model_))),
                 qPrintable(o.message));
        QCOMPARE(o.kind, Kind::Checksum);
        QVERIFY(files_in(dest).isEmpty());

        // A catalog hash wins over the etag, and is checked the same way.
        server.set_wrong_etag(false);
        DownloadRequest req = request(dest);
        req.expected_sha256 = QString(64, u'a');
        o = rec.wait(d.start(req));
        QVERIFY(!o.ok);
        QVERIFY2(o.message.contains(QStringLiteral("expected ") + QString(64, u'a')), qPrintable(o.message));
        QVERIFY(files_in(dest).isEmpty());
        QVERIFY(registry.list().isEmpty());
    }

    // The claim: a file that is not a readable GGUF is rejected after download.
    void corrupt_gguf_is_rejected() {
        FakeHfServer server;
        QVERIFY(server.listen());
        QByteArray broken = model_;
        broken.truncate(4000);  // header intact, tensor data missing
        server.add_file(kRepo, QStringLiteral("broken.gguf"), broken);
        QTemporaryDir tmp;
        Downloader d(tmp.path());
        d.set_endpoint(server.endpoint());
        Recorder rec;
        rec.watch(d);
        const auto o = rec.wait(d.start(request(tmp.path() + QStringLiteral("/m"), kRepo, QStringLiteral("broken.gguf"))));
        QVERIFY(!o.ok);
        QVERIFY2(o.message.contains(QStringLiteral("not a valid GGUF")), qPrintable(o.message));
        QCOMPARE(o.kind, Kind::InvalidFile);
        QVERIFY(files_in(tmp.path() + QStringLiteral("/m")).isEmpty());
    }

    // The claim: a file that cannot fit is refused before the first byte is fetched.
    void not_enough_disk_is_refused_before_the_first_byte() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        QTemporaryDir tmp;
        const QString small = tmp.path() + QStringLiteral("/small");
        QDir().mkpath(small);
        const bool mounted =
            QProcess::execute(QStringLiteral("mount"), {QStringLiteral("-t"), QStringLiteral("tmpfs"),
                                                         QStringLiteral("-o"), QStringLiteral("size=100k"),
                                                         QStringLiteral("tmpfs"), small}) == 0;
        auto unmount = qScopeGuard([&] {
            if (mounted) QProcess::execute(QStringLiteral("umount"), {small});
        });
        Downloader d(tmp.path());
        d.set_endpoint(server.endpoint());
        Recorder rec;
        rec.watch(d);
        DownloadRequest req = request(small);
        if (!mounted) {
            // No permission to mount: claim a file larger than the free space instead.
            qWarning("mount -t tmpfs not permitted; testing with expected_size_bytes > bytesAvailable()");
            req.expected_size_bytes = QStorageInfo(small).bytesAvailable() + (qint64(1) << 40);
        }
        const auto o = rec.wait(d.start(req));
        QVERIFY(!o.ok);
        QVERIFY2(o.message.startsWith(QStringLiteral("not enough disk space: needs ")), qPrintable(o.message));
        QVERIFY2(o.message.contains(QStringLiteral("free")), qPrintable(o.message));
        QCOMPARE(o.kind, Kind::Disk);
        QCOMPARE(server.cdn_requests(), 0);  // the bytes were never requested
        QVERIFY(files_in(small).isEmpty());
        if (mounted) {
            // With the size known up front, not even the Hub is asked.
            const int before = server.requests.size();
            req.expected_size_bytes = model_.size();
            const auto o2 = rec.wait(d.start(req));
            QVERIFY(!o2.ok);
            QVERIFY2(o2.message.startsWith(QStringLiteral("not enough disk space")), qPrintable(o2.message));
            QCOMPARE(server.requests.size(), before);
        }
    }

    // The claim: when the size is not announced and the disk fills up, the
    // failure says so and the .part keeps only whole, verified-so-far bytes.
    void a_full_disk_during_the_write_is_reported() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        server.set_hide_size(true);
        server.set_throttle(8192, 5);  // small pieces, so some fit before the disk is full
        QTemporaryDir tmp;
        const QString small = tmp.path() + QStringLiteral("/small");
        QDir().mkpath(small);
        if (QProcess::execute(QStringLiteral("mount"), {QStringLiteral("-t"), QStringLiteral("tmpfs"), QStringLiteral("-o"),
                                                        QStringLiteral("size=100k"), QStringLiteral("tmpfs"), small}) != 0)
            QSKIP("mount -t tmpfs not permitted here; a full disk cannot be made");
        auto unmount = qScopeGuard([&] { QProcess::execute(QStringLiteral("umount"), {small}); });
        Downloader d(tmp.path());
        d.set_endpoint(server.endpoint());
        Recorder rec;
        rec.watch(d);
        const DownloadRequest req = request(small);
        const auto o = rec.wait(d.start(req));
        QVERIFY(!o.ok);
        QVERIFY2(o.message.startsWith(QStringLiteral("disk full")), qPrintable(o.message));
        QCOMPARE(o.kind, Kind::Disk);
        const QByteArray kept = read_all(Downloader::part_path_for(req));
        QVERIFY(kept.size() > 0 && kept.size() <= 100 * 1024);
        QCOMPARE(kept, model_.left(kept.size()));
    }

    // The claim: cancel stops the transfer and leaves nothing behind.
    void cancel_leaves_no_leftovers() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        server.set_throttle(8192, 20);
        QTemporaryDir tmp;
        Downloader d(tmp.path());
        d.set_endpoint(server.endpoint());
        Recorder rec;
        rec.watch(d);
        const QString dest = tmp.path() + QStringLiteral("/models");
        const qint64 id = d.start(request(dest));
        QTRY_VERIFY_WITH_TIMEOUT(rec.bytes_done.value(id) > 16384, 10000);
        d.cancel(id);
        QCOMPARE(rec.cancelled, QList<qint64>{id});
        QTest::qWait(200);
        QVERIFY2(files_in(dest).isEmpty(), qPrintable(files_in(dest).join(u',')));
        QVERIFY(!rec.outcomes.contains(id));
    }

    // The claim: pause keeps the bytes; resume continues with Range.
    void pause_and_resume_continue_where_they_stopped() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        server.set_throttle(8192, 20);
        QTemporaryDir tmp;
        Downloader d(tmp.path());
        d.set_endpoint(server.endpoint());
        Recorder rec;
        rec.watch(d);
        const qint64 id = d.start(request(tmp.path()));
        QTRY_VERIFY_WITH_TIMEOUT(rec.bytes_done.value(id) > 16384, 10000);
        d.pause(id);
        QVERIFY(!d.is_running(id));
        const qint64 at_pause = QFileInfo(Downloader::part_path_for(request(tmp.path()))).size();
        QVERIFY(at_pause > 16384);
        QTest::qWait(200);
        QCOMPARE(QFileInfo(Downloader::part_path_for(request(tmp.path()))).size(), at_pause);
        server.set_throttle(0, 0);
        d.resume(id);
        const auto o = rec.wait(id);
        QVERIFY2(o.ok, qPrintable(o.message));
        QCOMPARE(server.last_range(), "bytes=" + QByteArray::number(at_pause) + "-");
        QCOMPARE(read_all(o.path), model_);
    }

    // The claim: after the app was closed mid-download, a new Downloader
    // continues from the .part file instead of starting from zero.
    void a_restarted_app_resumes_from_the_part_file() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        server.set_throttle(8192, 20);
        QTemporaryDir tmp;
        const DownloadRequest req = request(tmp.path() + QStringLiteral("/models"));
        {
            Downloader first(tmp.path());
            first.set_endpoint(server.endpoint());
            Recorder rec;
            rec.watch(first);
            const qint64 id = first.start(req);
            QTRY_VERIFY_WITH_TIMEOUT(rec.bytes_done.value(id) > 32768, 10000);
        }  // the app quits
        const qint64 kept = QFileInfo(Downloader::part_path_for(req)).size();
        QVERIFY(kept > 32768 && kept < model_.size());
        QVERIFY(QFile::exists(Downloader::part_path_for(req) + QStringLiteral(".json")));
        server.set_throttle(0, 0);
        Downloader second(tmp.path());
        second.set_endpoint(server.endpoint());
        Recorder rec;
        rec.watch(second);
        const auto o = rec.wait(second.start(req));
        QVERIFY2(o.ok, qPrintable(o.message));
        QCOMPARE(server.last_range(), "bytes=" + QByteArray::number(kept) + "-");
        QVERIFY(rec.notices.isEmpty());
        QCOMPARE(read_all(o.path), model_);
        QCOMPARE(o.sha256.toLatin1(), sha_hex(model_));
    }

    // The claim: the next run learns what an earlier one left unfinished from
    // the downloader (partial_downloads), not from the sidecar's format, and
    // continues it at the revision it was started with; Cancel deletes it.
    void a_restarted_app_lists_and_adopts_its_partial_downloads() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        server.set_throttle(8192, 20);
        QTemporaryDir tmp;
        const QString dest = tmp.path() + QStringLiteral("/models");
        DownloadRequest req = request(dest);
        req.revision = QStringLiteral("v1.0");
        {
            Downloader first(tmp.path());
            first.set_endpoint(server.endpoint());
            Recorder rec;
            rec.watch(first);
            const qint64 id = first.start(req);
            QTRY_VERIFY_WITH_TIMEOUT(rec.bytes_done.value(id) > 32768, 10000);
        }  // the app quits
        const qint64 kept = QFileInfo(Downloader::part_path_for(req)).size();
        QVERIFY(kept > 32768 && kept < model_.size());
        server.set_throttle(0, 0);

        // Another endpoint's downloader would not continue these bytes: it lists none.
        Downloader elsewhere(tmp.path());
        elsewhere.set_endpoint(QStringLiteral("http://127.0.0.1:9"));
        QVERIFY(elsewhere.partial_downloads(dest).isEmpty());

        Downloader second(tmp.path());
        second.set_endpoint(server.endpoint());
        const QList<PartialDownload> partial = second.partial_downloads(dest);
        QCOMPARE(partial.size(), 1);
        QCOMPARE(partial[0].request.repo, kRepo);
        QCOMPARE(partial[0].request.file, kFile);
        QCOMPARE(partial[0].request.revision, QStringLiteral("v1.0"));
        QCOMPARE(partial[0].bytes_done, kept);
        QCOMPARE(partial[0].bytes_total, qint64(model_.size()));
        QCOMPARE(partial[0].part_path, QFileInfo(Downloader::part_path_for(req)).absoluteFilePath());
        Recorder rec;
        rec.watch(second);
        const qint64 id = second.adopt(partial[0]);
        QVERIFY(id > 0);
        QVERIFY(!second.is_running(id));  // adopted paused: nothing is fetched until resume
        QCOMPARE(second.adopt(partial[0]), id);
        QTest::qWait(100);
        QCOMPARE(QFileInfo(Downloader::part_path_for(req)).size(), kept);
        second.resume(id);
        const auto o = rec.wait(id);
        QVERIFY2(o.ok, qPrintable(o.message));
        QCOMPARE(server.last_range(), "bytes=" + QByteArray::number(kept) + "-");
        bool at_tag = false;
        for (const FakeHfServer::Request& r : server.requests)
            at_tag |= r.path == ("/" + kRepo + "/resolve/v1.0/" + kFile).toUtf8();
        QVERIFY(at_tag);
        QCOMPARE(read_all(o.path), model_);
        QVERIFY(second.partial_downloads(dest).isEmpty());

        // Cancel on an adopted download deletes the .part and its sidecar.
        {
            Downloader first(tmp.path());
            first.set_endpoint(server.endpoint());
            server.set_throttle(8192, 20);
            Recorder r1;
            r1.watch(first);
            QFile::remove(o.path);
            const qint64 again = first.start(req);
            QTRY_VERIFY_WITH_TIMEOUT(r1.bytes_done.value(again) > 16384, 10000);
        }
        Downloader third(tmp.path());
        third.set_endpoint(server.endpoint());
        const QList<PartialDownload> left = third.partial_downloads(dest);
        QCOMPARE(left.size(), 1);
        third.cancel(third.adopt(left[0]));
        QVERIFY2(files_in(dest).isEmpty(), qPrintable(files_in(dest).join(u',')));
    }

    // The claim: while offline, a probe says when the endpoint answers again.
    void a_probe_notices_the_endpoint_coming_back() {
        QTcpServer closed;
        QVERIFY(closed.listen(QHostAddress::LocalHost, 0));
        const quint16 port = closed.serverPort();
        closed.close();
        QTemporaryDir tmp;
        Downloader d(tmp.path());
        d.set_endpoint(QStringLiteral("http://127.0.0.1:%1").arg(port));
        QSignalSpy reachable(&d, &Downloader::reachable);
        d.probe();
        QTest::qWait(300);
        QCOMPARE(reachable.count(), 0);
        FakeHfServer server;
        QVERIFY(server.listen(port));
        d.probe();
        QTRY_COMPARE_WITH_TIMEOUT(reachable.count(), 1, 5000);  // any HTTP answer counts
    }

    // The claim: a server that ignores Range (200 with the whole body) gives a
    // clean restart, and the user is told.
    void a_server_ignoring_range_restarts_cleanly() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        server.set_ignore_range(true);
        QTemporaryDir tmp;
        const DownloadRequest req = request(tmp.path());
        {
            QFile part(Downloader::part_path_for(req));
            QVERIFY(part.open(QIODevice::WriteOnly));
            part.write(model_.left(50000));
        }
        Downloader d(tmp.path());
        d.set_endpoint(server.endpoint());
        Recorder rec;
        rec.watch(d);
        const auto o = rec.wait(d.start(req));
        QVERIFY2(o.ok, qPrintable(o.message));
        QCOMPARE(server.last_range(), QByteArray("bytes=50000-"));  // asked, ignored
        QCOMPARE(rec.notices, QStringList{QStringLiteral("the server does not support resuming; starting over")});
        QCOMPARE(read_all(o.path), model_);
    }

    // The claims: 401 names the gate and the fix; a token (file, 0600) opens it.
    void a_gated_repo_needs_a_token() {
        FakeHfServer server;
        QVERIFY(server.listen());
        const QString repo = QStringLiteral("engram-test/Gated-GGUF");
        server.add_file(repo, kFile, model_);
        server.set_gated(repo, "hf_secret");
        QTemporaryDir tmp;
        Downloader d(tmp.path());
        d.set_endpoint(server.endpoint());
        Recorder rec;
        rec.watch(d);
        auto o = rec.wait(d.start(request(tmp.path() + QStringLiteral("/m"), repo)));
        QVERIFY(!o.ok);
        QVERIFY2(o.message.contains(QStringLiteral("gated")), qPrintable(o.message));
        QVERIFY2(o.message.contains(QStringLiteral("accept the licence on the model page and set a token")),
                 qPrintable(o.message));
        QCOMPARE(o.kind, Kind::Gated);
        QVERIFY(files_in(tmp.path() + QStringLiteral("/m")).isEmpty());

        const auto stored = d.set_token(QStringLiteral("hf_secret"));
        QVERIFY2(stored, stored ? "" : stored.message().c_str());
        struct stat st {};
        QCOMPARE(::stat(QFile::encodeName(d.token_path()).constData(), &st), 0);
        QCOMPARE(int(st.st_mode & 0777), 0600);
        o = rec.wait(d.start(request(tmp.path() + QStringLiteral("/m"), repo)));
        QVERIFY2(o.ok, qPrintable(o.message));
        QCOMPARE(read_all(o.path), model_);
    }

    void a_missing_file_says_not_found() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        QTemporaryDir tmp;
        Downloader d(tmp.path());
        d.set_endpoint(server.endpoint());
        Recorder rec;
        rec.watch(d);
        const auto o = rec.wait(d.start(request(tmp.path(), kRepo, QStringLiteral("missing.gguf"))));
        QVERIFY(!o.ok);
        QVERIFY2(o.message.contains(QStringLiteral("not found: ") + kRepo + QStringLiteral("/missing.gguf at revision main")),
                 qPrintable(o.message));
        QCOMPARE(o.kind, Kind::NotFound);
        QVERIFY(!o.offline);
    }

    void a_closed_port_says_offline() {
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
        const quint16 port = probe.serverPort();
        probe.close();
        QTemporaryDir tmp;
        Downloader d(tmp.path());
        d.set_endpoint(QStringLiteral("http://127.0.0.1:%1").arg(port));
        Recorder rec;
        rec.watch(d);
        const auto o = rec.wait(d.start(request(tmp.path() + QStringLiteral("/m"))));
        QVERIFY(!o.ok);
        QVERIFY2(o.message.startsWith(QStringLiteral("offline")), qPrintable(o.message));
        QVERIFY2(o.message.contains(QStringLiteral("connection refused")), qPrintable(o.message));
        QCOMPARE(o.kind, Kind::Offline);
        QVERIFY(o.offline);
        QVERIFY(files_in(tmp.path() + QStringLiteral("/m")).isEmpty());
    }

    void an_unknown_host_says_dns_failure() {
        QTemporaryDir tmp;
        Downloader d(tmp.path());
        d.set_endpoint(QStringLiteral("http://no-such-host.invalid"));  // .invalid never resolves (RFC 6761)
        Recorder rec;
        rec.watch(d);
        const auto o = rec.wait(d.start(request(tmp.path() + QStringLiteral("/m"))), 60000);
        QVERIFY(!o.ok);
        QVERIFY2(o.message.startsWith(QStringLiteral("DNS failure: cannot resolve no-such-host.invalid")),
                 qPrintable(o.message));
        QCOMPARE(o.kind, Kind::Dns);
        QVERIFY(o.offline);
    }

    // The claim: a TLS failure is reported as one (and not ignored): here the
    // "https" server answers in plain HTTP, so the handshake cannot succeed.
    void a_tls_failure_is_named() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        QTemporaryDir tmp;
        Downloader d(tmp.path());
        d.set_endpoint(QStringLiteral("https://127.0.0.1:%1").arg(server.port()));
        Recorder rec;
        rec.watch(d);
        const auto o = rec.wait(d.start(request(tmp.path() + QStringLiteral("/m"))));
        QVERIFY(!o.ok);
        QVERIFY2(o.message.startsWith(QStringLiteral("TLS failure")), qPrintable(o.message));
        QCOMPARE(o.kind, Kind::Tls);
        QVERIFY(files_in(tmp.path() + QStringLiteral("/m")).isEmpty());
    }

    // The claim: a server that stops sending is reported, never a silent stall.
    void a_stalled_transfer_is_reported() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        server.set_stall_body(true);
        QTemporaryDir tmp;
        Downloader d(tmp.path());
        d.set_endpoint(server.endpoint());
        d.set_stall_timeout_ms(500);
        Recorder rec;
        rec.watch(d);
        const auto o = rec.wait(d.start(request(tmp.path())), 10000);
        QVERIFY(!o.ok);
        QVERIFY2(o.message.startsWith(QStringLiteral("stalled")), qPrintable(o.message));
        QCOMPARE(o.kind, Kind::Stalled);
    }

    void hub_search_and_file_listing_are_parsed() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_, 1234);
        server.add_file(kRepo, QStringLiteral("qwen2-tiny.F16.gguf"), model2_, 1234);
        server.add_file(QStringLiteral("other/Llama-GGUF"), QStringLiteral("l.gguf"), model2_, 5);
        HubClient hub;
        hub.set_endpoint(server.endpoint());
        QSignalSpy found(&hub, &HubClient::searchFinished);
        hub.search(QStringLiteral("qwen2 tiny"));  // a space must survive the query string
        hub.search(QStringLiteral("Qwen2"));
        QTRY_COMPARE_WITH_TIMEOUT(found.size(), 2, 10000);
        const QUrlQuery q(QUrl(QString::fromLatin1(server.requests.last().path)));
        QCOMPARE(q.queryItemValue(QStringLiteral("filter")), QStringLiteral("gguf"));
        QCOMPARE(q.queryItemValue(QStringLiteral("sort")), QStringLiteral("downloads"));
        QCOMPARE(q.queryItemValue(QStringLiteral("direction")), QStringLiteral("-1"));
        const auto models = found.at(1).at(1).value<QList<eg::library::HubModel>>();
        QCOMPARE(models.size(), 1);
        QCOMPARE(models[0].repo, kRepo);
        QCOMPARE(models[0].downloads, 1234);
        QCOMPARE(models[0].likes, 7);

        QSignalSpy listed(&hub, &HubClient::filesListed);
        hub.list_files(kRepo);
        QTRY_COMPARE_WITH_TIMEOUT(listed.size(), 1, 10000);
        const auto files = listed.at(0).at(1).value<QList<eg::library::HubFile>>();
        QCOMPARE(files.size(), 2);  // .gitattributes and the folder are left out
        QCOMPARE(files[0].path, kFile);
        QCOMPARE(files[0].size_bytes, qint64(model_.size()));
        QCOMPARE(files[0].sha256.toLatin1(), sha_hex(model_));

        QSignalSpy failed(&hub, &HubClient::failed);
        hub.list_files(QStringLiteral("nobody/nothing"));
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, 10000);
        const auto missing = failed.at(0).at(0).value<eg::library::DownloadError>();
        QVERIFY2(missing.message.contains(QStringLiteral("not found")), qPrintable(missing.message));
        QCOMPARE(missing.kind, eg::library::DownloadError::Kind::NotFound);
    }

    // A revision such as a pull request's ref holds slashes: it is one path
    // segment of the listing and the download URL, as the Hub wants it.
    void a_revision_with_slashes_is_one_path_segment() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        HubClient hub;
        hub.set_endpoint(server.endpoint());
        QSignalSpy listed(&hub, &HubClient::filesListed);
        QSignalSpy failed(&hub, &HubClient::failed);
        hub.list_files(kRepo, QStringLiteral("refs/pr/1"));
        QTRY_COMPARE_WITH_TIMEOUT(listed.size() + failed.size(), 1, 10000);
        QVERIFY2(failed.isEmpty(),
                 failed.isEmpty() ? "" : qPrintable(failed.at(0).at(0).value<eg::library::DownloadError>().message));
        QCOMPARE(server.requests.last().path, ("/api/models/" + kRepo + "/tree/refs%2Fpr%2F1").toUtf8());

        QTemporaryDir tmp;
        Downloader d(tmp.path() + QStringLiteral("/data"));
        d.set_endpoint(server.endpoint());
        Recorder rec;
        rec.watch(d);
        DownloadRequest r = request(tmp.path() + QStringLiteral("/models"));
        r.revision = QStringLiteral("refs/pr/1");
        const auto o = rec.wait(d.start(r));
        QVERIFY2(o.ok, qPrintable(o.message));
        QCOMPARE(read_all(o.path), model_);
        bool resolved = false;
        for (const FakeHfServer::Request& q : server.requests)
            resolved |= q.path == ("/" + kRepo + "/resolve/refs%2Fpr%2F1/" + kFile).toUtf8();
        QVERIFY(resolved);
    }

    // The claims: import validates first; copy vs reference; delete frees the disk.
    void registry_imports_validates_and_deletes() {
        QTemporaryDir tmp;
        ModelRegistry registry(QStringLiteral("t-import"));
        QVERIFY(registry.open(tmp.path() + QStringLiteral("/models.sqlite3")));
        const QString outside = tmp.path() + QStringLiteral("/outside.gguf");
        {
            QFile f(outside);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(model_);
        }
        const QString junk = tmp.path() + QStringLiteral("/junk.gguf");
        {
            QFile f(junk);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("GGUF but not really");
        }
        const auto junk_import = registry.import_file(junk, ImportMode::Reference, tmp.path() + QStringLiteral("/models"));
        QVERIFY(!junk_import);
        const QString error = eg::error_text(junk_import);
        QVERIFY2(error.startsWith(QStringLiteral("not a valid GGUF file")), qPrintable(error));
        QVERIFY(registry.list().isEmpty());

        const auto ref_import = registry.import_file(outside, ImportMode::Reference, tmp.path() + QStringLiteral("/models"));
        QVERIFY2(ref_import && ref_import.value() > 0, ref_import ? "" : ref_import.message().c_str());
        const qint64 ref = ref_import.value();
        const auto copy_import = registry.import_file(outside, ImportMode::Copy, tmp.path() + QStringLiteral("/models"));
        QVERIFY2(copy_import && copy_import.value() > 0, copy_import ? "" : copy_import.message().c_str());
        const qint64 copy = copy_import.value();
        const auto copied = registry.find(copy);
        QCOMPARE(copied->path, tmp.path() + QStringLiteral("/models/outside.gguf"));
        QCOMPARE(copied->sha256.toLatin1(), sha_hex(model_));
        QCOMPARE(copied->source, QStringLiteral("imported"));
        QCOMPARE(registry.list().size(), 2);
        const QJsonArray json = ModelRegistry::to_json(registry.list());
        QCOMPARE(json.size(), 2);
        QCOMPARE(json[0].toObject().value(QStringLiteral("sha256")).toString().toLatin1(), sha_hex(model_));

        QVERIFY(registry.remove(copy, true));
        QVERIFY(!QFile::exists(copied->path));  // the disk is freed
        QVERIFY(registry.remove(ref, false));
        QVERIFY(QFile::exists(outside));  // a referenced file is the user's
        QVERIFY(registry.list().isEmpty());
    }

    // The claim: a .gguf put into the models folder by hand is registered
    // once (not hashed), a registered one is not listed twice, and a found
    // file that is deleted leaves the registry.
    void registry_lists_files_found_in_the_models_folder() {
        QTemporaryDir tmp;
        const QString dir = tmp.path() + QStringLiteral("/models");
        QDir().mkpath(dir);
        ModelRegistry registry(QStringLiteral("t-scan"));
        QVERIFY(registry.open(tmp.path() + QStringLiteral("/models.sqlite3")));
        const QString dropped = dir + QStringLiteral("/dropped.gguf");
        {
            QFile f(dropped);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(model_);
            QFile other(dir + QStringLiteral("/notes.txt"));
            QVERIFY(other.open(QIODevice::WriteOnly));
        }
        auto scanned = registry.scan_folder(dir);
        QVERIFY2(scanned, scanned ? "" : scanned.message().c_str());
        QVERIFY(scanned.value());
        QCOMPARE(registry.list().size(), 1);
        const InstalledModel found = registry.list()[0];
        QCOMPARE(found.path, QFileInfo(dropped).absoluteFilePath());
        QCOMPARE(found.source, QStringLiteral("folder"));
        QCOMPARE(found.size_bytes, qint64(model_.size()));
        scanned = registry.scan_folder(dir);
        QVERIFY(scanned && !scanned.value());
        QCOMPARE(registry.list().size(), 1);

        // Imported as a copy: the same path, listed once, as an import.
        const QString outside = tmp.path() + QStringLiteral("/mine.gguf");
        QVERIFY(QFile::copy(dropped, outside));
        QVERIFY(registry.import_file(outside, ImportMode::Copy, dir));
        QVERIFY(registry.scan_folder(dir));
        QCOMPARE(registry.list().size(), 2);
        QCOMPARE(registry.find_by_path(dir + QStringLiteral("/mine.gguf"))->source, QStringLiteral("imported"));

        QVERIFY(QFile::remove(dropped));
        scanned = registry.scan_folder(dir);
        QVERIFY(scanned && scanned.value());
        QCOMPARE(registry.list().size(), 1);
        QVERIFY(!registry.find_by_path(dropped).has_value());
    }

    // The claim: `engram-desktop --pull` and `--list-models` work headless.
    void headless_pull_and_list_models() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        QTemporaryDir tmp;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("HF_ENDPOINT"), server.endpoint());
        env.insert(QStringLiteral("ENGRAM_CACHE_DIR"), tmp.path() + QStringLiteral("/cache"));
        env.remove(QStringLiteral("DISPLAY"));
        env.remove(QStringLiteral("WAYLAND_DISPLAY"));
        env.remove(QStringLiteral("QT_QPA_PLATFORM"));
        env.remove(QStringLiteral("HF_TOKEN"));
        const QString data = tmp.path() + QStringLiteral("/data");
        auto run = [&](const QStringList& args, QByteArray* out, QByteArray* err) {
            QProcess p;
            p.setProcessEnvironment(env);
            QSignalSpy done(&p, &QProcess::finished);
            p.start(QStringLiteral(EG_DESKTOP_PATH), QStringList{QStringLiteral("--data-dir"), data} + args);
            // The fake server lives in this thread, so wait with the event loop running.
            if (!done.wait(60000)) return -1;
            *out = p.readAllStandardOutput();
            *err = p.readAllStandardError();
            return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
        };
        QByteArray out, err;
        QCOMPARE(run({QStringLiteral("--pull"), kRepo, kFile}, &out, &err), 0);
        QVERIFY2(err.contains("verified sha256 " + sha_hex(model_)), err.constData());
        const QString installed = tmp.path() + QStringLiteral("/cache/models/") + kFile;
        QCOMPARE(read_all(installed), model_);

        QCOMPARE(run({QStringLiteral("--list-models")}, &out, &err), 0);
        const QJsonArray list = QJsonDocument::fromJson(out).array();
        QCOMPARE(list.size(), 1);
        QCOMPARE(list[0].toObject().value(QStringLiteral("repo")).toString(), kRepo);
        QCOMPARE(list[0].toObject().value(QStringLiteral("path")).toString(), installed);
        QCOMPARE(list[0].toObject().value(QStringLiteral("sha256")).toString().toLatin1(), sha_hex(model_));

        QCOMPARE(run({QStringLiteral("--pull"), kRepo, QStringLiteral("missing.gguf"), QStringLiteral("--revision"),
                      QStringLiteral("v2")},
                     &out, &err),
                 1);
        QVERIFY2(err.contains("not found: " + kRepo.toUtf8() + "/missing.gguf at revision v2"), err.constData());
    }
};

QTEST_GUILESS_MAIN(TestDownloader)
#include "test_downloader.moc"
