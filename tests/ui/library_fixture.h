// What the model-library tests share: the fake Hugging Face server's test
// model, a Library (registry + Downloader + the view-models: installed list,
// DownloadCenter, catalog, LibraryActions) in a temporary folder, helpers to
// find and click QML items, and LibraryPage.qml in a real window. Included by
// one test file per executable.
#pragma once

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
#include "download_center.h"
#include "fake_hf_server.h"
#include "hub_search_model.h"
#include "installed_models.h"
#include "library/downloader.h"
#include "library/hub_client.h"
#include "library/model_registry.h"
#include "library_actions.h"
#include "quick_items.h"

using eg::library::Downloader;
using eg::library::ModelRegistry;
using eg::ui::CatalogModel;
using eg::ui::DownloadCenter;
using eg::ui::InstalledModels;
using eg::ui::LibraryActions;

namespace library_test {

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
    std::unique_ptr<InstalledModels> models;  // QML `models`: the picker's list
    std::unique_ptr<DownloadCenter> downloads;
    std::unique_ptr<CatalogModel> catalog;    // QML `library`
    std::unique_ptr<LibraryActions> actions;  // QML `libraryActions`
    QList<eg::library::ScanPlace> places;     // set before init() to list other programs' models

    bool init(const QString& endpoint, qint64 model_size) {
        if (!dir.isValid()) return false;
        models_dir = dir.filePath("models");
        QDir().mkpath(models_dir);
        static int n = 0;
        registry = std::make_unique<ModelRegistry>(QStringLiteral("test-library-%1").arg(++n));
        if (!registry->open(dir.filePath("models.sqlite3"))) return false;
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
        // Other programs' places: none unless the test makes them (never this machine's own).
        models = std::make_unique<InstalledModels>(*registry, models_dir, places);
        start(endpoint);
        return catalog->error().isEmpty();
    }
    // The parts a run of the app has (the registry and the installed list
    // stay): built on the downloader, which picks up an earlier run's .part files.
    void start(const QString& endpoint) {
        downloader = std::make_unique<Downloader>(dir.filePath("data"));
        downloader->set_endpoint(endpoint);
        downloads = std::make_unique<DownloadCenter>();
        downloads->attach(*downloader, models_dir);
        catalog = std::make_unique<CatalogModel>(dir.filePath("models.json"), *downloads, *models);
        actions = std::make_unique<LibraryActions>(*models, *downloads, *downloader);
    }
    // "Quit": the library goes away (mid-download, the .part stays).
    void quit() {
        actions.reset();
        catalog.reset();
        downloads.reset();
        downloader.reset();
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

// LibraryPage.qml in a real window, with the app's context objects (hub:
// the Hugging Face search bridge, when the test uses it); QML warnings kept.
struct LibraryPageUnderTest {
    QQmlEngine engine;
    QList<QQmlError> warnings;
    std::unique_ptr<QObject> object;
    QQuickItem* page = nullptr;
    QQuickWindow window;
    QString error;

    bool open(Library& lib, eg::ui::HubSearchModel* hub) {
        engine.addImportPath(QStringLiteral("qrc:/"));
        QObject::connect(&engine, &QQmlEngine::warnings, [this](const QList<QQmlError>& w) { warnings += w; });
        engine.rootContext()->setContextProperty("library", lib.catalog.get());
        engine.rootContext()->setContextProperty("libraryActions", lib.actions.get());
        if (hub) engine.rootContext()->setContextProperty("hub", hub);
        QQmlComponent component(&engine, QUrl("qrc:/EngramDesktop/LibraryPage.qml"));
        object.reset(component.create());
        page = qobject_cast<QQuickItem*>(object.get());
        if (!page) {
            error = component.errorString();
            return false;
        }
        if (!show_in_window(window, page, QSize(900, 700))) {
            error = QStringLiteral("the window was not exposed");
            return false;
        }
        return true;
    }
};

}  // namespace library_test

using namespace library_test;
