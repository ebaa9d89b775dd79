// Files found through the Hugging Face search, as the library page offers
// them: HubSearchModel searches and lists a repository's .gguf files (at a
// revision the user picks), and LibraryActions downloads any of them through
// the DownloadCenter that the catalog's rows use too — progress, pause and
// resume, a .part that survives a restart, install, delete — against the fake
// Hugging Face server. A file listed both ways shows one state.
#include <QtQml/qqmlextensionplugin.h>
#include <QTcpServer>
#include <QtTest>

#include "library_fixture.h"

Q_IMPORT_QML_PLUGIN(EngramDesktopPlugin)

// The file most tests find through the search and download.
const QString kOtherRepo = QStringLiteral("someone/Other-GGUF");
const QString kOtherFile = QStringLiteral("other.Q8_0.gguf");

// The last request other than the downloader's reachability probes (HEAD /).
FakeHfServer::Request last_get(const FakeHfServer& server) {
    for (auto it = server.requests.crbegin(); it != server.requests.crend(); ++it)
        if (it->method != "HEAD") return *it;
    return {};
}

// The Hugging Face search as the app sets it up, on a server.
struct HubOn {
    eg::library::HubClient client;
    eg::ui::HubSearchModel bridge{client};
    explicit HubOn(const QString& endpoint) { client.set_endpoint(endpoint); }
};

class TestHubLibrary : public QObject {
    Q_OBJECT
    QByteArray model_;

    // The fake Hub listening and serving kOtherRepo's kOtherFile (the test
    // model), and the library started on it.
    bool serve_other(FakeHfServer& server, Library& lib) {
        if (!server.listen()) return false;
        server.add_file(kOtherRepo, kOtherFile, model_, 7);
        return lib.init(server.endpoint(), model_.size());
    }

    // A search download of someone/Other-GGUF's other.Q8_0.gguf at `revision`
    // that the app "quits" once some of it is on disk; then it "starts again"
    // (new downloader, DownloadCenter, catalog and actions over the same folders). Returns
    // the bytes the .part kept, or -1.
    qint64 quit_mid_download(Library& lib, FakeHfServer& server, const QString& revision) {
        const QString repo = kOtherRepo, file = kOtherFile;
        server.add_file(repo, file, model_, 7);
        server.set_throttle(8 * 1024, 20);
        if (!lib.init(server.endpoint(), model_.size())) return -1;
        if (!lib.actions->downloadFile(repo, revision, file, QString(), model_.size())) return -1;
        const QString part = QDir(lib.models_dir).filePath(file + ".part");
        QElapsedTimer t;
        t.start();
        while (QFileInfo(part).size() <= 64 * 1024 && t.elapsed() < 10000) QTest::qWait(20);
        lib.quit();
        const qint64 kept = QFileInfo(part).size();
        server.set_throttle(0, 0);
        lib.start(server.endpoint());
        return kept > 64 * 1024 ? kept : -1;
    }

private slots:
    void initTestCase() {
        model_ = read_all(QStringLiteral(EG_TESTS_DIR "/reference/arch/qwen2-tiny.gguf"));
        QVERIFY(model_.size() > 100000);
    }

    // `hub` as the app sets it: search results and a repository's files for HubSearchPanel.
    void hub_bridge_searches_and_lists_files() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_, 42);
        HubOn on(server.endpoint());
        eg::ui::HubSearchModel& hub = on.bridge;
        hub.search("qwen2-tiny");
        QVERIFY(hub.busy());
        QTRY_VERIFY(!hub.busy());
        QVERIFY2(hub.error().isEmpty(), qPrintable(hub.error()));
        QCOMPARE(hub.results().size(), 1);
        QCOMPARE(hub.results()[0].toMap().value("repo").toString(), kRepo);
        QCOMPARE(hub.results()[0].toMap().value("downloads").toLongLong(), 42);
        hub.listFiles(kRepo);
        QTRY_VERIFY(!hub.busy());
        QCOMPARE(hub.filesRepo(), kRepo);
        QCOMPARE(hub.files().size(), 1);
        QCOMPARE(hub.files()[0].toMap().value("file").toString(), kFile);
        QCOMPARE(hub.files()[0].toMap().value("repo").toString(), kRepo);  // the repo, not repo/file
        // The search results stay: a click on a file no longer lists "repo/file".
        QCOMPARE(hub.results().size(), 1);
        QCOMPARE(hub.results()[0].toMap().value("repo").toString(), kRepo);
        hub.closeFiles();
        QVERIFY(hub.files().isEmpty() && hub.filesRepo().isEmpty());
        hub.listFiles("engram-test/nothing-here");
        QTRY_VERIFY(!hub.busy());
        QVERIFY(!hub.error().isEmpty());
    }

    // Search → a repository's files → Download (same machinery as catalog
    // rows, lfs.oid as the expected hash) → installed, registered, listed in
    // the picker and the installed section; Delete frees the disk.
    void hub_file_download_installs_and_delete_frees_the_disk() {
        FakeHfServer server;
        Library lib;
        QVERIFY(serve_other(server, lib));
        const QString repo = kOtherRepo, file = kOtherFile;
        HubOn on(server.endpoint());
        eg::ui::HubSearchModel& hub = on.bridge;
        hub.search("other");
        QTRY_VERIFY(!hub.busy());
        QVERIFY2(hub.error().isEmpty(), qPrintable(hub.error()));
        QCOMPARE(hub.results().size(), 1);
        hub.listFiles(hub.results()[0].toMap().value("repo").toString());
        QTRY_VERIFY(!hub.busy());
        QCOMPARE(hub.files().size(), 1);
        const QVariantMap f = hub.files()[0].toMap();
        QCOMPARE(f.value("file").toString(), file);
        QCOMPARE(f.value("sizeBytes").toLongLong(), qint64(model_.size()));
        const QByteArray sha = QCryptographicHash::hash(model_, QCryptographicHash::Sha256).toHex();
        QCOMPARE(f.value("sha256").toString().toLatin1(), sha);

        QVERIFY(lib.actions->downloadFile(f.value("repo").toString(), "main", f.value("file").toString(),
                                         f.value("sha256").toString(), f.value("sizeBytes").toLongLong()));
        const QString k = repo + "/" + file;
        QVERIFY(lib.actions->downloads().value(k).toMap().value("downloading").toBool());
        QTRY_VERIFY_WITH_TIMEOUT(!lib.actions->downloads().value(k).toMap().value("downloading").toBool(), 20000);
        const QVariantMap st = lib.actions->downloads().value(k).toMap();
        QVERIFY2(st.value("error").toString().isEmpty(), qPrintable(st.value("error").toString()));
        const QString path = QDir(lib.models_dir).filePath(file);
        QCOMPARE(st.value("path").toString(), path);
        QCOMPARE(read_all(path), model_);
        const auto registered = lib.registry->find_by_path(path);
        QVERIFY(registered.has_value());
        QCOMPARE(registered->repo, repo);
        QCOMPARE(registered->file, file);
        QCOMPARE(registered->sha256.toLatin1(), sha);
        QVERIFY(lib.models->rowOfPath(path) >= 0);
        QCOMPARE(lib.actions->installed().size(), 1);
        const QVariantMap inst = lib.actions->installed()[0].toMap();
        QCOMPARE(inst.value("path").toString(), path);
        QCOMPARE(inst.value("source").toString(), QStringLiteral("huggingface"));
        QVERIFY(inst.value("inModelsDir").toBool());
        QVERIFY(!inst.value("addedText").toString().isEmpty());
        QVERIFY(inst.value("lastUsedText").toString().isEmpty());
        lib.actions->markUsed(path);
        QVERIFY(!lib.actions->installed()[0].toMap().value("lastUsedText").toString().isEmpty());

        // Delete: the file goes, the registry is empty, the picker no longer lists it.
        QSignalSpy installed_changed(lib.actions.get(), &LibraryActions::installedChanged);
        QVERIFY(lib.actions->removeModel(inst.value("id").toLongLong(), true));
        QVERIFY(!QFileInfo::exists(path));
        QVERIFY(lib.registry->list().isEmpty());
        QVERIFY(lib.actions->installed().isEmpty());
        QVERIFY(installed_changed.count() >= 1);
        QVERIFY(lib.models->rowOfPath(path) < 0);
        QCOMPARE(lib.models->count(), 0);
    }

    // The page as a user sees it: search → open a repository → Download on a
    // file row → "Installed"; the Installed tab → Delete → confirm.
    void hub_file_row_and_installed_section_in_the_page() {
        FakeHfServer server;
        Library lib;
        QVERIFY(serve_other(server, lib));
        const QString repo = kOtherRepo, file = kOtherFile;
        HubOn on(server.endpoint());
        eg::ui::HubSearchModel& hub = on.bridge;

        LibraryPageUnderTest ui;
        QVERIFY2(ui.open(lib, &hub), qPrintable(ui.error));
        QQuickItem* page = ui.page;
        QQuickWindow& window = ui.window;
        const QList<QQmlError>& warnings = ui.warnings;

        QVERIFY(find_item(page, "hubTab"));
        click(window, find_item(page, "hubTab"));
        hub.search("other");
        QTRY_VERIFY(!hub.busy() && hub.results().size() == 1);
        QQuickItem* results = find_item(page, "hubResults");
        QVERIFY(results);
        QTRY_VERIFY(results->property("count").toInt() == 1);
        QTest::qWait(50);
        // Click the repository row: its files are listed.
        QQuickItem* first = nullptr;
        QTRY_VERIFY((first = [&]() -> QQuickItem* {
            QQuickItem* content = results->property("contentItem").value<QQuickItem*>();
            for (QQuickItem* c : content ? content->childItems() : QList<QQuickItem*>())
                if (c->isVisible() && c->height() > 0) return c;
            return nullptr;
        }()) != nullptr);
        click(window, first);
        QTRY_VERIFY(hub.filesRepo() == repo && !hub.busy());
        QQuickItem* fileRow = nullptr;
        QTRY_VERIFY((fileRow = find_item(page, "hubFile_" + file)) != nullptr);
        QQuickItem* download = find_item(fileRow, "fileDownloadButton");
        QTRY_VERIFY(download && download->isVisible() && download->isEnabled());
        QTest::qWait(50);
        click(window, download);
        QTRY_VERIFY_WITH_TIMEOUT(find_item(fileRow, "installedLabel")->isVisible(), 20000);
        QVERIFY(find_item(fileRow, "fileError")->property("text").toString().isEmpty());
        const QString path = QDir(lib.models_dir).filePath(file);
        QVERIFY(lib.registry->find_by_path(path).has_value());
        QVERIFY(lib.models->rowOfPath(path) >= 0);

        // The installed section lists it; Delete asks, then frees the disk.
        click(window, find_item(page, "installedTab"));
        QQuickItem* inst = nullptr;
        QTRY_VERIFY((inst = find_item(page, "installed_" + file)) != nullptr && inst->isVisible());
        QTest::qWait(50);
        click(window, find_item(inst, "deleteButton"));
        QQuickItem* confirm = nullptr;
        QTRY_VERIFY((confirm = find_item(window.contentItem(), "confirmDeleteButton")) != nullptr &&
                    confirm->isVisible());
        QVERIFY(QFileInfo::exists(path));  // nothing happens before the confirmation
        QTest::qWait(300);                  // the dialog's enter transition
        click(window, confirm);
        QTRY_VERIFY(!QFileInfo::exists(path));
        QVERIFY(lib.registry->list().isEmpty());
        QVERIFY(lib.models->rowOfPath(path) < 0);
        QVERIFY2(warnings.isEmpty(), qPrintable(warnings.value(0).toString()));
    }

    // One owner of download state: the catalog's "tiny" row and the search's
    // row for the same repo/file are one download. Started from the catalog,
    // the search cannot start a second; started from the search, the catalog
    // row shows its progress, is paused there, resumed from the search row,
    // and shows it installed.
    void a_search_download_and_the_catalog_row_show_one_state() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        server.set_throttle(8 * 1024, 20);
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));
        const QString k = kRepo + "/" + kFile;
        const int row = lib.catalog->row_of("tiny");
        const QString part = QDir(lib.models_dir).filePath(kFile + ".part");

        QVERIFY(lib.catalog->download(row));
        QVERIFY(lib.actions->downloads().value(k).toMap().value("downloading").toBool());
        QVERIFY(!lib.actions->downloadFile(kRepo, "main", kFile, QString(), model_.size()));  // it runs already
        lib.catalog->cancel(row);
        QVERIFY(!lib.actions->downloads().contains(k));
        QVERIFY(!lib.role("tiny", CatalogModel::DownloadingRole).toBool());
        QTRY_VERIFY(!QFileInfo::exists(part));

        QVERIFY(lib.actions->downloadFile(kRepo, "main", kFile, QString(), model_.size()));
        QVERIFY(lib.role("tiny", CatalogModel::DownloadingRole).toBool());
        QVERIFY(!lib.role("tiny", CatalogModel::CanDownloadRole).toBool());
        QVERIFY(!lib.catalog->download(row));  // no second download from the catalog either
        QTRY_VERIFY_WITH_TIMEOUT(QFileInfo(part).size() > 32 * 1024, 10000);
        // The same state, read at the same moment through both views.
        QTRY_VERIFY(lib.role("tiny", CatalogModel::ProgressTextRole).toString().contains('/'));
        const QVariantMap st = lib.actions->downloads().value(k).toMap();
        QCOMPARE(lib.role("tiny", CatalogModel::ProgressTextRole).toString(), st.value("progressText").toString());
        QCOMPARE(lib.role("tiny", CatalogModel::ProgressRole).toDouble(), st.value("progress").toDouble());

        lib.catalog->pause(row);
        QVERIFY(lib.actions->downloads().value(k).toMap().value("paused").toBool());
        QVERIFY(lib.actions->downloads().value(k).toMap().value("progressText").toString().startsWith("Paused"));
        QTest::qWait(100);
        const qint64 kept = QFileInfo(part).size();
        server.set_throttle(0, 0);
        QVERIFY(lib.actions->resumeFile(kRepo, kFile));
        QVERIFY(!lib.role("tiny", CatalogModel::PausedRole).toBool());
        QVERIFY(lib.wait_idle("tiny"));
        const QString path = QDir(lib.models_dir).filePath(kFile);
        QVERIFY2(lib.role("tiny", CatalogModel::InstalledRole).toBool(),
                 qPrintable(lib.role("tiny", CatalogModel::ErrorRole).toString()));
        QCOMPARE(lib.role("tiny", CatalogModel::PathRole).toString(), path);
        QCOMPARE(lib.actions->downloads().value(k).toMap().value("path").toString(), path);
        QCOMPARE(lib.actions->installedPath(kRepo, kFile), path);
        QCOMPARE(server.last_range(), "bytes=" + QByteArray::number(kept) + "-");
        QCOMPARE(read_all(path), model_);
        // Installed once: one registry entry, one row in the picker.
        QCOMPARE(lib.registry->list().size(), 1);
        QCOMPARE(lib.models->count(), 1);
    }

    // A file found through the search, paused then resumed: the .part is kept,
    // resume asks for the rest with Range, the result is byte-identical.
    void hub_file_pause_and_resume() {
        FakeHfServer server;
        Library lib;
        QVERIFY(serve_other(server, lib));
        server.set_throttle(8 * 1024, 20);
        const QString repo = kOtherRepo, file = kOtherFile;
        const QString sha = QString::fromLatin1(QCryptographicHash::hash(model_, QCryptographicHash::Sha256).toHex());
        QVERIFY(lib.actions->downloadFile(repo, "main", file, sha, model_.size()));
        const QString k = repo + "/" + file;
        const QString part = QDir(lib.models_dir).filePath(file + ".part");
        QTRY_VERIFY_WITH_TIMEOUT(QFileInfo(part).size() > 64 * 1024, 10000);
        lib.actions->pauseFile(repo, file);
        QVariantMap st = lib.actions->downloads().value(k).toMap();
        QVERIFY(st.value("paused").toBool());
        QVERIFY(st.value("downloading").toBool());  // still a download: Resume and Cancel show
        QVERIFY2(st.value("progressText").toString().startsWith("Paused"), qPrintable(st.value("progressText").toString()));
        QTest::qWait(100);
        const qint64 kept = QFileInfo(part).size();
        QVERIFY(kept > 0 && kept < model_.size());
        QCOMPARE(QFileInfo(part).size(), kept);  // nothing arrives while paused
        server.set_throttle(0, 0);
        QVERIFY(lib.actions->resumeFile(repo, file));
        QVERIFY(!lib.actions->downloads().value(k).toMap().value("paused").toBool());
        QTRY_VERIFY_WITH_TIMEOUT(!lib.actions->downloads().value(k).toMap().value("downloading").toBool(), 20000);
        st = lib.actions->downloads().value(k).toMap();
        QVERIFY2(st.value("error").toString().isEmpty(), qPrintable(st.value("error").toString()));
        const QString path = QDir(lib.models_dir).filePath(file);
        QCOMPARE(st.value("path").toString(), path);
        QCOMPARE(read_all(path), model_);
        QCOMPARE(server.last_range(), "bytes=" + QByteArray::number(kept) + "-");
        QVERIFY(!QFileInfo::exists(part));
    }

    // The app closed mid-way through a search download (at a tag, not main):
    // the next run shows it paused with its bytes on the file row, and Resume
    // there continues the .part at that revision.
    void hub_file_part_from_an_earlier_run_resumes() {
        FakeHfServer server;
        QVERIFY(server.listen());
        const QString repo = kOtherRepo, file = kOtherFile;
        Library lib;
        const qint64 kept = quit_mid_download(lib, server, QStringLiteral("v1.0"));
        QVERIFY(kept > 0 && kept < model_.size());
        const QString k = repo + "/" + file;
        QVERIFY2(lib.actions->downloads().contains(k), qPrintable(lib.actions->downloads().keys().join(", ")));
        const QVariantMap st = lib.actions->downloads().value(k).toMap();
        QVERIFY(st.value("paused").toBool());
        QVERIFY(st.value("downloading").toBool());
        QCOMPARE(st.value("bytesDone").toLongLong(), kept);
        QCOMPARE(st.value("revision").toString(), QStringLiteral("v1.0"));
        QVERIFY2(st.value("progressText").toString().startsWith("Paused"), qPrintable(st.value("progressText").toString()));

        // The user searches again and opens the repository: the row offers Resume.
        HubOn on(server.endpoint());
        eg::ui::HubSearchModel& hub = on.bridge;
        LibraryPageUnderTest ui;
        QVERIFY2(ui.open(lib, &hub), qPrintable(ui.error));
        QQuickItem* page = ui.page;
        QQuickWindow& window = ui.window;
        const QList<QQmlError>& warnings = ui.warnings;
        click(window, find_item(page, "hubTab"));
        hub.listFiles(repo);
        QTRY_VERIFY(hub.filesRepo() == repo && !hub.busy());
        QQuickItem* fileRow = nullptr;
        QTRY_VERIFY((fileRow = find_item(page, "hubFile_" + file)) != nullptr);
        QQuickItem* resume = find_item(fileRow, "filePauseButton");
        QTRY_VERIFY(resume && resume->isVisible() && resume->isEnabled());
        QCOMPARE(resume->property("text").toString(), QStringLiteral("Resume"));
        QVERIFY(find_item(fileRow, "fileProgressText")->property("text").toString().startsWith("Paused"));
        QVERIFY(!find_item(fileRow, "fileDownloadButton")->isVisible());
        QTest::qWait(50);
        click(window, resume);
        QTRY_VERIFY_WITH_TIMEOUT(find_item(fileRow, "installedLabel")->isVisible(), 20000);
        QVERIFY(find_item(fileRow, "fileError")->property("text").toString().isEmpty());
        const QString path = QDir(lib.models_dir).filePath(file);
        QCOMPARE(read_all(path), model_);
        QCOMPARE(server.last_range(), "bytes=" + QByteArray::number(kept) + "-");
        bool resolved_at_tag = false;
        for (const FakeHfServer::Request& r : server.requests)
            resolved_at_tag |= r.path == ("/" + repo + "/resolve/v1.0/" + file).toUtf8();
        QVERIFY(resolved_at_tag);
        const auto m = lib.registry->find_by_path(path);
        QVERIFY(m.has_value());
        QCOMPARE(m->revision, QStringLiteral("v1.0"));
        QVERIFY2(warnings.isEmpty(), qPrintable(warnings.value(0).toString()));
    }

    // Without searching again: the Installed tab lists the unfinished
    // download from the earlier run, and Resume there finishes it.
    void unfinished_downloads_show_on_the_installed_tab() {
        FakeHfServer server;
        QVERIFY(server.listen());
        const QString repo = kOtherRepo, file = kOtherFile;
        Library lib;
        const qint64 kept = quit_mid_download(lib, server, QStringLiteral("refs/pr/1"));
        QVERIFY(kept > 0);
        QCOMPARE(lib.actions->downloads().value(repo + "/" + file).toMap().value("revision").toString(),
                 QStringLiteral("refs/pr/1"));

        HubOn on(server.endpoint());
        eg::ui::HubSearchModel& hub = on.bridge;
        LibraryPageUnderTest ui;
        QVERIFY2(ui.open(lib, &hub), qPrintable(ui.error));
        click(ui.window, find_item(ui.page, "installedTab"));
        QQuickItem* row = nullptr;
        QTRY_VERIFY((row = find_item(ui.page, "unfinished_" + file)) != nullptr && row->isVisible());
        const QString progress = find_item(row, "unfinishedProgress")->property("text").toString();
        QVERIFY2(progress.contains(repo) && progress.contains("refs/pr/1") && progress.contains("Paused"),
                 qPrintable(progress));
        QQuickItem* resume = find_item(row, "unfinishedPauseButton");
        QCOMPARE(resume->property("text").toString(), QStringLiteral("Resume"));
        QTest::qWait(50);
        click(ui.window, resume);
        const QString path = QDir(lib.models_dir).filePath(file);
        QTRY_VERIFY_WITH_TIMEOUT(lib.registry->find_by_path(path).has_value(), 20000);
        QCOMPARE(read_all(path), model_);
        QCOMPARE(server.last_range(), "bytes=" + QByteArray::number(kept) + "-");
        QTRY_VERIFY(find_item(ui.page, "unfinished_" + file) == nullptr);  // finished: listed as installed
        QTRY_VERIFY(find_item(ui.page, "installed_" + QFileInfo(file).completeBaseName()) != nullptr ||
                    find_item(ui.page, "installed_" + file) != nullptr);
        QVERIFY2(ui.warnings.isEmpty(), qPrintable(ui.warnings.value(0).toString()));
    }

    // Cancel on a download restored from an earlier run deletes its bytes.
    void hub_file_part_from_an_earlier_run_cancels() {
        FakeHfServer server;
        QVERIFY(server.listen());
        const QString repo = kOtherRepo, file = kOtherFile;
        Library lib;
        QVERIFY(quit_mid_download(lib, server, QStringLiteral("main")) > 0);
        const QString part = QDir(lib.models_dir).filePath(file + ".part");
        const QString k = repo + "/" + file;
        QVERIFY(lib.actions->downloads().value(k).toMap().value("paused").toBool());
        lib.actions->cancelFile(repo, file);
        QVERIFY(!lib.actions->downloads().contains(k));
        QVERIFY(!QFileInfo::exists(part));
        QVERIFY(!QFileInfo::exists(part + ".json"));
        QVERIFY(QDir(lib.models_dir).entryList(QDir::Files).isEmpty());
    }

    // A revision typed in the file list's header: the tree of that revision is
    // listed and the download resolves the file at it.
    void hub_revision_is_used_for_listing_and_download() {
        FakeHfServer server;
        Library lib;
        QVERIFY(serve_other(server, lib));
        const QString repo = kOtherRepo, file = kOtherFile;
        HubOn on(server.endpoint());
        eg::ui::HubSearchModel& hub = on.bridge;

        hub.listFiles(repo);
        QTRY_VERIFY(!hub.busy());
        QCOMPARE(hub.filesRevision(), QStringLiteral("main"));
        QCOMPARE(last_get(server).path, ("/api/models/" + repo + "/tree/main").toUtf8());

        // Through the panel: type the tag in the header and press Enter.
        LibraryPageUnderTest ui;
        QVERIFY2(ui.open(lib, &hub), qPrintable(ui.error));
        QQuickItem* page = ui.page;
        QQuickWindow& window = ui.window;
        const QList<QQmlError>& warnings = ui.warnings;
        click(window, find_item(page, "hubTab"));
        QQuickItem* field = nullptr;
        QTRY_VERIFY((field = find_item(page, "hubRevisionField")) != nullptr && field->isVisible());
        QCOMPARE(field->property("text").toString(), QStringLiteral("main"));
        field->setProperty("text", QStringLiteral("v2.0"));
        QVERIFY(QMetaObject::invokeMethod(field, "accepted"));
        QTRY_VERIFY(!hub.busy() && hub.filesRevision() == QStringLiteral("v2.0"));
        QVERIFY2(hub.error().isEmpty(), qPrintable(hub.error()));
        QCOMPARE(last_get(server).path, ("/api/models/" + repo + "/tree/v2.0").toUtf8());
        QCOMPARE(hub.files().size(), 1);
        QCOMPARE(hub.files()[0].toMap().value("revision").toString(), QStringLiteral("v2.0"));

        // Download on the row: resolved at v2.0, registered with it.
        QQuickItem* fileRow = nullptr;
        QTRY_VERIFY((fileRow = find_item(page, "hubFile_" + file)) != nullptr);
        QQuickItem* download = find_item(fileRow, "fileDownloadButton");
        QTRY_VERIFY(download && download->isVisible() && download->isEnabled());
        QTest::qWait(50);
        click(window, download);
        QTRY_VERIFY_WITH_TIMEOUT(find_item(fileRow, "installedLabel")->isVisible(), 20000);
        bool resolved_at_tag = false, resolved_at_main = false;
        for (const FakeHfServer::Request& r : server.requests) {
            resolved_at_tag |= r.path == ("/" + repo + "/resolve/v2.0/" + file).toUtf8();
            resolved_at_main |= r.path == ("/" + repo + "/resolve/main/" + file).toUtf8();
        }
        QVERIFY(resolved_at_tag);
        QVERIFY(!resolved_at_main);
        const auto m = lib.registry->find_by_path(QDir(lib.models_dir).filePath(file));
        QVERIFY(m.has_value());
        QCOMPARE(m->revision, QStringLiteral("v2.0"));
        QVERIFY2(warnings.isEmpty(), qPrintable(warnings.value(0).toString()));
    }

    // A search that cannot reach the Hub puts the library offline, as a
    // failed download does (by the failure's kind); one the Hub answers with
    // "not found" does not.
    void unreachable_hub_search_goes_offline() {
        FakeHfServer server;
        Library lib;
        QVERIFY(serve_other(server, lib));
        lib.downloads->set_probe_interval_ms(60'000);  // no probe turns it back during the test
        eg::library::HubClient client;
        client.set_endpoint(server.endpoint());
        eg::ui::HubSearchModel hub(client, lib.downloads.get());

        hub.listFiles(QStringLiteral("nobody/nothing"));
        QTRY_VERIFY_WITH_TIMEOUT(!hub.busy(), 10000);
        QVERIFY2(hub.error().contains(QStringLiteral("not found")), qPrintable(hub.error()));
        QVERIFY(lib.downloads->online());

        // A port nobody listens on.
        QTcpServer closed;
        QVERIFY(closed.listen(QHostAddress::LocalHost));
        client.set_endpoint(QStringLiteral("http://127.0.0.1:%1").arg(closed.serverPort()));
        closed.close();
        hub.search(QStringLiteral("llama"));
        QTRY_VERIFY_WITH_TIMEOUT(!hub.busy(), 10000);
        QVERIFY(!hub.error().isEmpty());
        QVERIFY2(!lib.downloads->online(), qPrintable(hub.error()));
        QVERIFY(!lib.catalog->online());
    }
};

QTEST_MAIN(TestHubLibrary)
#include "test_hub_library.moc"
