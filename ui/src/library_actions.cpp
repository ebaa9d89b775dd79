#include "library_actions.h"

#include <QDesktopServices>
#include <QDir>
#include <QFileInfo>

#include "core/log.h"
#include "download_center.h"
#include "installed_models.h"
#include "library/downloader.h"
#include "library/gguf_check.h"
#include "store/result_qt.h"
#include "typed_path.h"

namespace eg::ui {

using eg::error_text;

LibraryActions::LibraryActions(InstalledModels& installed, DownloadCenter& downloads,
                               eg::library::Downloader& downloader, QObject* parent)
    : QObject(parent), installed_models_(installed), downloads_(downloads), downloader_(downloader) {
    // A verified download is registered before its state says it finished.
    // (With this object as the context: the connection ends with it.)
    connect(&downloads_, &DownloadCenter::finished, this,
            [this](const QString& repo, const QString& revision, const QString& file, const QString& path,
                   const QString& sha256) { installed_models_.add_download(repo, revision, file, path, sha256); });
    connect(&downloads_, &DownloadCenter::downloadsChanged, this, &LibraryActions::downloadsChanged);
    connect(&installed_models_, &InstalledModels::changed, this, [this] {
        installed_ = installed_models_.to_variant_list();
        emit installedChanged();
    });
    installed_ = installed_models_.to_variant_list();
}

QString LibraryActions::modelsDir() const { return installed_models_.cacheDir(); }

QVariantMap LibraryActions::downloads() const { return downloads_.downloads(); }

bool LibraryActions::tokenSet() const { return !downloader_.token().isEmpty(); }

bool LibraryActions::tokenFromEnvironment() const { return !qEnvironmentVariable("HF_TOKEN").trimmed().isEmpty(); }

QString LibraryActions::expandPath(const QString& typed) const { return local_path_from_typed(typed); }

QString LibraryActions::checkModelFile(const QString& typed) const {
    const QString path = expandPath(typed);
    if (path.isEmpty()) return QStringLiteral("Type the path of a .gguf file, or choose one with Browse.");
    const QFileInfo fi(path);
    if (fi.isDir()) return QStringLiteral("%1 is a folder: choose a .gguf file in it.").arg(path);
    if (!fi.exists()) return QStringLiteral("There is no file at %1.").arg(path);
    if (!fi.isReadable()) return QStringLiteral("%1 cannot be read (permissions).").arg(path);
    if (!path.endsWith(QStringLiteral(".gguf"), Qt::CaseInsensitive))
        return QStringLiteral("%1 is not a .gguf file.").arg(fi.fileName());
    if (auto gguf = eg::library::check_gguf(path); !gguf)
        return QStringLiteral("%1 is not a valid GGUF file: %2").arg(fi.fileName(), error_text(gguf));
    if (auto runnable = eg::library::check_runnable_file(path); !runnable)
        return QStringLiteral("%1: %2").arg(fi.fileName(), error_text(runnable));
    return {};
}

bool LibraryActions::openFolder(const QString& folder) const {
    const bool opened = QDesktopServices::openUrl(QUrl::fromLocalFile(expandPath(folder)));
    if (!opened) EG_LOG_WARN("library: no file manager opened {}", folder.toStdString());
    return opened;
}

QString LibraryActions::inUsePath() const { return installed_models_.in_use_path(); }

void LibraryActions::setInUsePath(const QString& path) { installed_models_.set_in_use(path); }

bool LibraryActions::importModel(const QString& file, bool copy) {
    const QString path = expandPath(file);
    if (!path.endsWith(QStringLiteral(".gguf"), Qt::CaseInsensitive)) {
        set_import_error(QStringLiteral("%1 is not a .gguf file").arg(QFileInfo(path).fileName()));
        return false;
    }
    const auto id = installed_models_.import_file(path, copy);
    if (!id) {
        set_import_error(QStringLiteral("Cannot import %1: %2").arg(QFileInfo(path).fileName(), error_text(id)));
        EG_LOG_WARN("library: {}", import_error_.toStdString());
        return false;
    }
    set_import_error(QString());
    QString imported = path;
    for (const auto& m : installed_models_.entries())
        if (m.id == id.value()) imported = m.path;
    last_imported_ = imported;
    EG_LOG_INFO("library: imported {}", imported.toStdString());
    emit modelImported(imported);
    return true;
}

QUrl LibraryActions::folderUrlOf(const QString& path) const {
    const QUrl url(path);
    const QString p = url.isLocalFile() ? url.toLocalFile() : path;
    return QUrl::fromLocalFile(QFileInfo(p).absolutePath());
}

void LibraryActions::refreshInstalled() { installed_models_.scan_other_apps(); }

QStringList LibraryActions::userFolders() const { return installed_models_.user_folders(); }

bool LibraryActions::addFolder(const QString& folder) {
    const QUrl url(folder);
    const QString path = url.isLocalFile() ? url.toLocalFile() : folder;
    if (auto added = installed_models_.add_user_folder(path); !added) {
        folder_error_ = QStringLiteral("Cannot add %1: %2").arg(path, error_text(added));
        EG_LOG_WARN("library: {}", folder_error_.toStdString());
        emit userFoldersChanged();
        return false;
    }
    folder_error_.clear();
    EG_LOG_INFO("library: models are also looked for in {}", path.toStdString());
    emit userFoldersChanged();
    return true;
}

void LibraryActions::removeFolder(const QString& folder) {
    if (auto removed = installed_models_.remove_user_folder(folder); !removed)
        EG_LOG_WARN("library: cannot remove the folder {}: {}", folder.toStdString(), removed.message());
    emit userFoldersChanged();
}

QString LibraryActions::installedPath(const QString& repo, const QString& file) const {
    return installed_models_.path_for(repo, file);
}

bool LibraryActions::downloadFile(const QString& repo, const QString& revision, const QString& file,
                                  const QString& sha256, qint64 sizeBytes) {
    return downloads_.start(repo, revision.isEmpty() ? QStringLiteral("main") : revision, file, sha256.toLower(),
                            sizeBytes > 0 ? sizeBytes : -1);
}

void LibraryActions::cancelFile(const QString& repo, const QString& file) {
    downloads_.cancel(DownloadCenter::key(repo, file));
}

void LibraryActions::pauseFile(const QString& repo, const QString& file) {
    downloads_.pause(DownloadCenter::key(repo, file));
}

bool LibraryActions::resumeFile(const QString& repo, const QString& file) {
    return downloads_.resume(DownloadCenter::key(repo, file));
}

bool LibraryActions::removeModel(qint64 id, bool deleteFile) {
    QString path, name;
    for (const QVariant& v : std::as_const(installed_))
        if (v.toMap().value(QStringLiteral("id")).toLongLong() == id) {
            path = v.toMap().value(QStringLiteral("path")).toString();
            name = v.toMap().value(QStringLiteral("name")).toString();  // "smollm2:135m", not its blob's name
        }
    if (path.isEmpty()) {
        set_remove_error(QStringLiteral("This model is no longer registered."));
        return false;
    }
    if (auto removed = installed_models_.remove(id, deleteFile); !removed) {
        set_remove_error(QStringLiteral("Cannot remove %1: %2").arg(name, error_text(removed)));
        EG_LOG_WARN("library: {}", remove_error_.toStdString());
        return false;
    }
    set_remove_error(QString());
    EG_LOG_INFO("library: removed {}{}", path.toStdString(), deleteFile ? " (file deleted)" : " (file kept)");
    downloads_.forget_path(path);
    return true;
}

void LibraryActions::markUsed(const QString& path) { installed_models_.mark_used(path); }

bool LibraryActions::setToken(const QString& token) {
    if (auto stored = downloader_.set_token(token.trimmed()); !stored) {
        token_error_ = error_text(stored);
        EG_LOG_WARN("library: {}", token_error_.toStdString());
        emit tokenChanged();
        return false;
    }
    token_error_.clear();
    EG_LOG_INFO("library: Hugging Face token {}", token.trimmed().isEmpty() ? "removed" : "stored");
    emit tokenChanged();
    return true;
}

void LibraryActions::set_import_error(const QString& e) {
    if (e == import_error_) return;
    import_error_ = e;
    emit importErrorChanged();
}

void LibraryActions::set_remove_error(const QString& e) {
    if (e == remove_error_) return;
    remove_error_ = e;
    emit removeErrorChanged();
}

}  // namespace eg::ui
