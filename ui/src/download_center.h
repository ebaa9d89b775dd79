// The state of every download in the window, in one place, keyed "repo/file":
// the catalog's rows (CatalogModel) and the Hugging Face search's file rows
// (libraryActions.downloads) both read it, so a file shows one state wherever
// it is listed. attach() connects it to the Downloader: requests go there,
// its reports come back through the on*() slots, and the downloads an earlier
// run left unfinished show as paused. It also holds offline mode: a failure
// of kind offline or DNS sets it, bytes arriving or a probe answering clear it.
// Without a downloader (tests of the views) the on*() slots are driven by hand.
#pragma once

#include <QHash>
#include <QObject>
#include <QString>
#include <QTimer>
#include <QVariantMap>

#include "library/download_errors.h"

namespace eg::library {
class Downloader;
}

namespace eg::ui {

struct DownloadState {
    QString repo, file;   // "owner/name", the path inside the repo
    QString revision;     // what it is downloaded at
    QString sha256;       // expected; empty: Hugging Face's etag is trusted
    qint64 size_bytes = -1;  // expected (the catalog's or the listing's); -1: unknown
    bool downloading = false;  // started and not ended; a paused one too
    bool paused = false;
    bool restored = false;     // left by an earlier run
    qint64 bytes_done = 0;
    qint64 bytes_total = -1;   // as the server says; -1: not yet
    double bytes_per_s = 0;
    QString error;   // why it failed (or was refused); the download can be retried
    QString notice;  // something to know that is not a failure ("starting over")
    QString path;    // where it was installed

    qint64 total_bytes() const { return bytes_total > 0 ? bytes_total : size_bytes; }
    double progress() const;  // 0..1 while downloading
    // "Starting…", "47 MiB / 94 MiB · 10 MiB/s · 5 s left", "Paused · 70 MiB / 94 MiB";
    // empty when not downloading.
    QString progress_text() const;
    // What QML reads: {downloading, paused, restored, progress, progressText,
    // error, notice, path, revision, sha256, sizeBytes, bytesDone, bytesTotal}.
    QVariantMap to_variant_map() const;
};

class DownloadCenter : public QObject {
    Q_OBJECT
    Q_PROPERTY(bool online READ online WRITE setOnline NOTIFY onlineChanged)
    // False until something actually answered or failed to (the first probe
    // at attach(), a download, a search): till then "online" is a guess.
    Q_PROPERTY(bool onlineKnown READ onlineKnown NOTIFY onlineChanged)
    Q_PROPERTY(QVariantMap downloads READ downloads NOTIFY downloadsChanged)
public:
    explicit DownloadCenter(QObject* parent = nullptr);

    // From now on requests go to `downloader` (which outlives this object);
    // the partial downloads it finds in `dest_dir` show as paused. The
    // endpoint is probed at once: onlineKnown() turns true with its answer.
    void attach(eg::library::Downloader& downloader, const QString& dest_dir);

    static QString key(const QString& repo, const QString& file) { return repo + QLatin1Char('/') + file; }
    // nullptr when the file has no download state.
    const DownloadState* state(const QString& key) const;
    // Every state by key, as QML reads it (DownloadState::to_variant_map).
    QVariantMap downloads() const;

    bool online() const { return online_; }
    bool onlineKnown() const { return online_known_; }
    void setOnline(bool online);
    // How often a probe asks the endpoint whether it answers again while offline.
    void set_probe_interval_ms(int ms) { probe_timer_.setInterval(ms); }

    // Starts the download of repo/file at `revision`, or continues a paused or
    // failed one from its .part. `what` names it in a refusal (default: the
    // file name). False when it is already running, and when offline (then
    // the state's error says it needs a connection).
    bool start(const QString& repo, const QString& revision, const QString& file, const QString& sha256,
               qint64 size_bytes, const QString& what = {});
    void pause(const QString& key);
    // Continues a paused or failed download at the revision, checksum and size
    // it was started with. False when there is nothing to resume or it runs,
    // and when offline (the state's error set).
    bool resume(const QString& key, const QString& what = {});
    // Stops it and deletes its bytes; the state goes.
    void cancel(const QString& key);
    void clear_error(const QString& key);
    // The model installed at `path` was removed: finished states that name it go.
    void forget_path(const QString& path);

    static QString needs_connection_text();  // "needs a connection"

public slots:
    // The downloader's reports, by key; unknown keys are ignored.
    void onProgress(const QString& key, qint64 done_bytes, qint64 total_bytes, double bytes_per_s);
    void onPaused(const QString& key);
    void onNotice(const QString& key, const QString& message);
    void onFinished(const QString& key, const QString& path, const QString& sha256);
    void onFailed(const QString& key, const eg::library::DownloadError& error);
    void onCancelled(const QString& key);

signals:
    void changed(const QString& key);  // that state (or its absence)
    void downloadsChanged();
    void onlineChanged();
    // A download was verified and moved into place, before its state says so:
    // the installed list registers it (LibraryActions connects this).
    void finished(const QString& repo, const QString& revision, const QString& file, const QString& path,
                  const QString& sha256);

private:
    template <class F>
    void update(const QString& key, F&& change);
    void remove_state(const QString& key);
    void forget_id(qint64 id);

    QHash<QString, DownloadState> states_;
    mutable QVariantMap variant_map_;  // downloads(), rebuilt after a change
    mutable bool variant_map_stale_ = true;
    bool online_ = true;
    bool online_known_ = false;
    bool probed_since_offline_ = false;  // a probe went out after the last switch
    QTimer probe_timer_;
    eg::library::Downloader* downloader_ = nullptr;
    QString dest_dir_;
    QHash<QString, qint64> id_of_;   // key → download id
    QHash<qint64, QString> key_of_;  // download id → key
};

}  // namespace eg::ui
