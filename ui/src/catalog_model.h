// The model library's list (QML context property `library`): the bundled
// catalog (resources/models.json) with, per model, whether it fits in this
// machine's free RAM, whether it is installed, and the state of its download.
// It never touches the network: requests leave as signals (connected to the
// downloader by the app) and progress comes back through the on*() slots.
#pragma once

#include <QAbstractListModel>
#include <QList>
#include <QString>
#include <QStringList>

namespace eg::ui {

// One curated model, as models.json describes it (schema 1).
struct CatalogEntry {
    QString id;  // stable, [a-z0-9._-]
    QString name;
    QString repo;      // "owner/name" on Hugging Face
    QString revision;  // "main" or a 40-hex commit
    QString file;      // the .gguf in that repo
    qint64 size_bytes = 0;
    bool size_exact = false;  // false: approximate; the server's size wins
    QString sha256;           // lower-case hex; empty: use Hugging Face's X-Linked-Etag
    QString quantization;     // "Q4_K_M", "Q8_0", ...
    QString architecture;     // llama | qwen2 | qwen3
    qint64 parameters = 0;
    int context_length = 0;  // tokens the model was trained for
    QString license;
    qint64 memory_bytes = 0;  // weights + F16 KV cache at the default context
    int n_layer = 0, n_kv_head = 0, head_dim = 0;  // the shape memory_bytes was computed from
    bool gated = false;       // needs an accepted licence and a token
    bool is_default = false;  // the model a new user is offered first
};

struct Catalog {
    int default_context = 4096;  // tokens the KV cache in memory_bytes is sized for
    QList<CatalogEntry> entries;
};

// Parses and validates a catalog: every field present with the right type and
// range, ids unique. False with `error` naming the entry and the field.
bool parse_catalog(const QByteArray& json, Catalog* out, QString* error);

// F16 K and V for every layer at `context` tokens.
qint64 kv_cache_bytes(const CatalogEntry& e, int context);

class CatalogModel : public QAbstractListModel {
    Q_OBJECT
    Q_PROPERTY(int count READ count NOTIFY countChanged)
    Q_PROPERTY(QString error READ error NOTIFY errorChanged)
    Q_PROPERTY(bool online READ online WRITE setOnline NOTIFY onlineChanged)
    Q_PROPERTY(qint64 freeRamBytes READ freeRamBytes NOTIFY freeRamChanged)
    Q_PROPERTY(QString freeRamText READ freeRamText NOTIFY freeRamChanged)
    Q_PROPERTY(int defaultRow READ defaultRow NOTIFY countChanged)
public:
    enum Role {
        IdRole = Qt::UserRole + 1,
        NameRole,
        RepoRole,
        RevisionRole,
        FileRole,
        SizeBytesRole,
        SizeTextRole,
        QuantizationRole,
        ArchitectureRole,
        ParametersTextRole,
        ContextLengthRole,
        LicenseRole,
        MemoryTextRole,
        FitsRole,
        FitTextRole,
        GatedRole,
        IsDefaultRole,
        InstalledRole,
        PathRole,
        DownloadingRole,
        PausedRole,
        ProgressRole,
        ProgressTextRole,
        ErrorRole,
        CanDownloadRole,
        DownloadHintRole,
    };
    Q_ENUM(Role)

    // Loads the catalog at catalog_path (a file or a ":/" resource); on
    // failure the list is empty and error() says why. Free RAM is read from
    // /proc/meminfo.
    explicit CatalogModel(const QString& catalog_path, QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;
    int count() const { return (int)rows_.size(); }
    QString error() const { return error_; }
    bool online() const { return online_; }
    void setOnline(bool online);
    qint64 freeRamBytes() const { return free_ram_bytes_; }
    QString freeRamText() const;
    int defaultRow() const;
    const CatalogEntry& entry(int row) const { return rows_[row].entry; }
    int default_context() const { return default_context_; }

    bool load(const QString& catalog_path);
    // For tests and for the planner: the RAM the fit is judged against.
    void set_free_ram_bytes(qint64 bytes);
    // Files installed by the registry; a row is installed when one has its file name.
    void setInstalledPaths(const QStringList& paths);
    // -1 when absent. `key` is a catalog id or "repo/file".
    int row_of(const QString& key) const;

    Q_INVOKABLE void refreshFreeRam();  // from /proc/meminfo again
    // False (and the row's error set) when offline, installed or already downloading.
    Q_INVOKABLE bool download(int row);
    Q_INVOKABLE void cancel(int row);
    Q_INVOKABLE void pause(int row);
    Q_INVOKABLE void resume(int row);
    Q_INVOKABLE void clearError(int row);
    Q_INVOKABLE QString pathAt(int row) const;  // the installed file; empty when not installed

    // MemAvailable of a /proc/meminfo-format file in bytes; -1 when unreadable.
    static qint64 read_mem_available_bytes(const QString& meminfo_path = QStringLiteral("/proc/meminfo"));
    static QString size_text(qint64 bytes);         // "98.4 MB", "4.7 GB"
    static QString parameters_text(qint64 count);  // "135M", "1.5B"
    // "fits in 23.1 GB free RAM" / "needs 9.2 GB, 6.1 GB free"; free < 0: unknown.
    static QString fit_text(qint64 memory_bytes, qint64 free_bytes);
    // "1.2 / 4.4 GB · 35 MB/s · 1 min 20 s left"; parts without data are left out.
    static QString progress_text(qint64 done_bytes, qint64 total_bytes, double bytes_per_s);
    static QString duration_text(qint64 seconds);  // "45 s", "1 min 20 s", "2 h 5 min"
    static QString speed_text(double bytes_per_s);  // "35 MB/s", "850 kB/s"
    static QString needs_connection_text();         // "needs a connection"

public slots:
    // From the downloader; `id` is a catalog id or "repo/file". Unknown ids are ignored.
    void onProgress(const QString& id, qint64 done_bytes, qint64 total_bytes, double bytes_per_s);
    void onFinished(const QString& id, const QString& path);
    void onFailed(const QString& id, const QString& error);
    void onCancelled(const QString& id);

signals:
    void countChanged();
    void errorChanged();
    void onlineChanged();
    void freeRamChanged();
    // To the downloader. size_bytes is the catalog's (approximate unless
    // size_exact); sha256 is empty when Hugging Face's etag is to be trusted.
    void downloadRequested(const QString& repo, const QString& revision, const QString& file, const QString& sha256,
                           qint64 size_bytes);
    void cancelRequested(const QString& repo, const QString& revision, const QString& file);
    void pauseRequested(const QString& repo, const QString& revision, const QString& file);
    void resumeRequested(const QString& repo, const QString& revision, const QString& file, const QString& sha256,
                         qint64 size_bytes);

private:
    struct Row {
        CatalogEntry entry;
        QString path;  // installed file; empty when not installed
        bool downloading = false;
        bool paused = false;
        qint64 done_bytes = 0;
        qint64 total_bytes = 0;
        double bytes_per_s = 0;
        QString error;
    };
    static void clear_download(Row& r);
    bool fits(const Row& r) const;
    QString row_progress_text(const Row& r) const;
    void changed(int row);
    void set_row_error(int row, const QString& error);

    QList<Row> rows_;
    QString error_;
    bool online_ = true;
    qint64 free_ram_bytes_ = -1;  // -1: unknown
    int default_context_ = 4096;
};

}  // namespace eg::ui
