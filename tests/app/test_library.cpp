// The model library as the window drives it: the library page's view-model
// (CatalogModel) wired by the app's own LibraryWiring to a real Downloader,
// ModelRegistry and ModelListModel, against the fake Hugging Face server on
// 127.0.0.1. A click on "Download" (CatalogModel::download) shows progress,
// installs, registers and lists the model; a 404, a wrong checksum and no
// network each end with an error that names the cause.
#include <QDir>
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
        QCOMPARE(hub.results().size(), 1);
        QCOMPARE(hub.results()[0].toMap().value("file").toString(), kFile);
        hub.listFiles("engram-test/nothing-here");
        QTRY_VERIFY(!hub.busy());
        QVERIFY(!hub.error().isEmpty());
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
