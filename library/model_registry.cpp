#include "library/model_registry.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonObject>
#include <QSqlError>
#include <QSqlQuery>

#include "core/log.h"
#include "library/gguf_check.h"
#include "store/result_qt.h"

namespace eg::library {

namespace {
// Qt binds a null QString as SQL NULL; the text columns are NOT NULL.
QString text(const QString& s) { return s.isNull() ? QStringLiteral("") : s; }
constexpr const char* kColumns = "id, path, source, repo, file, revision, size_bytes, sha256, added_at, last_used_at";
const QString kFolderSource = QStringLiteral("folder");
}  // namespace

InstalledModel downloaded_model(const QString& repo, const QString& revision, const QString& file,
                                const QString& path, const QString& sha256) {
    InstalledModel m;
    m.path = QFileInfo(path).absoluteFilePath();
    m.source = QStringLiteral("huggingface");
    m.repo = repo;
    m.file = file;
    m.revision = revision.isEmpty() ? QStringLiteral("main") : revision;
    m.size_bytes = model_bytes(path);  // all parts of a split model
    m.sha256 = sha256;
    m.added_at = QDateTime::currentDateTimeUtc();
    return m;
}

ModelRegistry::ModelRegistry(const QString& connection_name) : connection_name_(connection_name) {}

ModelRegistry::~ModelRegistry() { close(); }

eg::Status ModelRegistry::open(const QString& db_path) {
    close();
    QDir().mkpath(QFileInfo(db_path).absolutePath());
    db_ = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), connection_name_);
    db_.setDatabaseName(db_path);
    if (!db_.open()) return to_error(db_.lastError().text());
    QSqlQuery q(db_);
    const QStringList statements = {
        QStringLiteral("PRAGMA journal_mode=WAL"),
        QStringLiteral("CREATE TABLE IF NOT EXISTS models (id INTEGER PRIMARY KEY AUTOINCREMENT,"
                       " path TEXT NOT NULL UNIQUE, source TEXT NOT NULL, repo TEXT NOT NULL DEFAULT '',"
                       " file TEXT NOT NULL DEFAULT '', revision TEXT NOT NULL DEFAULT '',"
                       " size_bytes INTEGER NOT NULL, sha256 TEXT NOT NULL,"
                       " added_at INTEGER NOT NULL, last_used_at INTEGER)"),
        QStringLiteral("CREATE TABLE IF NOT EXISTS user_folders (path TEXT PRIMARY KEY, added_at INTEGER NOT NULL)"),
    };
    for (const QString& s : statements)
        if (!q.exec(s)) return to_error(s + QStringLiteral(": ") + q.lastError().text());
    return {};
}

void ModelRegistry::close() {
    if (!db_.isValid()) return;
    db_.close();
    db_ = QSqlDatabase();
    QSqlDatabase::removeDatabase(connection_name_);
}

eg::Result<qint64> ModelRegistry::add(const InstalledModel& m) {
    QSqlQuery q(db_);
    q.prepare(QStringLiteral(
        "INSERT INTO models (path, source, repo, file, revision, size_bytes, sha256, added_at) VALUES (?,?,?,?,?,?,?,?)"
        " ON CONFLICT(path) DO UPDATE SET source=excluded.source, repo=excluded.repo, file=excluded.file,"
        " revision=excluded.revision, size_bytes=excluded.size_bytes, sha256=excluded.sha256,"
        " added_at=excluded.added_at"));
    const QDateTime added = m.added_at.isValid() ? m.added_at : QDateTime::currentDateTimeUtc();
    q.addBindValue(QFileInfo(m.path).absoluteFilePath());
    q.addBindValue(text(m.source));
    q.addBindValue(text(m.repo));
    q.addBindValue(text(m.file));
    q.addBindValue(text(m.revision));
    q.addBindValue(m.size_bytes);
    q.addBindValue(text(m.sha256));
    q.addBindValue(added.toMSecsSinceEpoch());
    if (!q.exec()) return to_error(q.lastError().text());
    const auto found = find_by_path(m.path);
    if (!found) return to_error(QStringLiteral("%1 was not listed").arg(m.path));
    return found->id;
}

eg::Status ModelRegistry::remove(qint64 id, bool delete_file) {
    const auto m = find(id);
    if (!m) return to_error(QStringLiteral("this model is no longer registered"));
    // Another program's file is its to delete: that program would break.
    if (delete_file && is_other_app_source(m->source))
        return to_error(QStringLiteral("%1 belongs to %2; delete it there (Engram Desktop only forgets it)")
                            .arg(m->path, source_label(m->source)));
    if (delete_file)
        for (const QString& f : model_files(m->path))  // every part of a split model
            if (QFile::exists(f) && !QFile::remove(f)) return to_error(QStringLiteral("cannot delete %1").arg(f));
    QSqlQuery q(db_);
    q.prepare(QStringLiteral("DELETE FROM models WHERE id = ?"));
    q.addBindValue(id);
    if (!q.exec()) return to_error(q.lastError().text());
    return {};
}

InstalledModel ModelRegistry::row(const QSqlQuery& q) const {
    InstalledModel m;
    m.id = q.value(0).toLongLong();
    m.path = q.value(1).toString();
    m.source = q.value(2).toString();
    m.repo = q.value(3).toString();
    m.file = q.value(4).toString();
    m.revision = q.value(5).toString();
    m.size_bytes = q.value(6).toLongLong();
    m.sha256 = q.value(7).toString();
    m.added_at = QDateTime::fromMSecsSinceEpoch(q.value(8).toLongLong(), Qt::UTC);
    if (!q.value(9).isNull()) m.last_used_at = QDateTime::fromMSecsSinceEpoch(q.value(9).toLongLong(), Qt::UTC);
    return m;
}

QList<InstalledModel> ModelRegistry::list() const {
    QList<InstalledModel> out;
    QSqlQuery q(db_);
    if (!q.exec(QStringLiteral("SELECT %1 FROM models ORDER BY added_at DESC, id DESC").arg(QLatin1String(kColumns)))) {
        EG_LOG_WARN("library: cannot read the model registry: {}", q.lastError().text().toStdString());
        return out;
    }
    while (q.next()) out.push_back(row(q));
    return out;
}

std::optional<InstalledModel> ModelRegistry::find(qint64 id) const {
    QSqlQuery q(db_);
    q.prepare(QStringLiteral("SELECT %1 FROM models WHERE id = ?").arg(QLatin1String(kColumns)));
    q.addBindValue(id);
    if (!q.exec() || !q.next()) return std::nullopt;
    return row(q);
}

std::optional<InstalledModel> ModelRegistry::find_by_path(const QString& path) const {
    QSqlQuery q(db_);
    q.prepare(QStringLiteral("SELECT %1 FROM models WHERE path = ?").arg(QLatin1String(kColumns)));
    q.addBindValue(QFileInfo(path).absoluteFilePath());
    if (!q.exec() || !q.next()) return std::nullopt;
    return row(q);
}

eg::Status ModelRegistry::touch_last_used(qint64 id) {
    QSqlQuery q(db_);
    q.prepare(QStringLiteral("UPDATE models SET last_used_at = ? WHERE id = ?"));
    q.addBindValue(QDateTime::currentDateTimeUtc().toMSecsSinceEpoch());
    q.addBindValue(id);
    if (!q.exec()) return to_error(q.lastError().text());
    if (q.numRowsAffected() != 1) return to_error(QStringLiteral("model %1 is not registered").arg(id));
    return {};
}

eg::Result<qint64> ModelRegistry::import_file(const QString& path, ImportMode mode, const QString& models_dir) {
    if (auto gguf = check_gguf(path); !gguf)
        return to_error(QStringLiteral("not a valid GGUF file: %1").arg(error_text(gguf)));
    // What the engine does not run is said now, before anything is copied.
    if (auto runnable = check_runnable_file(path); !runnable) return runnable.error();
    QString target = QFileInfo(path).absoluteFilePath();
    if (mode == ImportMode::Copy) {
        QDir().mkpath(models_dir);
        target = QDir(models_dir).filePath(QFileInfo(path).fileName());
        if (QFileInfo(target).absoluteFilePath() != QFileInfo(path).absoluteFilePath()) {
            // Copied under a temporary name, then renamed: never a half copy under the real name.
            // Every part of a split model, each under a temporary name first.
            const QStringList sources = model_files(QFileInfo(path).absoluteFilePath());
            QStringList copied;
            const auto undo = [&] {
                for (const QString& c : copied) QFile::remove(c);
            };
            for (const QString& src : sources) {
                const QString dst = QDir(models_dir).filePath(QFileInfo(src).fileName());
                const QString tmp = dst + QStringLiteral(".part");
                QFile::remove(tmp);
                if (!QFile::copy(src, tmp)) {
                    undo();
                    return to_error(QStringLiteral("cannot copy %1 to %2").arg(src, models_dir));
                }
                copied << tmp;
            }
            for (const QString& tmp : std::as_const(copied)) {
                const QString dst = tmp.chopped(5);
                QFile::remove(dst);
                if (!QFile::rename(tmp, dst)) {
                    undo();
                    return to_error(QStringLiteral("cannot move the copy to %1").arg(dst));
                }
            }
        }
    }
    auto sha = sha256_of_file(target);
    if (!sha) return sha.error();
    InstalledModel m;
    m.path = target;
    m.source = QStringLiteral("imported");
    m.size_bytes = model_bytes(target);
    m.sha256 = sha.value();
    return add(m);
}

eg::Result<bool> ModelRegistry::scan_folder(const QString& models_dir) {
    bool changed = false;
    // Found files whose file is gone were never more than the file.
    for (const InstalledModel& m : list()) {
        if (m.source != kFolderSource || QFileInfo::exists(m.path)) continue;
        if (auto s = remove(m.id, false); !s) return s.error();
        changed = true;
    }
    // Not hashed nor opened here: a folder of large models would hold up the
    // window; the engine checks a file when it loads it.
    const QFileInfoList files = QDir(models_dir).entryInfoList({QStringLiteral("*.gguf")}, QDir::Files | QDir::Readable,
                                                               QDir::Name);
    for (const QFileInfo& f : files) {
        if (is_later_split_part(f.fileName()) || find_by_path(f.absoluteFilePath())) continue;
        InstalledModel m;
        m.path = f.absoluteFilePath();
        m.source = kFolderSource;
        m.size_bytes = model_bytes(f.absoluteFilePath());
        m.added_at = QDateTime::currentDateTimeUtc();
        if (auto id = add(m); !id) return id.error();
        changed = true;
    }
    return changed;
}

eg::Result<bool> ModelRegistry::sync_found(const QList<FoundModel>& found) {
    bool changed = false;
    for (const FoundModel& f : found) {
        const auto known = find_by_path(f.path);
        // Downloads and imports keep their own entry; a found one is not re-added.
        if (known && (known->source != f.source || (known->size_bytes == f.size_bytes && known->repo == f.name)))
            continue;
        InstalledModel m;
        m.path = f.path;
        m.source = f.source;
        m.repo = f.name;
        m.file = f.file;
        m.size_bytes = f.size_bytes;
        m.added_at = known ? known->added_at : QDateTime::currentDateTimeUtc();
        if (auto id = add(m); !id) return id.error();
        changed = true;
    }
    return changed;
}

QStringList ModelRegistry::user_folders() const {
    QStringList out;
    QSqlQuery q(db_);
    if (!q.exec(QStringLiteral("SELECT path FROM user_folders ORDER BY added_at, path"))) return out;
    while (q.next()) out << q.value(0).toString();
    return out;
}

eg::Status ModelRegistry::add_user_folder(const QString& folder) {
    const QFileInfo fi(folder);
    if (!fi.isDir()) return to_error(QStringLiteral("%1 is not a folder").arg(folder));
    QSqlQuery q(db_);
    q.prepare(QStringLiteral("INSERT OR IGNORE INTO user_folders (path, added_at) VALUES (?, ?)"));
    q.addBindValue(fi.absoluteFilePath());
    q.addBindValue(QDateTime::currentDateTimeUtc().toMSecsSinceEpoch());
    if (!q.exec()) return to_error(q.lastError().text());
    return {};
}

eg::Status ModelRegistry::remove_user_folder(const QString& folder) {
    QSqlQuery q(db_);
    q.prepare(QStringLiteral("DELETE FROM user_folders WHERE path = ?"));
    q.addBindValue(QFileInfo(folder).absoluteFilePath());
    if (!q.exec()) return to_error(q.lastError().text());
    // Its models are forgotten with it (their files stay where they are).
    q.prepare(QStringLiteral("DELETE FROM models WHERE source = ? AND path LIKE ?"));
    q.addBindValue(kSourceUserFolder);
    q.addBindValue(QFileInfo(folder).absoluteFilePath() + QStringLiteral("/%"));
    if (!q.exec()) return to_error(q.lastError().text());
    return {};
}

QJsonArray ModelRegistry::to_json(const QList<InstalledModel>& models) {
    QJsonArray out;
    for (const InstalledModel& m : models) {
        QJsonObject o;
        o[QStringLiteral("id")] = m.id;
        o[QStringLiteral("path")] = m.path;
        o[QStringLiteral("source")] = m.source;
        if (!m.repo.isEmpty()) {
            o[QStringLiteral("repo")] = m.repo;
            o[QStringLiteral("file")] = m.file;
            o[QStringLiteral("revision")] = m.revision;
        }
        o[QStringLiteral("size_bytes")] = m.size_bytes;
        o[QStringLiteral("sha256")] = m.sha256;
        o[QStringLiteral("added_at")] = m.added_at.toString(Qt::ISODate);
        o[QStringLiteral("last_used_at")] =
            m.last_used_at.isValid() ? QJsonValue(m.last_used_at.toString(Qt::ISODate)) : QJsonValue();
        out.push_back(o);
    }
    return out;
}

}  // namespace eg::library
