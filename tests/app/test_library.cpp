// The model library as the window drives it: the library page's view-model
// (CatalogModel) wired by the app's own LibraryWiring to a real Downloader,
// ModelRegistry and ModelListModel, against the fake Hugging Face server on
// 127.0.0.1. A click on "Download" (CatalogModel::download) shows progress,
// installs, registers and lists the model; a 404, a wrong checksum and no
// network each end with an error that names the cause.
#include <QCryptographicHash>
#include <QDir>
#include <QMetaProperty>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QQmlComponent>
#include <QQmlContext>
#include <QQmlEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QtQml/qqmlextensionplugin.h>
#include <QtTest>

#include <memory>

#include "catalog_model.h"
#include "fake_hf_server.h"
#include "library/downloader.h"
#include "library/hub_client.h"
#include "library/model_registry.h"
#include "library_wiring.h"
#include "model_list_model.h"

using eg::app::LibraryWiring;
using eg::library::Downloader;
using eg::library::ModelRegistry;
using eg::ui::CatalogModel;
using eg::ui::ModelListModel;

Q_IMPORT_QML_PLUGIN(EngramDesktopPlugin)

namespace {

const QString kRepo = QStringLiteral("engram-test/Qwen2-Tiny-GGUF");
const QString kFile = QStringLiteral("qwen2-tiny.Q8_0.gguf");
const QString kOther = QStringLiteral("qwen2-tiny.Q8_0-copy.gguf");  // the "badsum" row

QByteArray read_all(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

QJsonObject entry(const QString& id, const QString& repo, const QString& file, qint64 size, const QJsonValue& sha) {
    return QJsonObject{{"id", id},
                       {"name", "Test " + id},
                       {"repo", repo},
                       {"revision", "main"},
                       {"file", file},
                       {"size_bytes", size},
                       {"size_exact", false},
                       {"sha256", sha},
                       {"quantization", "Q8_0"},
                       {"architecture", "qwen2"},
                       {"parameters", 1000000},
                       {"context_length", 256},
                       {"license", "apache-2.0"},
                       {"memory_bytes", size + 1000},
                       {"shape", QJsonObject{{"n_layer", 2}, {"n_kv_head", 2}, {"head_dim", 16}}},
                       {"gated", false},
                       {"default", id == QStringLiteral("tiny")}};
}

// The app's library, built the way Application::run_gui builds it.
struct Library {
    QTemporaryDir dir;
    QString models_dir;
    std::unique_ptr<ModelRegistry> registry;
    std::unique_ptr<Downloader> downloader;
    std::unique_ptr<CatalogModel> catalog;
    std::unique_ptr<ModelListModel> models;
    std::unique_ptr<LibraryWiring> wiring;

    bool init(const QString& endpoint, qint64 model_size) {
        if (!dir.isValid()) return false;
        models_dir = dir.filePath("models");
        QDir().mkpath(models_dir);
        static int n = 0;
        registry = std::make_unique<ModelRegistry>(QStringLiteral("test-library-%1").arg(++n));
        QString error;
        if (!registry->open(dir.filePath("models.sqlite3"), &error)) return false;
        downloader = std::make_unique<Downloader>(dir.filePath("data"));
        downloader->set_endpoint(endpoint);
        const QJsonArray rows{
            entry("tiny", kRepo, kFile, model_size, QJsonValue::Null),
            entry("missing", kRepo, "no-such-file.gguf", model_size, QJsonValue::Null),
            entry("badsum", kRepo, kOther, model_size, QString(64, QLatin1Char('0'))),
        };
        const QJsonObject root{{"schema", 1}, {"default_context", 256}, {"models", rows}};
        const QString catalog_path = dir.filePath("models.json");
        QFile f(catalog_path);
        if (!f.open(QIODevice::WriteOnly)) return false;
        f.write(QJsonDocument(root).toJson());
        f.close();
        catalog = std::make_unique<CatalogModel>(catalog_path);
        if (!catalog->error().isEmpty()) return false;
        models = std::make_unique<ModelListModel>(models_dir);
        wiring = std::make_unique<LibraryWiring>(*registry, *downloader, *catalog, *models, models_dir);
        return true;
    }
    QVariant role(const QString& id, int r) const {
        return catalog->data(catalog->index(catalog->row_of(id)), r);
    }
    // Waits until the row is no longer downloading.
    bool wait_idle(const QString& id, int timeout_ms = 20000) const {
        QDeadlineTimer deadline(timeout_ms);
        QTest::qWait(1);
        while (role(id, CatalogModel::DownloadingRole).toBool() && !deadline.hasExpired()) QTest::qWait(5);
        return !role(id, CatalogModel::DownloadingRole).toBool();
    }
};

QQuickItem* find_item(QQuickItem* root, const QString& name) {
    if (!root) return nullptr;
    if (root->objectName() == name) return root;
    for (QQuickItem* child : root->childItems())
        if (QQuickItem* found = find_item(child, name)) return found;
    return nullptr;
}

void click(QQuickWindow& window, QQuickItem* item) {
    const QPointF centre = item->mapToScene(QPointF(item->width() / 2, item->height() / 2));
    QTest::mouseClick(&window, Qt::LeftButton, Qt::NoModifier, centre.toPoint());
}

}  // namespace

class TestLibrary : public QObject {
    Q_OBJECT
    QByteArray model_;

private slots:
    void initTestCase() {
        model_ = read_all(QStringLiteral(EG_TESTS_DIR "/reference/arch/qwen2-tiny.gguf"));
        QVERIFY(model_.size() > 100000);
    }

    // One click: progress while it runs, then installed, on disk, registered, listed.
    void download_installs_registers_and_lists() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        server.set_throttle(16 * 1024, 15);  // slow enough to watch the progress
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));
        lib.downloader->set_off_thread_bytes(0);  // the GGUF check on a pool thread, as for a large model
        const int row = lib.catalog->row_of("tiny");
        QVERIFY(row >= 0);
        QVERIFY(!lib.role("tiny", CatalogModel::InstalledRole).toBool());
        QCOMPARE(lib.models->count(), 0);

        QStringList texts;
        connect(lib.catalog.get(), &CatalogModel::dataChanged, this, [&] {
            const QString t = lib.role("tiny", CatalogModel::ProgressTextRole).toString();
            if (!t.isEmpty() && (texts.isEmpty() || texts.last() != t)) texts << t;
        });
        QVERIFY(lib.catalog->download(row));
        QVERIFY(lib.role("tiny", CatalogModel::DownloadingRole).toBool());
        QVERIFY(lib.wait_idle("tiny"));

        QVERIFY2(lib.role("tiny", CatalogModel::ErrorRole).toString().isEmpty(),
                 qPrintable(lib.role("tiny", CatalogModel::ErrorRole).toString()));
        // Progress the user saw: bytes of the total while it ran, not just "Starting…".
        bool saw_bytes = false;
        for (const QString& t : texts) saw_bytes |= t.contains(QLatin1Char('/'));
        QVERIFY2(saw_bytes, qPrintable(texts.join(" | ")));

        const QString final_path = QDir(lib.models_dir).filePath(kFile);
        QVERIFY(lib.role("tiny", CatalogModel::InstalledRole).toBool());
        QCOMPARE(lib.role("tiny", CatalogModel::PathRole).toString(), final_path);
        QCOMPARE(read_all(final_path), model_);
        QVERIFY(!QFileInfo::exists(final_path + ".part"));
        const auto registered = lib.registry->find_by_path(final_path);
        QVERIFY(registered.has_value());
        QCOMPARE(registered->repo, kRepo);
        QCOMPARE(registered->file, kFile);
        QCOMPARE(registered->source, QStringLiteral("huggingface"));
        QCOMPARE(registered->size_bytes, qint64(model_.size()));
        QCOMPARE(registered->sha256.toLatin1(),
                 QCryptographicHash::hash(model_, QCryptographicHash::Sha256).toHex());
        QVERIFY(lib.models->rowOfPath(final_path) >= 0);
        QVERIFY(lib.catalog->online());
        // Installed: a second click does nothing.
        QVERIFY(!lib.catalog->download(row));
    }

    // Pause, then resume: the .part is re-hashed off the GUI thread and the file is identical.
    void pause_and_resume_from_the_part_file() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        server.set_throttle(8 * 1024, 20);
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));
        lib.downloader->set_off_thread_bytes(0);
        const int row = lib.catalog->row_of("tiny");
        QVERIFY(lib.catalog->download(row));
        const QString part = QDir(lib.models_dir).filePath(kFile + ".part");
        QTRY_VERIFY_WITH_TIMEOUT(QFileInfo(part).size() > 64 * 1024, 10000);
        lib.catalog->pause(row);
        QVERIFY(lib.role("tiny", CatalogModel::PausedRole).toBool());
        QVERIFY(lib.role("tiny", CatalogModel::ProgressTextRole).toString().startsWith("Paused"));
        QTest::qWait(100);
        const qint64 kept = QFileInfo(part).size();
        QVERIFY(kept > 0 && kept < model_.size());
        server.set_throttle(0, 0);
        lib.catalog->resume(row);
        QVERIFY(lib.wait_idle("tiny"));
        QVERIFY2(lib.role("tiny", CatalogModel::InstalledRole).toBool(),
                 qPrintable(lib.role("tiny", CatalogModel::ErrorRole).toString()));
        QCOMPARE(read_all(QDir(lib.models_dir).filePath(kFile)), model_);
        QCOMPARE(server.last_range(), "bytes=" + QByteArray::number(kept) + "-");
    }

    // The one click as a user makes it: LibraryPage.qml with the app's context
    // properties, "Download" pressed, then "Use" hands the file to the chat.
    void one_click_in_the_library_page() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        server.set_throttle(32 * 1024, 10);
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));

        QQmlEngine engine;
        engine.addImportPath(QStringLiteral("qrc:/"));
        QList<QQmlError> warnings;
        QObject::connect(&engine, &QQmlEngine::warnings, [&](const QList<QQmlError>& w) { warnings += w; });
        engine.rootContext()->setContextProperty("library", lib.catalog.get());
        engine.rootContext()->setContextProperty("libraryActions", lib.wiring.get());
        QQmlComponent component(&engine, QUrl("qrc:/EngramDesktop/LibraryPage.qml"));
        std::unique_ptr<QObject> object(component.create());
        QVERIFY2(object, qPrintable(component.errorString()));
        auto* page = qobject_cast<QQuickItem*>(object.get());
        QVERIFY(page);
        QSignalSpy used(page, SIGNAL(useRequested(QString)));
        QQuickWindow window;
        window.resize(900, 700);
        page->setParentItem(window.contentItem());
        page->setSize(QSizeF(900, 700));
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));

        QQuickItem* row = nullptr;
        QTRY_VERIFY((row = find_item(page, "catalogRow_tiny")) != nullptr);
        QVERIFY(find_item(page, "importButton") && find_item(page, "importButton")->isVisible());
        QQuickItem* button = find_item(row, "downloadButton");
        QVERIFY(button && button->isEnabled());
        click(window, button);
        QTRY_VERIFY_WITH_TIMEOUT(find_item(row, "progressText") &&
                                     find_item(row, "progressText")->property("text").toString().contains('/'),
                                 10000);
        QQuickItem* use = find_item(row, "useButton");
        QVERIFY(use);
        QTRY_VERIFY_WITH_TIMEOUT(use->isVisible(), 20000);
        QVERIFY(find_item(row, "openFolderButton")->isVisible());
        click(window, use);
        QTRY_COMPARE(used.count(), 1);
        QCOMPARE(used[0][0].toString(), QDir(lib.models_dir).filePath(kFile));
        QVERIFY(lib.models->rowOfPath(QDir(lib.models_dir).filePath(kFile)) >= 0);
        QVERIFY2(warnings.isEmpty(), qPrintable(warnings.value(0).toString()));
        // For a person to look at: build/test-artifacts/library-installed.png.
        QDir().mkpath(EG_ARTIFACTS_DIR);
        window.grabWindow().save(QStringLiteral(EG_ARTIFACTS_DIR "/library-installed.png"));
    }

    // The app closed mid-download: the next run shows the row paused and Resume continues from the .part.
    void restart_resumes_from_the_part_file() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        server.set_throttle(8 * 1024, 20);
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));
        QVERIFY(lib.catalog->download(lib.catalog->row_of("tiny")));
        const QString part = QDir(lib.models_dir).filePath(kFile + ".part");
        QTRY_VERIFY_WITH_TIMEOUT(QFileInfo(part).size() > 64 * 1024, 10000);
        // "Quit": the library goes away mid-download.
        lib.wiring.reset();
        lib.catalog.reset();
        lib.downloader.reset();
        const qint64 kept = QFileInfo(part).size();
        QVERIFY(kept > 0 && kept < model_.size());
        server.set_throttle(0, 0);

        // "Start again": same folders, new objects.
        lib.downloader = std::make_unique<Downloader>(lib.dir.filePath("data"));
        lib.downloader->set_endpoint(server.endpoint());
        lib.catalog = std::make_unique<CatalogModel>(lib.dir.filePath("models.json"));
        lib.wiring = std::make_unique<LibraryWiring>(*lib.registry, *lib.downloader, *lib.catalog, *lib.models,
                                                     lib.models_dir);
        const int row = lib.catalog->row_of("tiny");
        QVERIFY(lib.role("tiny", CatalogModel::DownloadingRole).toBool());
        QVERIFY(lib.role("tiny", CatalogModel::PausedRole).toBool());
        QVERIFY2(lib.role("tiny", CatalogModel::ProgressTextRole).toString().startsWith("Paused"),
                 qPrintable(lib.role("tiny", CatalogModel::ProgressTextRole).toString()));
        lib.catalog->resume(row);
        QVERIFY(lib.wait_idle("tiny"));
        QVERIFY2(lib.role("tiny", CatalogModel::InstalledRole).toBool(),
                 qPrintable(lib.role("tiny", CatalogModel::ErrorRole).toString()));
        QCOMPARE(read_all(QDir(lib.models_dir).filePath(kFile)), model_);
        QCOMPARE(server.last_range(), "bytes=" + QByteArray::number(kept) + "-");
        QVERIFY(lib.registry->find_by_path(QDir(lib.models_dir).filePath(kFile)).has_value());
    }

    void not_found_names_the_cause() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));
        QVERIFY(lib.catalog->download(lib.catalog->row_of("missing")));
        QVERIFY(lib.wait_idle("missing"));
        const QString error = lib.role("missing", CatalogModel::ErrorRole).toString();
        QVERIFY2(error.contains("404") && error.contains("no-such-file.gguf"), qPrintable(error));
        QVERIFY(!lib.role("missing", CatalogModel::InstalledRole).toBool());
        QVERIFY(lib.catalog->online());  // the server answered: not an offline error
        QCOMPARE(lib.models->count(), 0);
    }

    void wrong_checksum_shows_both_and_installs_nothing() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kOther, model_);
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));
        QVERIFY(lib.catalog->download(lib.catalog->row_of("badsum")));
        QVERIFY(lib.wait_idle("badsum"));
        const QString error = lib.role("badsum", CatalogModel::ErrorRole).toString();
        const QString found = QString::fromLatin1(QCryptographicHash::hash(model_, QCryptographicHash::Sha256).toHex());
        QVERIFY2(error.contains(QString(64, QLatin1Char('0'))) && error.contains(found), qPrintable(error));
        QVERIFY(!lib.role("badsum", CatalogModel::InstalledRole).toBool());
        QVERIFY(!QFileInfo::exists(QDir(lib.models_dir).filePath(kOther)));
        QVERIFY(!QFileInfo::exists(QDir(lib.models_dir).filePath(kOther + ".part")));
        QVERIFY(lib.registry->list().isEmpty());
        QCOMPARE(lib.models->count(), 0);
    }

    void offline_refuses_then_recovers() {
        QTcpServer closed;
        QVERIFY(closed.listen(QHostAddress::LocalHost));
        const quint16 port = closed.serverPort();
        closed.close();
        Library lib;
        QVERIFY(lib.init(QStringLiteral("http://127.0.0.1:%1").arg(port), model_.size()));
        lib.wiring->set_probe_interval_ms(50);
        const int row = lib.catalog->row_of("tiny");
        QVERIFY(lib.catalog->online());
        QVERIFY(lib.catalog->download(row));
        QVERIFY(lib.wait_idle("tiny"));
        const QString error = lib.role("tiny", CatalogModel::ErrorRole).toString();
        QVERIFY2(error.contains("offline"), qPrintable(error));
        QVERIFY(!lib.catalog->online());
        QVERIFY(!lib.role("tiny", CatalogModel::CanDownloadRole).toBool());
        QVERIFY(!lib.catalog->download(row));
        QVERIFY2(lib.role("tiny", CatalogModel::ErrorRole).toString().contains("needs a connection"),
                 qPrintable(lib.role("tiny", CatalogModel::ErrorRole).toString()));
        QTest::qWait(200);
        QVERIFY(!lib.catalog->online());  // the probe still finds nobody

        // The network comes back: the probe notices, and the download works.
        FakeHfServer server;
        QVERIFY(server.listen(port));
        server.add_file(kRepo, kFile, model_);
        QTRY_VERIFY_WITH_TIMEOUT(lib.catalog->online(), 5000);
        QVERIFY(lib.catalog->download(row));
        QVERIFY(lib.wait_idle("tiny"));
        QVERIFY2(lib.role("tiny", CatalogModel::InstalledRole).toBool(),
                 qPrintable(lib.role("tiny", CatalogModel::ErrorRole).toString()));
    }

    // `hub` as the app sets it: search results and a repository's files for HubSearchPanel.
    void hub_bridge_searches_and_lists_files() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_, 42);
        eg::library::HubClient client;
        client.set_endpoint(server.endpoint());
        eg::app::HubBridge hub(client);
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
        QVERIFY(server.listen());
        const QString repo = QStringLiteral("someone/Other-GGUF");
        const QString file = QStringLiteral("other.Q8_0.gguf");
        server.add_file(repo, file, model_, 7);
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));
        eg::library::HubClient client;
        client.set_endpoint(server.endpoint());
        eg::app::HubBridge hub(client);
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

        QVERIFY(lib.wiring->downloadFile(f.value("repo").toString(), "main", f.value("file").toString(),
                                         f.value("sha256").toString(), f.value("sizeBytes").toLongLong()));
        const QString k = repo + "/" + file;
        QVERIFY(lib.wiring->downloads().value(k).toMap().value("downloading").toBool());
        QTRY_VERIFY_WITH_TIMEOUT(!lib.wiring->downloads().value(k).toMap().value("downloading").toBool(), 20000);
        const QVariantMap st = lib.wiring->downloads().value(k).toMap();
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
        QCOMPARE(lib.wiring->installed().size(), 1);
        const QVariantMap inst = lib.wiring->installed()[0].toMap();
        QCOMPARE(inst.value("path").toString(), path);
        QCOMPARE(inst.value("source").toString(), QStringLiteral("huggingface"));
        QVERIFY(inst.value("inModelsDir").toBool());
        QVERIFY(!inst.value("addedText").toString().isEmpty());
        QVERIFY(inst.value("lastUsedText").toString().isEmpty());
        lib.wiring->markUsed(path);
        QVERIFY(!lib.wiring->installed()[0].toMap().value("lastUsedText").toString().isEmpty());

        // Delete: the file goes, the registry is empty, the picker no longer lists it.
        QSignalSpy installed_changed(lib.wiring.get(), &LibraryWiring::installedChanged);
        QVERIFY(lib.wiring->removeModel(inst.value("id").toLongLong(), true).isEmpty());
        QVERIFY(!QFileInfo::exists(path));
        QVERIFY(lib.registry->list().isEmpty());
        QVERIFY(lib.wiring->installed().isEmpty());
        QVERIFY(installed_changed.count() >= 1);
        QVERIFY(lib.models->rowOfPath(path) < 0);
        QCOMPARE(lib.models->count(), 0);
    }

    // The page as a user sees it: search → open a repository → Download on a
    // file row → "Installed"; the Installed tab → Delete → confirm.
    void hub_file_row_and_installed_section_in_the_page() {
        FakeHfServer server;
        QVERIFY(server.listen());
        const QString repo = QStringLiteral("someone/Other-GGUF");
        const QString file = QStringLiteral("other.Q8_0.gguf");
        server.add_file(repo, file, model_, 7);
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));
        eg::library::HubClient client;
        client.set_endpoint(server.endpoint());
        eg::app::HubBridge hub(client);

        QQmlEngine engine;
        engine.addImportPath(QStringLiteral("qrc:/"));
        QList<QQmlError> warnings;
        QObject::connect(&engine, &QQmlEngine::warnings, [&](const QList<QQmlError>& w) { warnings += w; });
        engine.rootContext()->setContextProperty("library", lib.catalog.get());
        engine.rootContext()->setContextProperty("libraryActions", lib.wiring.get());
        engine.rootContext()->setContextProperty("hub", &hub);
        QQmlComponent component(&engine, QUrl("qrc:/EngramDesktop/LibraryPage.qml"));
        std::unique_ptr<QObject> object(component.create());
        QVERIFY2(object, qPrintable(component.errorString()));
        auto* page = qobject_cast<QQuickItem*>(object.get());
        QVERIFY(page);
        QQuickWindow window;
        window.resize(900, 700);
        page->setParentItem(window.contentItem());
        page->setSize(QSizeF(900, 700));
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));

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

    // A file found through the search, paused then resumed: the .part is kept,
    // resume asks for the rest with Range, the result is byte-identical.
    void hub_file_pause_and_resume() {
        FakeHfServer server;
        QVERIFY(server.listen());
        const QString repo = QStringLiteral("someone/Other-GGUF");
        const QString file = QStringLiteral("other.Q8_0.gguf");
        server.add_file(repo, file, model_, 7);
        server.set_throttle(8 * 1024, 20);
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));
        const QString sha = QString::fromLatin1(QCryptographicHash::hash(model_, QCryptographicHash::Sha256).toHex());
        QVERIFY(lib.wiring->downloadFile(repo, "main", file, sha, model_.size()));
        const QString k = repo + "/" + file;
        const QString part = QDir(lib.models_dir).filePath(file + ".part");
        QTRY_VERIFY_WITH_TIMEOUT(QFileInfo(part).size() > 64 * 1024, 10000);
        lib.wiring->pauseFile(repo, file);
        QVariantMap st = lib.wiring->downloads().value(k).toMap();
        QVERIFY(st.value("paused").toBool());
        QVERIFY(st.value("downloading").toBool());  // still a download: Resume and Cancel show
        QVERIFY2(st.value("progressText").toString().startsWith("Paused"), qPrintable(st.value("progressText").toString()));
        QTest::qWait(100);
        const qint64 kept = QFileInfo(part).size();
        QVERIFY(kept > 0 && kept < model_.size());
        QCOMPARE(QFileInfo(part).size(), kept);  // nothing arrives while paused
        server.set_throttle(0, 0);
        QVERIFY(lib.wiring->resumeFile(repo, file));
        QVERIFY(!lib.wiring->downloads().value(k).toMap().value("paused").toBool());
        QTRY_VERIFY_WITH_TIMEOUT(!lib.wiring->downloads().value(k).toMap().value("downloading").toBool(), 20000);
        st = lib.wiring->downloads().value(k).toMap();
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
        const QString repo = QStringLiteral("someone/Other-GGUF");
        const QString file = QStringLiteral("other.Q8_0.gguf");
        server.add_file(repo, file, model_, 7);
        server.set_throttle(8 * 1024, 20);
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));
        QVERIFY(lib.wiring->downloadFile(repo, "v1.0", file, QString(), model_.size()));
        const QString part = QDir(lib.models_dir).filePath(file + ".part");
        QTRY_VERIFY_WITH_TIMEOUT(QFileInfo(part).size() > 64 * 1024, 10000);
        // "Quit" mid-download.
        lib.wiring.reset();
        lib.catalog.reset();
        lib.downloader.reset();
        const qint64 kept = QFileInfo(part).size();
        QVERIFY(kept > 0 && kept < model_.size());
        server.set_throttle(0, 0);

        // "Start again": same folders, new objects.
        lib.downloader = std::make_unique<Downloader>(lib.dir.filePath("data"));
        lib.downloader->set_endpoint(server.endpoint());
        lib.catalog = std::make_unique<CatalogModel>(lib.dir.filePath("models.json"));
        lib.wiring = std::make_unique<LibraryWiring>(*lib.registry, *lib.downloader, *lib.catalog, *lib.models,
                                                     lib.models_dir);
        const QString k = repo + "/" + file;
        QVERIFY2(lib.wiring->downloads().contains(k), qPrintable(lib.wiring->downloads().keys().join(", ")));
        const QVariantMap st = lib.wiring->downloads().value(k).toMap();
        QVERIFY(st.value("paused").toBool());
        QVERIFY(st.value("downloading").toBool());
        QCOMPARE(st.value("bytesDone").toLongLong(), kept);
        QCOMPARE(st.value("revision").toString(), QStringLiteral("v1.0"));
        QVERIFY2(st.value("progressText").toString().startsWith("Paused"), qPrintable(st.value("progressText").toString()));

        // The user searches again and opens the repository: the row offers Resume.
        eg::library::HubClient client;
        client.set_endpoint(server.endpoint());
        eg::app::HubBridge hub(client);
        QQmlEngine engine;
        engine.addImportPath(QStringLiteral("qrc:/"));
        QList<QQmlError> warnings;
        QObject::connect(&engine, &QQmlEngine::warnings, [&](const QList<QQmlError>& w) { warnings += w; });
        engine.rootContext()->setContextProperty("library", lib.catalog.get());
        engine.rootContext()->setContextProperty("libraryActions", lib.wiring.get());
        engine.rootContext()->setContextProperty("hub", &hub);
        QQmlComponent component(&engine, QUrl("qrc:/EngramDesktop/LibraryPage.qml"));
        std::unique_ptr<QObject> object(component.create());
        QVERIFY2(object, qPrintable(component.errorString()));
        auto* page = qobject_cast<QQuickItem*>(object.get());
        QVERIFY(page);
        QQuickWindow window;
        window.resize(900, 700);
        page->setParentItem(window.contentItem());
        page->setSize(QSizeF(900, 700));
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
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

    // Cancel on a download restored from an earlier run deletes its bytes.
    void hub_file_part_from_an_earlier_run_cancels() {
        FakeHfServer server;
        QVERIFY(server.listen());
        const QString repo = QStringLiteral("someone/Other-GGUF");
        const QString file = QStringLiteral("other.Q8_0.gguf");
        server.add_file(repo, file, model_, 7);
        server.set_throttle(8 * 1024, 20);
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));
        QVERIFY(lib.wiring->downloadFile(repo, "main", file, QString(), model_.size()));
        const QString part = QDir(lib.models_dir).filePath(file + ".part");
        QTRY_VERIFY_WITH_TIMEOUT(QFileInfo(part).size() > 64 * 1024, 10000);
        lib.wiring.reset();
        lib.downloader.reset();
        lib.downloader = std::make_unique<Downloader>(lib.dir.filePath("data"));
        lib.downloader->set_endpoint(server.endpoint());
        lib.wiring = std::make_unique<LibraryWiring>(*lib.registry, *lib.downloader, *lib.catalog, *lib.models,
                                                     lib.models_dir);
        const QString k = repo + "/" + file;
        QVERIFY(lib.wiring->downloads().value(k).toMap().value("paused").toBool());
        lib.wiring->cancelFile(repo, file);
        QVERIFY(!lib.wiring->downloads().contains(k));
        QVERIFY(!QFileInfo::exists(part));
        QVERIFY(!QFileInfo::exists(part + ".json"));
        QVERIFY(QDir(lib.models_dir).entryList(QDir::Files).isEmpty());
    }

    // A revision typed in the file list's header: the tree of that revision is
    // listed and the download resolves the file at it.
    void hub_revision_is_used_for_listing_and_download() {
        FakeHfServer server;
        QVERIFY(server.listen());
        const QString repo = QStringLiteral("someone/Other-GGUF");
        const QString file = QStringLiteral("other.Q8_0.gguf");
        server.add_file(repo, file, model_, 7);
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));
        eg::library::HubClient client;
        client.set_endpoint(server.endpoint());
        eg::app::HubBridge hub(client);

        hub.listFiles(repo);
        QTRY_VERIFY(!hub.busy());
        QCOMPARE(hub.filesRevision(), QStringLiteral("main"));
        QCOMPARE(server.requests.last().path, ("/api/models/" + repo + "/tree/main").toUtf8());

        // Through the panel: type the tag in the header and press Enter.
        QQmlEngine engine;
        engine.addImportPath(QStringLiteral("qrc:/"));
        QList<QQmlError> warnings;
        QObject::connect(&engine, &QQmlEngine::warnings, [&](const QList<QQmlError>& w) { warnings += w; });
        engine.rootContext()->setContextProperty("library", lib.catalog.get());
        engine.rootContext()->setContextProperty("libraryActions", lib.wiring.get());
        engine.rootContext()->setContextProperty("hub", &hub);
        QQmlComponent component(&engine, QUrl("qrc:/EngramDesktop/LibraryPage.qml"));
        std::unique_ptr<QObject> object(component.create());
        QVERIFY2(object, qPrintable(component.errorString()));
        auto* page = qobject_cast<QQuickItem*>(object.get());
        QVERIFY(page);
        QQuickWindow window;
        window.resize(900, 700);
        page->setParentItem(window.contentItem());
        page->setSize(QSizeF(900, 700));
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        click(window, find_item(page, "hubTab"));
        QQuickItem* field = nullptr;
        QTRY_VERIFY((field = find_item(page, "hubRevisionField")) != nullptr && field->isVisible());
        QCOMPARE(field->property("text").toString(), QStringLiteral("main"));
        field->setProperty("text", QStringLiteral("v2.0"));
        QVERIFY(QMetaObject::invokeMethod(field, "accepted"));
        QTRY_VERIFY(!hub.busy() && hub.filesRevision() == QStringLiteral("v2.0"));
        QVERIFY2(hub.error().isEmpty(), qPrintable(hub.error()));
        QCOMPARE(server.requests.last().path, ("/api/models/" + repo + "/tree/v2.0").toUtf8());
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

    // A model used where it is: "only forget" keeps the file, "delete" removes it.
    void delete_referenced_model_forgets_or_deletes() {
        Library lib;
        QVERIFY(lib.init(QStringLiteral("http://127.0.0.1:9"), model_.size()));
        QTemporaryDir elsewhere;
        const QString good = elsewhere.filePath("mine.gguf");
        {
            QFile f(good);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(model_);
        }
        QVERIFY(lib.wiring->importModel(good, false).isEmpty());
        QCOMPARE(lib.wiring->installed().size(), 1);
        QVERIFY(!lib.wiring->installed()[0].toMap().value("inModelsDir").toBool());
        QVERIFY(lib.models->rowOfPath(good) >= 0);
        QVERIFY(lib.wiring->removeModel(lib.wiring->installed()[0].toMap().value("id").toLongLong(), false).isEmpty());
        QVERIFY(QFileInfo::exists(good));  // only forgotten
        QVERIFY(lib.registry->list().isEmpty());
        QVERIFY(lib.models->rowOfPath(good) < 0);

        QVERIFY(lib.wiring->importModel(good, false).isEmpty());
        QVERIFY(lib.wiring->removeModel(lib.wiring->installed()[0].toMap().value("id").toLongLong(), true).isEmpty());
        QVERIFY(!QFileInfo::exists(good));
        QVERIFY(lib.registry->list().isEmpty());
        QVERIFY(!lib.wiring->removeModel(12345, true).isEmpty());  // unknown id: an error, nothing else
    }

    // The token field: stored readable by the user only, never echoed; a gated
    // download fails with 401 without it and succeeds with it.
    void token_entry_unlocks_a_gated_download() {
        qunsetenv("HF_TOKEN");
        FakeHfServer server;
        QVERIFY(server.listen());
        const QString repo = QStringLiteral("gated-org/Gated-GGUF");
        const QString file = QStringLiteral("gated.Q8_0.gguf");
        server.add_file(repo, file, model_);
        server.set_gated(repo, "hf_secret_token");
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));
        QVERIFY(!lib.wiring->tokenSet());
        const QString k = repo + "/" + file;
        QVERIFY(lib.wiring->downloadFile(repo, "main", file, QString(), model_.size()));
        QTRY_VERIFY_WITH_TIMEOUT(!lib.wiring->downloads().value(k).toMap().value("downloading").toBool(), 20000);
        const QString error = lib.wiring->downloads().value(k).toMap().value("error").toString();
        QVERIFY2(error.contains("401") || error.contains("token"), qPrintable(error));

        QSignalSpy token_changed(lib.wiring.get(), &LibraryWiring::tokenChanged);
        QVERIFY(lib.wiring->setToken("  hf_secret_token \n").isEmpty());
        QCOMPARE(token_changed.count(), 1);
        QVERIFY(lib.wiring->tokenSet());
        QVERIFY(!lib.wiring->tokenFromEnvironment());
        const QFileInfo tf(lib.downloader->token_path());
        QVERIFY(tf.isFile());
        QCOMPARE(tf.permissions() & (QFile::ReadGroup | QFile::WriteGroup | QFile::ReadOther | QFile::WriteOther |
                                     QFile::ExeGroup | QFile::ExeOther),
                 QFile::Permissions());
        QVERIFY(tf.permissions() & QFile::ReadOwner);
        QCOMPARE(read_all(tf.filePath()).trimmed(), QByteArray("hf_secret_token"));
        // The view-model exposes only whether a token is set.
        const QMetaObject* mo = lib.wiring->metaObject();
        for (int i = 0; i < mo->propertyCount(); ++i)
            QVERIFY(!mo->property(i).read(lib.wiring.get()).toString().contains("hf_secret"));

        QVERIFY(lib.wiring->downloadFile(repo, "main", file, QString(), model_.size()));  // Retry
        QTRY_VERIFY_WITH_TIMEOUT(!lib.wiring->downloads().value(k).toMap().value("downloading").toBool(), 20000);
        const QVariantMap st = lib.wiring->downloads().value(k).toMap();
        QVERIFY2(st.value("error").toString().isEmpty(), qPrintable(st.value("error").toString()));
        QCOMPARE(read_all(QDir(lib.models_dir).filePath(file)), model_);
        QVERIFY(lib.registry->find_by_path(QDir(lib.models_dir).filePath(file)).has_value());

        QVERIFY(lib.wiring->setToken("").isEmpty());
        QVERIFY(!lib.wiring->tokenSet());
        QVERIFY(!tf.exists() || !QFileInfo::exists(tf.filePath()));
    }

    // A server that ignores Range: the row says it starts over (the downloader's notice).
    void notice_is_shown_on_the_row() {
        FakeHfServer server;
        QVERIFY(server.listen());
        server.add_file(kRepo, kFile, model_);
        server.set_throttle(8 * 1024, 20);
        Library lib;
        QVERIFY(lib.init(server.endpoint(), model_.size()));
        const int row = lib.catalog->row_of("tiny");
        QVERIFY(lib.catalog->download(row));
        const QString part = QDir(lib.models_dir).filePath(kFile + ".part");
        QTRY_VERIFY_WITH_TIMEOUT(QFileInfo(part).size() > 64 * 1024, 10000);
        lib.catalog->pause(row);
        server.set_ignore_range(true);
        server.set_throttle(0, 0);
        lib.catalog->resume(row);
        QVERIFY(lib.wait_idle("tiny"));
        QVERIFY2(lib.role("tiny", CatalogModel::InstalledRole).toBool(),
                 qPrintable(lib.role("tiny", CatalogModel::ErrorRole).toString()));
        const QString notice = lib.wiring->downloads().value(kRepo + "/" + kFile).toMap().value("notice").toString();
        QVERIFY2(notice.contains("resum") || notice.contains("over"), qPrintable(notice));
    }

    void import_validates_and_lists() {
        Library lib;
        QVERIFY(lib.init(QStringLiteral("http://127.0.0.1:9"), model_.size()));
        QTemporaryDir elsewhere;
        const QString good = elsewhere.filePath("mine.gguf");
        const QString bad = elsewhere.filePath("broken.gguf");
        {
            QFile f(good);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(model_);
            QFile b(bad);
            QVERIFY(b.open(QIODevice::WriteOnly));
            b.write("GGUF not really");
        }
        QString error = lib.wiring->importModel(QUrl::fromLocalFile(bad).toString(), true);
        QVERIFY2(error.contains("broken.gguf") && error.contains("GGUF"), qPrintable(error));
        QCOMPARE(lib.wiring->importError(), error);
        QCOMPARE(lib.models->count(), 0);
        QVERIFY(lib.registry->list().isEmpty());

        // Referenced in place: listed where it is.
        QVERIFY2(lib.wiring->importModel(good, false).isEmpty(), qPrintable(lib.wiring->importError()));
        QVERIFY(lib.wiring->importError().isEmpty());
        QVERIFY(lib.models->rowOfPath(good) >= 0);
        // Copied: into the models folder.
        QVERIFY(lib.wiring->importModel(QUrl::fromLocalFile(good).toString(), true).isEmpty());
        const QString copy = QDir(lib.models_dir).filePath("mine.gguf");
        QCOMPARE(read_all(copy), model_);
        QVERIFY(lib.models->rowOfPath(copy) >= 0);
        QCOMPARE(lib.registry->list().size(), 2);
        QCOMPARE(lib.wiring->folderUrlOf(copy), QUrl::fromLocalFile(QDir(lib.models_dir).absolutePath()));
    }
};

QTEST_MAIN(TestLibrary)
#include "test_library.moc"
