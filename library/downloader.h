// Downloader: fetches model files from a Hugging Face-style endpoint into
// <dest>/<the file's path in the repo>.part (+ a .part.json sidecar),
// resumes with HTTP Range, also after a restart, checks disk space before
// the first byte, hashes while streaming, verifies SHA-256 and GGUF, then
// renames the file into place; a split model's parts are one download. The
// sidecar's format is known here only (download_files.h): partial_downloads()
// reads it for others. Failures come as a DownloadError (a kind and a
// sentence).
#pragma once

#include <QElapsedTimer>
#include <QHash>
#include <QList>
#include <QNetworkAccessManager>
#include <QObject>
#include <QString>
#include <QUrl>

#include <memory>

#include "core/result.h"
#include "library/download_errors.h"

class QNetworkReply;

namespace eg::library {

// One model: a file, or every part of a split model when `file` is one of
// its parts (NAME-0000k-of-0000N.gguf): one id, one progress, finished()
// once all are in place, with the first part's path and SHA-256.
struct DownloadRequest {
    QString repo;                      // "org/name"
    QString revision = QStringLiteral("main");
    QString file;                      // path inside the repo, e.g. "Q4_K_M/model.Q4_K_M.gguf"
    QString dest_dir;                  // created if missing; the file's folders in the repo are kept below it
    QString expected_sha256;           // optional (a catalog value); else X-Linked-Etag. A split model: part 1's
    // Optional; checked against free disk before any request. A split model:
    // all parts together (the Hub listing's) or part 1's, checked before part 1.
    qint64 expected_size_bytes = -1;
};

// A download that stopped before its end (paused, failed, or the app quit)
// and left its .part with a sidecar: what it takes to continue it.
struct PartialDownload {
    DownloadRequest request;  // as it was started; expected_size_bytes is the total when known
    QString part_path;
    qint64 bytes_done = 0;    // in the .part
    qint64 bytes_total = -1;  // -1: the server has not said yet
};

class Downloader : public QObject {
    Q_OBJECT
public:
    // `data_dir` holds the token file (hf_token).
    explicit Downloader(const QString& data_dir, QObject* parent = nullptr);
    // Active downloads stop; their .part files stay for a later resume.
    ~Downloader() override;

    // HF_ENDPOINT or https://huggingface.co unless set here (tests).
    void set_endpoint(const QString& endpoint);
    QString endpoint() const { return endpoint_; }
    // No byte for this long while a request is open → a "stalled" failure.
    void set_stall_timeout_ms(int ms) { stall_timeout_ms_ = ms; }
    // Files larger than this are re-hashed (on resume) and opened as GGUF (on
    // completion) on a pool thread instead of the caller's (GUI) thread.
    void set_off_thread_bytes(qint64 bytes) { off_thread_bytes_ = bytes; }
    static constexpr qint64 kOffThreadBytes = 64LL * 1024 * 1024;

    // HF_TOKEN if set, else the token file. Empty when there is none.
    QString token() const;
    // Writes <data>/hf_token readable by the user only (0600). Empty token removes it.
    eg::Status set_token(const QString& token);
    QString token_path() const;

    // Returns the download id (> 0). Errors (even immediate ones) arrive as failed().
    qint64 start(const DownloadRequest& request);
    void pause(qint64 id);   // keeps the .part; resume() continues with Range
    void resume(qint64 id);  // also retries a failed download from its .part
    void cancel(qint64 id);  // stops and deletes the .part and its sidecar
    bool is_running(qint64 id) const;
    // The .part files in `dir` that this downloader can continue: their
    // sidecar names a file on this endpoint. Sorted by file name.
    QList<PartialDownload> partial_downloads(const QString& dir) const;
    // Takes a partial download (from an earlier run) over as a paused one:
    // resume() continues it from its .part, cancel() deletes its bytes.
    // Returns its id; the id it already has when this run knows it.
    qint64 adopt(const PartialDownload& partial);
    // Asks the endpoint for any answer: reachable() when one comes,
    // unreachable() when none does (no network, DNS, timeout).
    void probe();
    // <dest>/<file>.part for a request (where the bytes are kept while fetching).
    static QString part_path_for(const DownloadRequest& request);
    static QString final_path_for(const DownloadRequest& request);

signals:
    // bytes_total is -1 when unknown; eta_s is -1 when unknown.
    void progress(qint64 id, qint64 bytes_done, qint64 bytes_total, double bytes_per_s, double eta_s);
    // Something the user should know that is not a failure ("starting over").
    void notice(qint64 id, const QString& message);
    void paused(qint64 id);
    void cancelled(qint64 id);
    void finished(qint64 id, const QString& final_path, const QString& sha256);
    // The task stays: resume() retries from the .part (when one was kept).
    void failed(qint64 id, const eg::library::DownloadError& error);
    // The endpoint answered a probe().
    void reachable();
    // A probe() got no answer at all; `why` is Qt's sentence.
    void unreachable(const QString& why);

private:
    struct Task;
    void send(Task& t, const QUrl& url, bool first_hop);
    void on_ready_read(Task& t);
    void on_reply_finished(Task& t);
    bool check_response(Task& t);  // false when the task ended
    bool check_disk(Task& t, qint64 needed_bytes);
    void complete(Task& t);
    Task* make_task(const DownloadRequest& request);
    void fail(Task& t, const DownloadError& error, bool keep_part);
    void detach(Task& t);  // aborts the reply without reporting
    void save_sidecar(const Task& t) const;
    void set_part(Task& t, int index);
    void ask_hub(Task& t);  // the repository's GGUF metadata, before the first byte  // makes part `index` of a split model the current file
    bool prepare_part(Task& t);  // opens .part, drops one that is not ours
    bool rehash_part(Task& t);   // hashes what the .part holds (this thread)
    void continue_resume(Task& t);  // after the .part is hashed: the request
    void install(Task& t, const QString& sha256, const eg::Status& gguf);  // checked: rename, report
    void report_progress(Task& t, bool force);
    Task* task(qint64 id) const;

    QNetworkAccessManager nam_;
    QNetworkAccessManager probe_nam_;  // probes are never held up by downloads
    QString data_dir_;
    QString endpoint_;
    int stall_timeout_ms_ = 30000;
    qint64 off_thread_bytes_ = kOffThreadBytes;
    qint64 next_id_ = 1;
    QHash<qint64, Task*> tasks_;
};

}  // namespace eg::library
