// ModelRegistry: the installed models (downloaded or imported), kept in
// SQLite (<data>/models.sqlite3) on the registry's own Qt SQL connection.
#pragma once

#include <QDateTime>
#include <QJsonArray>
#include <QList>
#include <QSqlDatabase>
#include <QString>

#include <optional>

namespace eg::library {

struct InstalledModel {
    qint64 id = 0;
    QString path;      // absolute path of the .gguf
    QString source;    // "huggingface" or "imported"
    QString repo, file, revision;  // empty for imported files
    qint64 size_bytes = 0;
    QString sha256;
    QDateTime added_at, last_used_at;  // UTC; last_used_at is null until first use
};

enum class ImportMode { Copy = 1, Reference = 2 };

class ModelRegistry {
public:
    explicit ModelRegistry(const QString& connection_name = QStringLiteral("engram-models"));
    ~ModelRegistry();
    ModelRegistry(const ModelRegistry&) = delete;
    ModelRegistry& operator=(const ModelRegistry&) = delete;

    bool open(const QString& db_path, QString* error);
    void close();

    // Adds or replaces (same path) a model; returns its id, 0 on error.
    qint64 add(const InstalledModel& m);
    // Removes the entry; with delete_file the .gguf goes too (frees the disk).
    bool remove(qint64 id, bool delete_file);
    QList<InstalledModel> list() const;  // most recently added first
    std::optional<InstalledModel> find(qint64 id) const;
    std::optional<InstalledModel> find_by_path(const QString& path) const;
    bool touch_last_used(qint64 id);

    // Validates `path` as GGUF and hashes it before listing it. Copy puts a
    // copy into `models_dir`; Reference lists the file where it is. 0 on error.
    qint64 import_file(const QString& path, ImportMode mode, const QString& models_dir, QString* error);

    static QJsonArray to_json(const QList<InstalledModel>& models);
    QString last_error() const { return last_error_; }

private:
    InstalledModel row(const class QSqlQuery& q) const;
    QString connection_name_;
    QSqlDatabase db_;
    mutable QString last_error_;
};

}  // namespace eg::library
