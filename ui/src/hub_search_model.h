// QML context property `hub`: the Hugging Face search of the library page
// (HubSearchPanel.qml) over eg::library::HubClient: search results, then a
// repository's .gguf files at a revision. Downloading a listed file goes
// through libraryActions (LibraryActions) like any other download.
#pragma once

#include <QObject>
#include <QString>
#include <QVariantList>

namespace eg::library {
class HubClient;
}

namespace eg::ui {

class DownloadCenter;

class HubSearchModel : public QObject {
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
    // `client` (and `downloads`, when given) outlive this object. A search
    // or listing that fails for want of a connection (DownloadError::is_offline)
    // puts `downloads` in offline mode, as a failed download does.
    explicit HubSearchModel(eg::library::HubClient& client, DownloadCenter* downloads = nullptr,
                            QObject* parent = nullptr);
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
    DownloadCenter* downloads_ = nullptr;
    QVariantList results_;
    QVariantList files_;
    QString files_repo_;
    QString files_revision_;
    QString pending_revision_ = QStringLiteral("main");  // of the listing in flight
    bool busy_ = false;
    QString error_;
};

}  // namespace eg::ui
