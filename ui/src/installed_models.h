// The installed models: one list over the registry (library/model_registry.h)
// of the downloads, the imports and the .gguf files found in the models
// folder (refresh() registers those). The model picker (QML `models`), the
// library page's Installed tab (libraryActions.installed) and the catalog's
// "installed" all read it. Its rows are the models whose file is there (the
// ones that can be loaded); entries() also holds registered ones whose file
// is missing, for the Installed tab to show and forget. The model in use
// (set_in_use) is listed too when it was opened by path (--model) from
// outside the library: source kSourceOpened, id -1, not registered.
#pragma once

#include <QAbstractListModel>
#include <QFileSystemWatcher>
#include <QList>
#include <QString>
#include <QTimer>
#include <QVariantList>

#include "core/result.h"
#include "library/model_registry.h"
#include "library/other_apps.h"

namespace eg::ui {

class InstalledModels : public QAbstractListModel {
    Q_OBJECT
    Q_PROPERTY(int count READ count NOTIFY countChanged)
    Q_PROPERTY(QString cacheDir READ cacheDir CONSTANT)
    Q_PROPERTY(QString inUsePath READ in_use_path NOTIFY changed)
public:
    enum Role {
        NameRole = Qt::UserRole + 1,  // the file name without .gguf
        PathRole,
        SizeTextRole,
        IdRole,
        SourceRole,  // "huggingface", "imported", "folder", or another program's (library/other_apps.h)
        RepoRole,
        SourceLabelRole,  // "Downloaded", "Ollama", "Hugging Face cache", ...
        InUseRole,        // the chat's model
    };
    Q_ENUM(Role)

    // `registry` outlives this object; `models_dir` is where downloads and
    // copied imports go (created if missing, and watched: a file put there
    // shows up without a restart). `places`: where other programs keep
    // models (by default this user's, from the environment); the folders
    // the user added (registry) are searched too.
    InstalledModels(eg::library::ModelRegistry& registry, const QString& models_dir,
                    QList<eg::library::ScanPlace> places = eg::library::other_app_places(), QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;
    int count() const { return (int)rows_.size(); }
    QString cacheDir() const { return models_dir_; }

    // Registers the models folder's new files, then reads the registry again.
    Q_INVOKABLE void refresh();
    // Looks through the other programs' places and the user's folders
    // (headers only; known files are not read again), then refresh().
    Q_INVOKABLE void scan_other_apps();
    QStringList user_folders() const { return registry_.user_folders(); }
    eg::Status add_user_folder(const QString& folder);
    eg::Status remove_user_folder(const QString& folder);
    Q_INVOKABLE QString pathAt(int row) const;
    Q_INVOKABLE int rowOfPath(const QString& path) const;  // -1 when absent

    // Every registered model, most recently added first, missing files too.
    const QList<eg::library::InstalledModel>& entries() const { return entries_; }
    // entries() as QML reads them: {id, path, name (what the user knows it
    // as), source, sourceLabel, repo, sizeBytes, sizeText, addedText,
    // lastUsedText, exists, inModelsDir, otherApp}.
    QVariantList to_variant_list() const;
    // The installed file for repo/file: a download of it, else a file of that
    // name without a repository (found in the folder or imported). Empty when none.
    QString path_for(const QString& repo, const QString& file) const;

    // Validates and registers a local .gguf: copied into the models folder, or used where it is.
    eg::Result<qint64> import_file(const QString& path, bool copy);
    // Forgets a model; with delete_file its file goes too.
    eg::Status remove(qint64 id, bool delete_file);
    // Sets the last-used date of the model at `path` (a path or file:// URL), when registered.
    void mark_used(const QString& path);
    // The model the chat has loaded (a path or file:// URL; empty: none). It
    // is marked in use, listed even when not registered, and not removed.
    void set_in_use(const QString& path);
    QString in_use_path() const { return in_use_; }

public slots:
    // A verified download of repo/file@revision at `path`: registered and listed.
    void add_download(const QString& repo, const QString& revision, const QString& file, const QString& path,
                      const QString& sha256);

signals:
    void countChanged();
    void changed();  // the entries changed (added, removed, used)

private:
    eg::library::ModelRegistry& registry_;
    QString models_dir_;
    QList<eg::library::ScanPlace> places_;
    QFileSystemWatcher watcher_;
    QTimer rescan_;  // one refresh for a burst of folder changes
    QList<eg::library::InstalledModel> entries_;
    QList<eg::library::InstalledModel> rows_;  // the entries whose file exists
    QString in_use_;  // absolute path of the chat's model, or empty
    bool in_use(const eg::library::InstalledModel& m) const { return !in_use_.isEmpty() && m.path == in_use_; }
};

}  // namespace eg::ui
