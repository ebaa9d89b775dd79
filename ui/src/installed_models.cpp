#include "installed_models.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QUrl>
#include <QVariantMap>

#include <algorithm>

#include "core/log.h"
#include "format.h"
#include "store/result_qt.h"

namespace eg::ui {

using eg::library::InstalledModel;

namespace {

bool same(const InstalledModel& a, const InstalledModel& b) {
    return a.id == b.id && a.path == b.path && a.source == b.source && a.repo == b.repo && a.file == b.file &&
           a.revision == b.revision && a.size_bytes == b.size_bytes && a.sha256 == b.sha256 &&
           a.added_at == b.added_at && a.last_used_at == b.last_used_at;
}

// What a row of the picker shows (a new last-used date does not reset it).
bool same_row(const InstalledModel& a, const InstalledModel& b) {
    return a.id == b.id && a.path == b.path && a.source == b.source && a.repo == b.repo &&
           a.size_bytes == b.size_bytes;
}

template <class Same>
bool same(const QList<InstalledModel>& a, const QList<InstalledModel>& b, Same same_one) {
    return a.size() == b.size() && std::equal(a.cbegin(), a.cend(), b.cbegin(), same_one);
}

QString local_path(const QString& path_or_url) {
    const QUrl url(path_or_url);
    return QFileInfo(url.isLocalFile() ? url.toLocalFile() : path_or_url).absoluteFilePath();
}

}  // namespace

InstalledModels::InstalledModels(eg::library::ModelRegistry& registry, const QString& models_dir,
                                 QList<eg::library::ScanPlace> places, QObject* parent)
    : QAbstractListModel(parent), registry_(registry), models_dir_(models_dir), places_(std::move(places)) {
    // Watched, so that a file copied into the folder (or deleted there) shows without a restart.
    QDir().mkpath(models_dir_);
    rescan_.setSingleShot(true);
    rescan_.setInterval(250);
    connect(&rescan_, &QTimer::timeout, this, &InstalledModels::refresh);
    connect(&watcher_, &QFileSystemWatcher::directoryChanged, &rescan_, qOverload<>(&QTimer::start));
    scan_other_apps();
}

void InstalledModels::scan_other_apps() {
    QList<eg::library::ScanPlace> places = places_;
    for (const QString& folder : registry_.user_folders()) places << eg::library::ScanPlace{eg::library::kSourceUserFolder, folder};
    for (const eg::library::ScanPlace& place : std::as_const(places))
        if (auto synced = registry_.sync_found(eg::library::scan_place(place)); !synced)
            EG_LOG_WARN("library: cannot register the models of {}: {}", place.root.toStdString(), synced.message());
    refresh();
}

eg::Status InstalledModels::add_user_folder(const QString& folder) {
    if (auto added = registry_.add_user_folder(folder); !added) return added;
    scan_other_apps();
    return {};
}

eg::Status InstalledModels::remove_user_folder(const QString& folder) {
    if (auto removed = registry_.remove_user_folder(folder); !removed) return removed;
    refresh();
    return {};
}

namespace {
// What the user knows a model as: its name in the other program (an Ollama
// blob's file name says nothing), else the file name without .gguf.
QString display_name(const InstalledModel& m) {
    if (m.source == eg::library::kSourceOllama) return m.repo;
    const QString base = QFileInfo(m.file.isEmpty() ? m.path : m.file).completeBaseName();
    if (eg::library::is_other_app_source(m.source) && !m.repo.isEmpty() && m.repo != base)
        return m.repo + QStringLiteral(" · ") + base;
    return QFileInfo(m.path).completeBaseName();
}
}  // namespace

int InstalledModels::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : (int)rows_.size(); }

QVariant InstalledModels::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() < 0 || index.row() >= rows_.size()) return {};
    const InstalledModel& m = rows_[index.row()];
    switch (role) {
        case NameRole: return display_name(m);
        case PathRole: return m.path;
        case SizeTextRole: return format_bytes(m.size_bytes);
        case IdRole: return m.id;
        case SourceRole: return m.source;
        case RepoRole: return m.repo;
        case SourceLabelRole: return eg::library::source_label(m.source);
        case InUseRole: return in_use(m);
        default: return {};
    }
}

QHash<int, QByteArray> InstalledModels::roleNames() const {
    return {{NameRole, "name"}, {PathRole, "path"}, {SizeTextRole, "sizeText"},
            {IdRole, "modelId"}, {SourceRole, "source"}, {RepoRole, "repo"}, {SourceLabelRole, "sourceLabel"},
            {InUseRole, "inUse"}};
}

void InstalledModels::refresh() {
    if (watcher_.directories().isEmpty() && QFileInfo(models_dir_).isDir()) watcher_.addPath(models_dir_);
    if (auto scanned = registry_.scan_folder(models_dir_); !scanned)
        EG_LOG_WARN("library: cannot list the models folder {}: {}", models_dir_.toStdString(), scanned.message());
    QList<InstalledModel> entries = registry_.list();
    // A model opened by path from outside the library is still one the user has.
    if (!in_use_.isEmpty() && QFileInfo(in_use_).isFile() &&
        std::none_of(entries.cbegin(), entries.cend(), [&](const InstalledModel& m) { return m.path == in_use_; })) {
        InstalledModel opened;
        opened.id = -1;
        opened.path = in_use_;
        opened.file = QFileInfo(in_use_).fileName();
        opened.source = eg::library::kSourceOpened;
        opened.size_bytes = QFileInfo(in_use_).size();
        entries.push_front(opened);
    }
    QList<InstalledModel> rows;
    for (const InstalledModel& m : entries)
        if (QFileInfo(m.path).isFile()) rows.push_back(m);
    const auto same_entry = [](const InstalledModel& a, const InstalledModel& b) { return same(a, b); };
    if (same(entries, entries_, same_entry) && same(rows, rows_, same_entry)) return;
    entries_ = std::move(entries);
    if (same(rows, rows_, same_row)) {
        rows_ = std::move(rows);  // nothing the rows show changed: no reset under the picker
    } else {
        const bool count_changed = rows.size() != rows_.size();
        beginResetModel();
        rows_ = std::move(rows);
        endResetModel();
        if (count_changed) emit countChanged();
    }
    emit changed();
}

QString InstalledModels::pathAt(int row) const { return row >= 0 && row < rows_.size() ? rows_[row].path : QString(); }

int InstalledModels::rowOfPath(const QString& path) const {
    const QString abs = QFileInfo(path).absoluteFilePath();
    for (int i = 0; i < rows_.size(); ++i)
        if (rows_[i].path == abs) return i;
    return -1;
}

QVariantList InstalledModels::to_variant_list() const {
    const QString dir = QDir(models_dir_).absolutePath();
    const auto date_text = [](const QDateTime& d) {
        return d.isValid() ? d.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm")) : QString();
    };
    QVariantList list;
    for (const InstalledModel& m : entries_) {
        const QFileInfo fi(m.path);
        list << QVariantMap{{QStringLiteral("id"), m.id},
                            {QStringLiteral("path"), m.path},
                            {QStringLiteral("name"), eg::library::is_other_app_source(m.source) ? display_name(m)
                                                                                                : fi.fileName()},
                            {QStringLiteral("source"), m.source},
                            {QStringLiteral("sourceLabel"), eg::library::source_label(m.source)},
                            {QStringLiteral("opened"), m.source == eg::library::kSourceOpened},
                            {QStringLiteral("inUse"), in_use(m)},
                            {QStringLiteral("otherApp"), eg::library::is_other_app_source(m.source)},
                            {QStringLiteral("repo"), m.repo},
                            {QStringLiteral("sizeBytes"), m.size_bytes},
                            {QStringLiteral("sizeText"), format_bytes(m.size_bytes)},
                            {QStringLiteral("addedText"), date_text(m.added_at)},
                            {QStringLiteral("lastUsedText"), date_text(m.last_used_at)},
                            {QStringLiteral("exists"), fi.isFile()},
                            {QStringLiteral("inModelsDir"), fi.absolutePath() == dir}};
    }
    return list;
}

QString InstalledModels::path_for(const QString& repo, const QString& file) const {
    for (const InstalledModel& m : rows_)
        if (!m.repo.isEmpty() && m.repo == repo && m.file == file) return m.path;
    const QString name = QFileInfo(file).fileName();
    for (const InstalledModel& m : rows_)
        if (m.repo.isEmpty() && QFileInfo(m.path).fileName() == name) return m.path;
    return {};
}

eg::Result<qint64> InstalledModels::import_file(const QString& path, bool copy) {
    auto id = registry_.import_file(path, copy ? eg::library::ImportMode::Copy : eg::library::ImportMode::Reference,
                                    models_dir_);
    if (id) refresh();
    return id;
}

eg::Status InstalledModels::remove(qint64 id, bool delete_file) {
    for (const InstalledModel& m : std::as_const(entries_))
        if (m.id == id && in_use(m))
            return eg::to_error(QStringLiteral("it is the model the chat is using. Load another model first, then remove this one."));
    if (id < 0) return eg::to_error(QStringLiteral("it was opened by path and is not in the library."));
    eg::Status removed = registry_.remove(id, delete_file);
    if (removed) refresh();
    return removed;
}

void InstalledModels::mark_used(const QString& path) {
    const auto m = registry_.find_by_path(local_path(path));
    if (!m || !registry_.touch_last_used(m->id)) return;
    refresh();
}

void InstalledModels::set_in_use(const QString& path) {
    const QString abs = path.isEmpty() ? QString() : local_path(path);
    if (abs == in_use_) return;
    in_use_ = abs;
    refresh();  // adds (or drops) the row of a model opened by path
    if (!rows_.isEmpty()) emit dataChanged(index(0), index((int)rows_.size() - 1), {InUseRole});
    emit changed();
}

void InstalledModels::add_download(const QString& repo, const QString& revision, const QString& file,
                                   const QString& path, const QString& sha256) {
    if (auto added = registry_.add(eg::library::downloaded_model(repo, revision, file, path, sha256)); !added)
        EG_LOG_ERROR("library: cannot register {}: {}", path.toStdString(), added.message());
    else EG_LOG_INFO("library: installed {}/{} as {}", repo.toStdString(), file.toStdString(), path.toStdString());
    refresh();
}

}  // namespace eg::ui
