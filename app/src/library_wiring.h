// The model library in the window: connects the library page's view-model
// (CatalogModel, QML `library`) to the Downloader, registers finished
// downloads in the ModelRegistry and refreshes the installed-model list. The
// app and tests/app/test_library.cpp build the same LibraryWiring.
#pragma once

#include <QHash>
#include <QNetworkAccessManager>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QTimer>
#include <QUrl>
#include <QVariantList>
#include <QVariantMap>

namespace eg::library {
class Downloader;
class HubClient;
class ModelRegistry;
struct HubModel;
struct HubFile;
struct DownloadError;
}  // namespace eg::library

namespace eg::ui {
class CatalogModel;
class ModelListModel;
}  // namespace eg::ui

namespace eg::app {

// QML context property `libraryActions`: the parts of the library that are
// not catalog rows (import a local file, the last import's error).
class LibraryWiring : public QObject {
    Q_OBJECT
    Q_PROPERTY(QString importError READ importError NOTIFY importErrorChanged)
    Q_PROPERTY(QString modelsDir READ modelsDir CONSTANT)
    // Per download, keyed by "repo/file": {downloading, paused, progressText,
    // error, notice, path, revision, sha256, sizeBytes, bytesDone, bytesTotal,
    // progress (0..1)} — the Hugging Face file rows (and the notices of catalog
    // rows) read their state here. A paused one keeps downloading=true. A .part
    // of a search download left by an earlier run shows here as paused.
    Q_PROPERTY(QVariantMap downloads READ downloads NOTIFY downloadsChanged)
    // The registry (downloads and imports), most recently added first: {id,
    // path, name, source, repo, sizeText, addedText, lastUsedText, inModelsDir}.
    Q_PROPERTY(QVariantList installed READ installed NOTIFY installedChanged)
    // Whether a Hugging Face token is available (never the token itself).
    Q_PROPERTY(bool tokenSet READ tokenSet NOTIFY tokenChanged)
    Q_PROPERTY(bool tokenFromEnvironment READ tokenFromEnvironment NOTIFY tokenChanged)
public:
    // All parts outlive this object. `models_dir` is where downloads and
    // copied imports go (paths.h model_cache_dir()).
    LibraryWiring(eg::library::ModelRegistry& registry, eg::library::Downloader& downloader,
                  eg::ui::CatalogModel& catalog, eg::ui::ModelListModel& models, const QString& models_dir,
                  QObject* parent = nullptr);

    QString importError() const { return import_error_; }
    QString modelsDir() const { return models_dir_; }
    QVariantMap downloads() const { return downloads_; }
    QVariantList installed() const { return installed_; }
    bool tokenSet() const;
    bool tokenFromEnvironment() const;

    // Validates (GGUF header and tensor table) and registers a local .gguf:
    // copied into the models folder, or referenced where it is. `file` is a
    // path or a file:// URL. Returns the error ("" on success).
    Q_INVOKABLE QString importModel(const QString& file, bool copy);
    // file:// URL of the folder holding `path` (for Qt.openUrlExternally).
    Q_INVOKABLE QUrl folderUrlOf(const QString& path) const;
    // Re-reads the registry and the models folder into the lists.
    Q_INVOKABLE void refreshInstalled();
    // Downloads a file found through the Hugging Face search with the same
    // machinery as catalog rows; `sha256` (the tree's lfs.oid) may be empty.
    // False (and the state's error set) when it is already downloading.
    Q_INVOKABLE bool downloadFile(const QString& repo, const QString& revision, const QString& file,
                                  const QString& sha256, qint64 sizeBytes);
    Q_INVOKABLE void cancelFile(const QString& repo, const QString& file);
    Q_INVOKABLE void pauseFile(const QString& repo, const QString& file);
    // Continues a paused (or failed) search download from its .part, at the
    // revision, checksum and size it was started with (also one restored from
    // an earlier run). False when there is nothing to resume or no connection.
    Q_INVOKABLE bool resumeFile(const QString& repo, const QString& file);
    // Removes a registered model; with deleteFile its .gguf goes too. Returns the error ("" on success).
    Q_INVOKABLE QString removeModel(qint64 id, bool deleteFile);
    // Sets the registry's last-used date of the model at `path` (when registered).
    Q_INVOKABLE void markUsed(const QString& path);
    // Stores the token for gated repositories (file readable by the user only);
    // empty removes it. Returns the error ("" on success).
    Q_INVOKABLE QString setToken(const QString& token);
    // How often a probe checks whether the endpoint is reachable again while offline.
    void set_probe_interval_ms(int ms) { probe_timer_.setInterval(ms); }

signals:
    void importErrorChanged();
    void modelImported(const QString& path);
    void downloadsChanged();
    void installedChanged();
    void tokenChanged();

private:
    QString key(const QString& repo, const QString& file) const { return repo + QLatin1Char('/') + file; }
    void on_download_requested(const QString& repo, const QString& revision, const QString& file,
                               const QString& sha256, qint64 size_bytes);
    void on_finished(qint64 id, const QString& path, const QString& sha256);
    void on_failed(qint64 id, const eg::library::DownloadError& error);
    void forget(qint64 id);
    // A .part left by an earlier run shows as a paused download; Resume continues it.
    void restore_partial_downloads();
    void set_import_error(const QString& e);
    void probe();
    void set_state(const QString& key, const QVariantMap& changes);

    eg::library::ModelRegistry& registry_;
    eg::library::Downloader& downloader_;
    eg::ui::CatalogModel& catalog_;
    eg::ui::ModelListModel& models_;
    QString models_dir_;
    QHash<QString, qint64> id_of_;   // "repo/file" → download id
    QHash<qint64, QString> key_of_;  // download id → "repo/file"
    QHash<qint64, QString> revision_of_;
    QString import_error_;
    QVariantMap downloads_;
    QVariantList installed_;
    QTimer probe_timer_;
};

// QML context property `hub`: Hugging Face search for HubSearchPanel.
class HubBridge : public QObject {
    Q_OBJECT
    Q_PROPERTY(QVariantList results READ results NOTIFY resultsChanged)
    Q_PROPERTY(bool busy READ busy NOTIFY busyChanged)
    Q_PROPERTY(QString error READ error NOTIFY errorChanged)
    // The .gguf files of the repository opened with listFiles:
    // {repo, revision, file, sizeBytes, sizeText, sha256}.
    Q_PROPERTY(QVariantList files READ files NOTIFY filesChanged)
    Q_PROPERTY(QString filesRepo READ filesRepo NOTIFY filesChanged)
    // The revision (branch, tag or commit) the listed files are from.
    Q_PROPERTY(QString filesRevision READ filesRevision NOTIFY filesChanged)
public:
    explicit HubBridge(eg::library::HubClient& client, QObject* parent = nullptr);
    QVariantList results() const { return results_; }
    bool busy() const { return busy_; }
    QString error() const { return error_; }
    QVariantList files() const { return files_; }
    QString filesRepo() const { return files_repo_; }
    QString filesRevision() const { return files_revision_; }
    Q_INVOKABLE void search(const QString& text);
    // Lists the repository's .gguf files at `revision` (empty: main).
    Q_INVOKABLE void listFiles(const QString& repo, const QString& revision = QStringLiteral("main"));
    Q_INVOKABLE void closeFiles();  // back to the search results

signals:
    void resultsChanged();
    void filesChanged();
    void busyChanged();
    void errorChanged();

private:
    void set_busy(bool b);
    void set_error(const QString& e);
    eg::library::HubClient& client_;
    QVariantList results_;
    QVariantList files_;
    QString files_repo_;
    QString files_revision_;
    QString pending_revision_ = QStringLiteral("main");  // of the listing in flight
    bool busy_ = false;
    QString error_;
};

}  // namespace eg::app
