// ModelRegistry: the installed models (downloaded, imported, or found in the
// models folder), kept in SQLite (<data>/models.sqlite3) on the registry's
// own Qt SQL connection. The one list of installed models: the window's model
// picker and library page, and --list-models, all read it.
#pragma once

#include <QDateTime>
#include <QJsonArray>
#include <QList>
#include <QSqlDatabase>
#include <QString>

#include <optional>

#include "core/result.h"
#include "library/other_apps.h"

namespace eg::library {

struct InstalledModel {
    qint64 id = 0;
    QString path;      // absolute path of the .gguf
    // "huggingface", "imported", "folder" (found in the models folder), or
    // another program's (library/other_apps.h: "hf-cache", "ollama", ...)
    QString source;
    // A download's repository, file and revision; another program's model:
    // its name there ("org/name", "llama3.2:1b") and file. Else empty.
    QString repo, file, revision;
    qint64 size_bytes = 0;
    QString sha256;    // empty for found files (not hashed: they may be large)
    QDateTime added_at, last_used_at;  // UTC; last_used_at is null until first use
};

// The entry for a verified download of repo/file@revision now at `path`.
InstalledModel downloaded_model(const QString& repo, const QString& revision, const QString& file,
                                const QString& path, const QString& sha256);

enum class ImportMode { Copy = 1, Reference = 2 };

class ModelRegistry {
public:
    explicit ModelRegistry(const QString& connection_name = QStringLiteral("engram-models"));
    ~ModelRegistry();
    ModelRegistry(const ModelRegistry&) = delete;
    ModelRegistry& operator=(const ModelRegistry&) = delete;

    eg::Status open(const QString& db_path);
    void close();

    // Adds or replaces (same path) a model; returns its id.
    eg::Result<qint64> add(const InstalledModel& m);
    // Removes the entry; with delete_file the .gguf goes too (frees the disk).
    eg::Status remove(qint64 id, bool delete_file);
    QList<InstalledModel> list() const;  // most recently added first; empty when unreadable (logged)
    std::optional<InstalledModel> find(qint64 id) const;
    std::optional<InstalledModel> find_by_path(const QString& path) const;
    eg::Status touch_last_used(qint64 id);

    // Validates `path` as GGUF and hashes it before listing it. Copy puts a
    // copy into `models_dir`; Reference lists the file where it is.
    eg::Result<qint64> import_file(const QString& path, ImportMode mode, const QString& models_dir);

    // Registers the *.gguf files in `models_dir` that are not registered yet
    // (put there by hand, a script or another program) as source "folder",
    // and forgets "folder" entries whose file is gone. Returns whether the
    // registry changed.
    eg::Result<bool> scan_folder(const QString& models_dir);

    // Registers the models other programs keep (library/other_apps.h) where
    // they are: new ones are added, a known path with the same size is not
    // touched (the scan's cache), and entries whose file went stay, shown as
    // missing. Returns whether the registry changed.
    eg::Result<bool> sync_found(const QList<FoundModel>& found);

    // The folders the user added to the places searched for models (source
    // "user-folder"), in the order added.
    QStringList user_folders() const;
    eg::Status add_user_folder(const QString& folder);
    eg::Status remove_user_folder(const QString& folder);

    static QJsonArray to_json(const QList<InstalledModel>& models);

private:
    InstalledModel row(const class QSqlQuery& q) const;
    QString connection_name_;
    QSqlDatabase db_;
};

}  // namespace eg::library
