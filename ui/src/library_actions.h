// QML context property `libraryActions`: what the library page does besides
// the catalog's rows — import a local .gguf, the installed models (list,
// remove, last used), the Hugging Face token, and the downloads of files
// found through the search. It keeps no state of its own beside the last
// errors: the installed list is InstalledModels', the downloads are the
// DownloadCenter's (it registers each finished one in the installed list).
// Methods that can fail return false and set the error property the page shows.
#pragma once

#include <QObject>
#include <QString>
#include <QStringList>
#include <QUrl>
#include <QVariantList>
#include <QVariantMap>

namespace eg::library {
class Downloader;
}

namespace eg::ui {

class DownloadCenter;
class InstalledModels;

class LibraryActions : public QObject {
    Q_OBJECT
    Q_PROPERTY(QString importError READ importError NOTIFY importErrorChanged)
    Q_PROPERTY(QString removeError READ removeError NOTIFY removeErrorChanged)
    Q_PROPERTY(QString tokenError READ tokenError NOTIFY tokenChanged)
    Q_PROPERTY(QString modelsDir READ modelsDir CONSTANT)
    // Per download, keyed by "repo/file" (DownloadState::to_variant_map): the
    // Hugging Face file rows read their state here. A paused one keeps
    // downloading=true; one left by an earlier run shows here as paused.
    Q_PROPERTY(QVariantMap downloads READ downloads NOTIFY downloadsChanged)
    // The registered models, most recently added first: {id, path, name,
    // source, repo, sizeText, addedText, lastUsedText, exists, inModelsDir}.
    Q_PROPERTY(QVariantList installed READ installed NOTIFY installedChanged)
    // Whether a Hugging Face token is available (never the token itself).
    Q_PROPERTY(bool tokenSet READ tokenSet NOTIFY tokenChanged)
    Q_PROPERTY(bool tokenFromEnvironment READ tokenFromEnvironment NOTIFY tokenChanged)
    // The folders the user added to where models are looked for (besides
    // the other programs' own places), and the last error adding one.
    Q_PROPERTY(QStringList userFolders READ userFolders NOTIFY userFoldersChanged)
    Q_PROPERTY(QString folderError READ folderError NOTIFY userFoldersChanged)
    // The chat's model (Main.qml binds it to chat.modelPath while one is
    // loaded): its row says "In use", it is listed even when opened by path,
    // and removing it is refused with a sentence.
    Q_PROPERTY(QString inUsePath READ inUsePath WRITE setInUsePath NOTIFY installedChanged)
public:
    // All parts outlive this object; `downloader` keeps the token.
    LibraryActions(InstalledModels& installed, DownloadCenter& downloads, eg::library::Downloader& downloader,
                   QObject* parent = nullptr);

    QString importError() const { return import_error_; }
    QString removeError() const { return remove_error_; }
    QString tokenError() const { return token_error_; }
    QString modelsDir() const;
    QVariantMap downloads() const;
    QVariantList installed() const { return installed_; }
    bool tokenSet() const;
    bool tokenFromEnvironment() const;

    // Validates (GGUF header and tensor table) and registers a local .gguf:
    // copied into the models folder, or used where it is. `file` is a path or
    // a file:// URL. False with importError set.
    Q_INVOKABLE bool importModel(const QString& file, bool copy);
    // A typed path as a local path: a file:// URL, "~" and "~/…" expanded, made absolute.
    // Where the last importModel put its model (the copy when copied).
    Q_INVOKABLE QString lastImported() const { return last_imported_; }
    Q_INVOKABLE QString expandPath(const QString& typed) const;
    // Why the file at `typed` (expandPath) cannot be opened as a model: no
    // such file, a folder, not .gguf, the GGUF reader's or the engine's
    // refusal. Empty when it can.
    Q_INVOKABLE QString checkModelFile(const QString& typed) const;
    // Shows `folder` in the file manager; false when none could be started
    // (the page then shows the path to copy).
    Q_INVOKABLE bool openFolder(const QString& folder) const;
    // file:// URL of the folder holding `path` (for Qt.openUrlExternally).
    Q_INVOKABLE QUrl folderUrlOf(const QString& path) const;
    // Registers new files of the models folder and reads the registry again.
    Q_INVOKABLE void refreshInstalled();
    // The installed file for repo/file (InstalledModels::path_for); "" when none.
    Q_INVOKABLE QString installedPath(const QString& repo, const QString& file) const;
    // Downloads a file found through the Hugging Face search with the same
    // machinery as catalog rows; `sha256` (the tree's lfs.oid) may be empty.
    // False when it already runs, and offline (the state's error set).
    Q_INVOKABLE bool downloadFile(const QString& repo, const QString& revision, const QString& file,
                                  const QString& sha256, qint64 sizeBytes);
    Q_INVOKABLE void cancelFile(const QString& repo, const QString& file);
    Q_INVOKABLE void pauseFile(const QString& repo, const QString& file);
    // Continues a paused (or failed) download from its .part, at the revision,
    // checksum and size it was started with (also one from an earlier run).
    // False when there is nothing to resume, and offline (the state's error set).
    Q_INVOKABLE bool resumeFile(const QString& repo, const QString& file);
    // Removes a registered model; with deleteFile its .gguf goes too. False with removeError set.
    Q_INVOKABLE bool removeModel(qint64 id, bool deleteFile);
    // Sets the registry's last-used date of the model at `path` (when registered).
    Q_INVOKABLE void markUsed(const QString& path);
    // Stores the token for gated repositories (file readable by the user
    // only); empty removes it. False with tokenError set.
    Q_INVOKABLE bool setToken(const QString& token);
    QStringList userFolders() const;
    QString folderError() const { return folder_error_; }
    QString inUsePath() const;
    void setInUsePath(const QString& path);
    // Adds a folder (a path or file:// URL) whose .gguf files are listed where
    // they are; false with folderError set.
    Q_INVOKABLE bool addFolder(const QString& folder);
    Q_INVOKABLE void removeFolder(const QString& folder);

signals:
    void importErrorChanged();
    void removeErrorChanged();
    void modelImported(const QString& path);
    void downloadsChanged();
    void installedChanged();
    void tokenChanged();
    void userFoldersChanged();

private:
    void set_import_error(const QString& e);
    void set_remove_error(const QString& e);

    InstalledModels& installed_models_;
    DownloadCenter& downloads_;
    eg::library::Downloader& downloader_;
    QVariantList installed_;  // installed_models_.to_variant_list(), rebuilt when it changes
    QString import_error_;
    QString last_imported_;
    QString remove_error_;
    QString token_error_;
    QString folder_error_;
};

}  // namespace eg::ui
