// The model library's list (QML context property `library`): the bundled
// catalog (resources/models.json) with, per model, whether it fits in this
// machine's free RAM, whether it is installed, and the state of its download.
// It keeps neither of the last two: "installed" is read from the installed
// list (InstalledModels) and the download from the DownloadCenter, which also
// holds offline mode; the rows' buttons act through the DownloadCenter.
#pragma once

#include <QAbstractListModel>
#include <QList>
#include <QString>
#include <QStringList>

#include "core/result.h"

namespace eg::ui {

class DownloadCenter;
class InstalledModels;

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
    // A tensor type the file uses that the engine may not run yet ("IQ4_XS"):
    // the entry is offered only when it does (engine_runs_type). "": none.
    QString needs_type;
    QString architecture;     // llama | qwen2 | qwen3 | qwen3moe | gpt-oss | gemma3 | phi3 | smollm3
    qint64 parameters = 0;
    int context_length = 0;  // tokens the model was trained for
    QString license;
    qint64 memory_bytes = 0;  // weights (the whole file, every expert) + F16 KV cache at the default context
    int n_layer = 0, n_kv_head = 0, head_dim = 0;  // the shape memory_bytes was computed from
    // Mixture-of-experts models (qwen3moe, gpt-oss) only, else 0: experts per
    // block, used per token, one expert's FFN width. All of them count in
    // memory_bytes: the engine keeps every expert in RAM (none on the SSD yet).
    int n_expert = 0, n_expert_used = 0, expert_width = 0;
    bool is_moe() const { return n_expert > 0; }
    bool gated = false;       // needs an accepted licence and a token
    bool is_default = false;  // the model a new user is offered first
};

struct Catalog {
    int default_context = 4096;  // tokens the KV cache in memory_bytes is sized for
    QList<CatalogEntry> entries;
};

// Parses and validates a catalog: every field present with the right type and
// range, ids unique. The error names the entry and the field.
eg::Result<Catalog> parse_catalog(const QByteArray& json);

// Whether this engine computes with the tensor type of that name ("IQ4_XS").
bool engine_runs_type(const QString& type_name);

// F16 K and V for every layer at `context` tokens (sliding-window layers
// too: the engine allocates the whole context for each).
qint64 kv_cache_bytes(const CatalogEntry& e, int context);

// How a model's memory need compares with the free RAM.
enum class Fit {
    Unknown,  // free RAM unknown
    Fits,
    Barely,   // fits, but leaves less than a quarter of the free RAM for everything else
    TooBig,
};
Fit judge_fit(qint64 memory_bytes, qint64 free_bytes);

class CatalogModel : public QAbstractListModel {
    Q_OBJECT
    Q_PROPERTY(int count READ count NOTIFY countChanged)
    Q_PROPERTY(QString error READ error NOTIFY errorChanged)
    Q_PROPERTY(bool online READ online WRITE setOnline NOTIFY onlineChanged)
    // Whether online is known (a probe or a request answered or failed), not yet a guess.
    Q_PROPERTY(bool onlineKnown READ onlineKnown NOTIFY onlineChanged)
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
        NoticeRole,  // the downloader's word on the download ("starting over")
        CanDownloadRole,
        DownloadHintRole,
    };
    Q_ENUM(Role)

    // Loads the catalog at catalog_path (a file or a ":/" resource); on
    // failure the list is empty and error() says why. Free RAM is the
    // engine's reading of /proc/meminfo. `downloads` and `installed` outlive it.
    CatalogModel(const QString& catalog_path, DownloadCenter& downloads, InstalledModels& installed,
                 QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;
    int count() const { return (int)rows_.size(); }
    QString error() const { return error_; }
    bool online() const;  // the DownloadCenter's offline mode
    bool onlineKnown() const;
    void setOnline(bool online);
    qint64 freeRamBytes() const { return free_ram_bytes_; }
    QString freeRamText() const;
    int defaultRow() const;
    const CatalogEntry& entry(int row) const { return rows_[row].entry; }
    int default_context() const { return default_context_; }

    // On failure the list is empty and error() says why.
    eg::Status load(const QString& catalog_path);
    // For tests and for the planner: the RAM the fit is judged against.
    void set_free_ram_bytes(qint64 bytes);
    // -1 when absent. `key` is a catalog id or "repo/file".
    int row_of(const QString& key) const;
    // "repo/file" of a row: its key in the DownloadCenter.
    QString download_key(int row) const;

    Q_INVOKABLE void refreshFreeRam();  // from /proc/meminfo again
    // False when installed or already downloading, and when offline (then the row's error says so).
    Q_INVOKABLE bool download(int row);
    Q_INVOKABLE void cancel(int row);
    Q_INVOKABLE void pause(int row);
    Q_INVOKABLE void resume(int row);
    Q_INVOKABLE void clearError(int row);
    Q_INVOKABLE QString pathAt(int row) const;  // the installed file; empty when not installed

    // MemAvailable as the engine reads it (plan/probe.h); -1 when unreadable.
    static qint64 read_mem_available_bytes();
    static QString parameters_text(qint64 count);  // "135M", "1.5B"
    // "fits in 21.5 GiB free RAM" / "fits barely: needs 17.7 GiB of 21.5 GiB free" /
    // "needs 8.6 GiB, 5.7 GiB free"; free < 0: unknown.
    static QString fit_text(qint64 memory_bytes, qint64 free_bytes);

signals:
    void countChanged();
    void errorChanged();
    void onlineChanged();
    void freeRamChanged();

private:
    struct Row {
        CatalogEntry entry;
        QString path;  // the installed file (from the installed list); empty when not installed
    };
    bool fits(const Row& r) const;
    void installed_changed();
    void all_changed(const QList<int>& roles = {});

    DownloadCenter& downloads_;
    InstalledModels& installed_;
    QList<Row> rows_;
    QString error_;
    qint64 free_ram_bytes_ = -1;  // -1: unknown
    int default_context_ = 4096;
};

}  // namespace eg::ui
