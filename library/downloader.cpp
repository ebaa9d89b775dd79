#include "library/downloader.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkProxyFactory>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QRegularExpression>
#include <QSslError>
#include <QStorageInfo>
#include <QTimer>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>

#include "library/download_files.h"
#include "library/gguf_check.h"
#include "store/result_qt.h"
#include "plan/planner.h"

namespace eg::library {

struct Downloader::Task {
    qint64 id = 0;
    DownloadRequest req;
    QUrl url;  // the resolve URL (first hop)
    QString part_path, sidecar_path, final_path;
    QFile part;
    // Replaced whole when a re-hash of the .part ran on another thread.
    std::shared_ptr<QCryptographicHash> hash = std::make_shared<QCryptographicHash>(QCryptographicHash::Sha256);
    // Bumped by pause/fail/resume, so a worker's late answer for an older run is ignored.
    quint64 generation = 0;
    bool verifying = false;  // the finished file is being checked off the GUI thread
    qint64 hashed_bytes = -1;  // bytes of .part already in `hash`; -1 = not hashed yet
    QNetworkReply* reply = nullptr;
    bool headers_checked = false;
    bool first_hop = true;
    int hops = 0;
    QString linked_etag;   // from the first (redirect) response
    qint64 linked_size_bytes = -1;
    qint64 total_bytes = -1;
    QString sidecar_etag;  // the etag the .part was fetched under
    QStringList tls_errors;
    // A split model (NAME-00001-of-0000N.gguf, gguf_check.h model_files):
    // its parts are fetched one after the other under this one id, each
    // resumed, hashed and verified as a single file is; req, url and the
    // paths above are the current part's.
    QStringList parts;               // empty for a single file
    int part_index = 0;
    qint64 parts_done_bytes = 0;     // bytes of the parts already in place
    QString first_expected_sha256;   // the request's: it is part 1's
    qint64 first_expected_bytes = -1;// the request's size: checked against free disk before part 1
    QString first_final_path, first_sha256;
    QString key_part_path;           // part_path_for(the request as started): adopt() matches it
    bool hub_checked = false;        // the name's quant tag and the Hub's architecture were asked
    QTimer stall;
    bool running = false;
    QElapsedTimer clock;
    qint64 sample_ms = 0, sample_bytes = 0, last_report_ms = -1000;
    double bytes_per_s = 0;
};

namespace {

using Kind = DownloadError::Kind;
using namespace download_files;

// IEC units, as the planner and every view in the window word sizes.
QString bytes_text(qint64 bytes) { return QString::fromStdString(eg::format_bytes(bytes > 0 ? quint64(bytes) : 0)); }

QString strip_etag(QString etag) {
    etag = etag.trimmed();
    if (etag.startsWith(QStringLiteral("W/"))) etag = etag.mid(2);
    if (etag.size() >= 2 && etag.startsWith(u'"') && etag.endsWith(u'"')) etag = etag.mid(1, etag.size() - 2);
    return etag.toLower();
}

QString what_of(const DownloadRequest& r) {
    return QStringLiteral("%1/%2 at revision %3").arg(r.repo, r.file, r.revision);
}

}  // namespace

Downloader::Downloader(const QString& data_dir, QObject* parent) : QObject(parent), data_dir_(data_dir) {
    QNetworkProxyFactory::setUseSystemConfiguration(true);  // http_proxy / https_proxy / no_proxy
    const QString env = qEnvironmentVariable("HF_ENDPOINT");
    set_endpoint(env.isEmpty() ? QStringLiteral("https://huggingface.co") : env);
}

Downloader::~Downloader() {
    for (Task* t : std::as_const(tasks_)) {
        detach(*t);
        if (t->part.isOpen()) {
            t->part.flush();
            save_sidecar(*t);
            t->part.close();
        }
        delete t;
    }
}

void Downloader::set_endpoint(const QString& endpoint) {
    endpoint_ = endpoint;
    while (endpoint_.endsWith(u'/')) endpoint_.chop(1);
}

QString Downloader::token_path() const { return data_dir_ + QStringLiteral("/hf_token"); }

QString Downloader::token() const {
    const QString env = qEnvironmentVariable("HF_TOKEN");
    if (!env.isEmpty()) return env.trimmed();
    QFile f(token_path());
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QString::fromUtf8(f.readAll()).trimmed();
}

eg::Status Downloader::set_token(const QString& token) {
    if (token.trimmed().isEmpty()) {
        QFile::remove(token_path());
        return {};
    }
    QDir().mkpath(data_dir_);
    QFile f(token_path());
    // Created 0600 so the token is never readable by others, even briefly.
    const auto owner_only = QFileDevice::ReadOwner | QFileDevice::WriteOwner;
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate, owner_only) || !f.setPermissions(owner_only) ||
        f.write(token.trimmed().toUtf8()) < 0)
        return to_error(QStringLiteral("cannot write %1: %2").arg(token_path(), f.errorString()));
    return {};
}

QString Downloader::final_path_for(const DownloadRequest& r) {
    // The repository's folders are kept (Q4_K_M/x.gguf and Q8_0/x.gguf are
    // two files), but never a path that climbs out of dest_dir.
    QString rel = QDir::cleanPath(r.file);
    while (rel.startsWith(u'/')) rel.remove(0, 1);
    if (rel.isEmpty() || rel == QStringLiteral("..") || rel.startsWith(QStringLiteral("../")))
        rel = QFileInfo(r.file).fileName();
    return QDir(r.dest_dir).filePath(rel);
}

QString Downloader::part_path_for(const DownloadRequest& r) { return final_path_for(r) + QStringLiteral(".part"); }

Downloader::Task* Downloader::task(qint64 id) const { return tasks_.value(id, nullptr); }

bool Downloader::is_running(qint64 id) const {
    const Task* t = task(id);
    return t && t->running;
}

void Downloader::set_part(Task& t, int index) {
    t.part_index = index;
    if (!t.parts.isEmpty()) {
        t.req.file = t.parts[index];
        // The request's checksum is the first part's; the others are checked
        // against the Hub's X-Linked-Etag (their LFS SHA-256).
        t.req.expected_sha256 = index == 0 ? t.first_expected_sha256 : QString();
        t.req.expected_size_bytes = index == 0 ? t.first_expected_bytes : -1;
    }
    t.url = resolve_url(endpoint_, t.req.repo, t.req.revision, t.req.file);
    t.final_path = final_path_for(t.req);
    t.part_path = part_path_for(t.req);
    t.sidecar_path = sidecar_path_of(t.part_path);
    if (t.part.isOpen()) t.part.close();
    t.part.setFileName(t.part_path);
    t.hash = std::make_shared<QCryptographicHash>(QCryptographicHash::Sha256);
    t.hashed_bytes = -1;
    t.total_bytes = -1;
    t.linked_etag.clear();
    t.linked_size_bytes = -1;
    t.sidecar_etag.clear();
}

Downloader::Task* Downloader::make_task(const DownloadRequest& request) {
    auto* t = new Task;
    t->id = next_id_++;
    t->req = request;
    if (t->req.revision.isEmpty()) t->req.revision = QStringLiteral("main");
    t->key_part_path = QFileInfo(part_path_for(t->req)).absoluteFilePath();
    // Any part of a split model fetches the whole model.
    const QStringList files = split_of_part(t->req.file);
    int first = 0;
    if (files.size() > 1) {
        t->parts = files;
        t->first_expected_sha256 = t->req.expected_sha256;
        t->first_expected_bytes = t->req.expected_size_bytes;
        DownloadRequest r = t->req;
        r.file = files[0];
        t->first_final_path = final_path_for(r);
        // Parts an earlier run put in place (verified then) are not fetched again.
        for (; first + 1 < files.size(); ++first) {
            r.file = files[first];
            if (!QFileInfo(final_path_for(r)).isFile() || QFileInfo::exists(part_path_for(r))) break;
            t->parts_done_bytes += QFileInfo(final_path_for(r)).size();
        }
    }
    set_part(*t, first);
    t->stall.setSingleShot(true);
    connect(&t->stall, &QTimer::timeout, this, [this, t] {
        fail(*t,
             {Kind::Stalled,
              QStringLiteral("stalled: no data from %1 for %2 s; the bytes fetched so far are kept, resume to continue")
                  .arg(t->url.host())
                  .arg(stall_timeout_ms_ / 1000.0)},
             true);
    });
    tasks_.insert(t->id, t);
    return t;
}

qint64 Downloader::start(const DownloadRequest& request) {
    // Started from the event loop, so even an immediate failure reaches a
    // caller that connects after start() returns.
    const qint64 id = make_task(request)->id;
    QTimer::singleShot(0, this, [this, id] { resume(id); });
    return id;
}

qint64 Downloader::adopt(const PartialDownload& partial) {
    const QString part = QFileInfo(part_path_for(partial.request)).absoluteFilePath();
    for (const Task* t : std::as_const(tasks_))
        if (t->key_part_path == part) return t->id;
    Task* t = make_task(partial.request);  // not running: resume() continues it
    if (t->parts.isEmpty()) t->total_bytes = partial.bytes_total;  // kept in the sidecar when it is paused again
    return t->id;
}

void Downloader::probe() {
    QNetworkRequest req(QUrl(endpoint_ + QLatin1Char('/')));
    req.setTransferTimeout(10000);
    QNetworkReply* reply = probe_nam_.head(req);
    connect(reply, &QNetworkReply::finished, this, [this, reply] {
        reply->deleteLater();
        // Any HTTP answer, even an error status, means the endpoint is reachable.
        if (reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).isValid()) emit reachable();
        else emit unreachable(reply->errorString());
    });
}

void Downloader::resume(qint64 id) {
    Task* t = task(id);
    if (!t || t->running) return;
    t->running = true;
    ++t->generation;
    t->clock.start();
    t->sample_ms = 0;
    t->bytes_per_s = 0;
    t->last_report_ms = -1000;
    if (!prepare_part(*t)) return;
    if (t->hashed_bytes != t->part.size() && t->part.size() > off_thread_bytes_) {
        // A large .part is re-hashed on a pool thread so the window stays responsive.
        const QString path = t->part_path;
        const qint64 have = t->part.size();
        const quint64 generation = t->generation;
        QtConcurrent::run([path, have] {
            auto hash = std::make_shared<QCryptographicHash>(QCryptographicHash::Sha256);
            eg::Status read = hash_file_into(path, *hash, have);
            return std::make_pair(read, hash);
        }).then(this, [this, id, have, generation](std::pair<eg::Status, std::shared_ptr<QCryptographicHash>> r) {
            Task* t = task(id);
            if (!t || !t->running || t->generation != generation) return;  // paused, cancelled or restarted
            if (!r.first) {
                fail(*t, {Kind::Disk, error_text(r.first)}, true);
                return;
            }
            t->hash = r.second;  // the worker is done with it
            t->hashed_bytes = have;
            t->part.seek(have);
            continue_resume(*t);
        });
        return;
    }
    if (t->hashed_bytes != t->part.size() && !rehash_part(*t)) return;
    continue_resume(*t);
}

void Downloader::continue_resume(Task& t) {
    t.sample_bytes = t.hashed_bytes;
    if (!t.hub_checked) {
        // What the engine does not run is refused before a byte of it is fetched.
        if (auto ok = runnable_on_hub(t.req.repo, t.parts.isEmpty() ? t.req.file : t.parts[0], QString()); !ok) {
            fail(t, {Kind::Unsupported, error_text(ok)}, true);
            return;
        }
    }
    if (t.req.expected_size_bytes > 0 && !check_disk(t, t.req.expected_size_bytes - t.hashed_bytes)) return;
    if (!t.hub_checked) return ask_hub(t);
    t.hops = 0;
    send(t, t.url, true);
}

void Downloader::pause(qint64 id) {
    Task* t = task(id);
    // Nothing to pause while the finished file is checked: it is about to be installed.
    if (!t || !t->running || t->verifying) return;
    ++t->generation;
    detach(*t);
    t->part.flush();
    save_sidecar(*t);
    t->part.close();
    t->running = false;
    emit paused(id);
}

void Downloader::cancel(qint64 id) {
    Task* t = tasks_.take(id);
    if (!t) return;
    detach(*t);
    t->part.close();
    QFile::remove(t->part_path);
    QFile::remove(t->sidecar_path);
    // A split model is one item: the parts already in place go too.
    for (int k = 0; k < t->part_index; ++k) {
        DownloadRequest r = t->req;
        r.file = t->parts[k];
        QFile::remove(final_path_for(r));
    }
    t->running = false;
    // Deleted later: cancel() may be called from inside this task's signal.
    QTimer::singleShot(0, this, [t] { delete t; });
    emit cancelled(id);
}

bool Downloader::prepare_part(Task& t) {
    const QString folder = QFileInfo(t.part_path).absolutePath();
    if (!QDir().mkpath(folder)) {
        fail(t, {Kind::Disk, QStringLiteral("cannot create the folder %1").arg(folder)}, true);
        return false;
    }
    // Unbuffered: a full disk shows up in write(), not later in a flush.
    if (!t.part.isOpen() && !t.part.open(QIODevice::ReadWrite | QIODevice::Unbuffered)) {
        fail(t, {Kind::Disk, QStringLiteral("cannot write %1: %2").arg(t.part_path, t.part.errorString())}, true);
        return false;
    }
    // A .part from another URL or checksum is not ours to continue.
    const std::optional<Sidecar> side = t.part.size() > 0 ? read_sidecar(t.part_path) : std::nullopt;
    if (side) {
        const QString& expected = side->expected_sha256;
        t.sidecar_etag = side->etag;
        if (side->url != t.url.toString() ||
            (!expected.isEmpty() && !t.req.expected_sha256.isEmpty() &&
             expected.compare(t.req.expected_sha256, Qt::CaseInsensitive) != 0)) {
            t.part.resize(0);
            t.hashed_bytes = -1;
            t.sidecar_etag.clear();
        }
    }
    if (t.hashed_bytes == t.part.size()) t.part.seek(t.hashed_bytes);
    return true;
}

bool Downloader::rehash_part(Task& t) {
    // Resuming: the hash must cover the bytes already on disk.
    const qint64 have = t.part.size();
    t.hash->reset();
    if (auto read = hash_file_into(t.part_path, *t.hash, have); !read) {
        fail(t, {Kind::Disk, error_text(read)}, true);
        return false;
    }
    t.hashed_bytes = have;
    t.part.seek(have);
    return true;
}

void Downloader::send(Task& t, const QUrl& url, bool first_hop) {
    QNetworkRequest request(url);
    // Redirects are followed here, so the first response's X-Linked-* headers are kept.
    request.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
    request.setHeader(QNetworkRequest::UserAgentHeader, QStringLiteral("engram-desktop"));
    // No transparent gzip: byte ranges must count bytes of the file itself.
    request.setRawHeader("Accept-Encoding", "identity");
    const QUrl base(endpoint_);
    const QString tok = token();
    // The token goes to the Hub only, never to the CDN a redirect points at.
    if (!tok.isEmpty() && url.host() == base.host() && url.port() == base.port())
        request.setRawHeader("Authorization", "Bearer " + tok.toUtf8());
    if (t.hashed_bytes > 0) request.setRawHeader("Range", "bytes=" + QByteArray::number(t.hashed_bytes) + "-");
    t.first_hop = first_hop;
    t.headers_checked = false;
    t.tls_errors.clear();
    t.reply = nam_.get(request);
    Task* tp = &t;
    connect(t.reply, &QNetworkReply::readyRead, this, [this, tp] { on_ready_read(*tp); });
    connect(t.reply, &QNetworkReply::finished, this, [this, tp] { on_reply_finished(*tp); });
    connect(t.reply, &QNetworkReply::sslErrors, this, [tp](const QList<QSslError>& errors) {
        // Recorded for the message; never ignored.
        for (const QSslError& e : errors) tp->tls_errors << e.errorString();
    });
    t.stall.start(stall_timeout_ms_);
}

void Downloader::ask_hub(Task& t) {
    // GET /api/models/REPO/revision/REV: its "gguf" field holds the
    // architecture Hugging Face read from the repository's GGUF files. No
    // answer, or none that says, is no refusal: the file's own header is
    // checked once it is here.
    QNetworkRequest request(QUrl(QStringLiteral("%1/api/models/%2/revision/%3")
                                     .arg(endpoint_, t.req.repo,
                                          QString::fromLatin1(QUrl::toPercentEncoding(t.req.revision)))));
    request.setHeader(QNetworkRequest::UserAgentHeader, QStringLiteral("engram-desktop"));
    request.setTransferTimeout(15000);
    if (const QString tok = token(); !tok.isEmpty()) request.setRawHeader("Authorization", "Bearer " + tok.toUtf8());
    t.reply = nam_.get(request);
    Task* tp = &t;
    connect(t.reply, &QNetworkReply::finished, this, [this, tp] {
        QNetworkReply* r = tp->reply;
        if (!r) return;
        tp->reply = nullptr;
        r->deleteLater();
        tp->hub_checked = true;
        const int status = r->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        QString arch;
        if (status == 200)
            arch = QJsonDocument::fromJson(r->readAll())
                       .object()
                       .value(QStringLiteral("gguf"))
                       .toObject()
                       .value(QStringLiteral("architecture"))
                       .toString();
        if (auto ok = runnable_on_hub(tp->req.repo, tp->req.file, arch); !ok) {
            fail(*tp, {Kind::Unsupported, error_text(ok)}, true);
            return;
        }
        continue_resume(*tp);
    });
}

void Downloader::detach(Task& t) {
    t.stall.stop();
    if (!t.reply) return;
    QNetworkReply* r = t.reply;
    t.reply = nullptr;
    r->disconnect(this);
    // A reply that already carries an error (401, 404...) is ended by deleting
    // it; abort() on it again makes Qt complain.
    if (r->error() == QNetworkReply::NoError) r->abort();
    r->deleteLater();
}

bool Downloader::check_disk(Task& t, qint64 needed_bytes) {
    if (needed_bytes <= 0) return true;
    QStorageInfo storage(t.req.dest_dir);
    storage.refresh();
    const qint64 free_bytes = storage.bytesAvailable();
    if (free_bytes >= 0 && needed_bytes > free_bytes) {
        fail(t,
             {Kind::Disk, QStringLiteral("not enough disk space: needs %1, %2 free in %3")
                              .arg(bytes_text(needed_bytes), bytes_text(free_bytes), t.req.dest_dir)},
             true);
        return false;
    }
    return true;
}

bool Downloader::check_response(Task& t) {
    t.headers_checked = true;
    QNetworkReply* r = t.reply;
    const int status = r->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    // Redirects and HTTP errors are handled when the reply ends (ending the
    // reply from inside its own signal upsets QNetworkReply).
    if (status != 200 && status != 206) return true;
    const qint64 length = r->header(QNetworkRequest::ContentLengthHeader).isValid()
                              ? r->header(QNetworkRequest::ContentLengthHeader).toLongLong()
                              : -1;
    if (status == 200) {
        if (t.hashed_bytes > 0) {
            emit notice(t.id, QStringLiteral("the server does not support resuming; starting over"));
            t.part.resize(0);
            t.part.seek(0);
            t.hash->reset();
            t.hashed_bytes = 0;
            t.sample_bytes = 0;
        }
        t.total_bytes = length >= 0 ? length : t.linked_size_bytes;
    } else {
        // Content-Range: bytes START-END/TOTAL
        static const QRegularExpression re(QStringLiteral("bytes\\s+(\\d+)-(\\d+)/(\\d+|\\*)"));
        const auto m = re.match(QString::fromLatin1(r->rawHeader("Content-Range")));
        if (!m.hasMatch() || m.captured(1).toLongLong() != t.hashed_bytes) {
            t.part.resize(0);
            t.hashed_bytes = -1;
            fail(t,
                 {Kind::Resume, QStringLiteral("the server resumed at the wrong offset (%1); the partial file was "
                                               "discarded, retry to start over")
                                    .arg(QString::fromLatin1(r->rawHeader("Content-Range")))},
                 true);
            return false;
        }
        t.total_bytes = m.captured(3) == u'*' ? (length >= 0 ? t.hashed_bytes + length : t.linked_size_bytes)
                                              : m.captured(3).toLongLong();
    }
    if (t.total_bytes >= 0 && !check_disk(t, t.total_bytes - t.hashed_bytes)) return false;
    save_sidecar(t);
    return true;
}

void Downloader::on_ready_read(Task& t) {
    QNetworkReply* r = t.reply;
    if (!r) return;
    t.stall.start(stall_timeout_ms_);
    if (!t.headers_checked && !check_response(t)) return;
    const int status = r->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status != 200 && status != 206) {
        r->readAll();  // a redirect's body
        return;
    }
    const QByteArray data = r->readAll();
    if (data.isEmpty()) return;
    const qint64 written = t.part.write(data);
    if (written != data.size()) {
        // Only whole, hashed bytes stay, so a later resume continues cleanly.
        const QString why = t.part.errorString();
        t.part.resize(t.hashed_bytes);
        fail(t, {Kind::Disk, QStringLiteral("disk full (or not writable) while writing %1: %2").arg(t.part_path, why)},
             true);
        return;
    }
    t.hash->addData(data);
    t.hashed_bytes += data.size();
    report_progress(t, false);
}

void Downloader::on_reply_finished(Task& t) {
    QNetworkReply* r = t.reply;
    if (!r) return;
    t.stall.stop();
    if (!t.headers_checked && !check_response(t)) return;
    const int status = r->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    const QString host = r->url().host();
    if (status >= 300 && status < 400) {
        if (t.first_hop) {
            t.linked_etag = strip_etag(QString::fromLatin1(r->rawHeader("X-Linked-Etag")));
            const QByteArray size = r->rawHeader("X-Linked-Size");
            t.linked_size_bytes = size.isEmpty() ? -1 : size.toLongLong();
            if (t.hashed_bytes > 0 && !t.sidecar_etag.isEmpty() && !t.linked_etag.isEmpty() &&
                t.sidecar_etag != t.linked_etag) {
                emit notice(t.id, QStringLiteral("the file changed on the server since the partial download; starting over"));
                t.part.resize(0);
                t.part.seek(0);
                t.hash->reset();
                t.hashed_bytes = 0;
            }
            t.sidecar_etag = t.linked_etag;
        }
        const QUrl next = r->url().resolved(QUrl(QString::fromUtf8(r->rawHeader("Location"))));
        t.reply = nullptr;
        r->deleteLater();
        if (next.isEmpty() || ++t.hops > 10) {
            fail(t, {Kind::Redirect, QStringLiteral("too many redirects (or one without a Location) from %1").arg(host)},
                 true);
            return;
        }
        if (r->url().scheme() == QStringLiteral("https") && next.scheme() != QStringLiteral("https")) {
            fail(t, {Kind::Redirect, QStringLiteral("refusing a redirect from https to %1").arg(next.toString())}, true);
            return;
        }
        if (t.linked_size_bytes > 0 && !check_disk(t, t.linked_size_bytes - t.hashed_bytes)) return;
        save_sidecar(t);
        send(t, next, false);
        return;
    }
    if (status >= 400) {
        t.reply = nullptr;
        r->deleteLater();
        fail(t,
             http_status_error(status, r->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toString(),
                               what_of(t.req)),
             true);
        return;
    }
    on_ready_read(t);  // whatever is still buffered
    if (!t.reply) return;
    t.reply = nullptr;
    r->deleteLater();
    if (r->error() != QNetworkReply::NoError) {
        QString detail = r->errorString();
        if (!t.tls_errors.isEmpty()) detail = t.tls_errors.join(QStringLiteral("; "));
        QNetworkReply::NetworkError code = r->error();
        if (!t.tls_errors.isEmpty()) code = QNetworkReply::SslHandshakeFailedError;
        fail(t, network_error(code, host, detail), true);
        return;
    }
    if (t.total_bytes >= 0 && t.hashed_bytes < t.total_bytes) {
        fail(t,
             {Kind::ConnectionLost,
              QStringLiteral("the connection to %1 was lost after %2 of %3; the bytes fetched so far are kept and "
                             "the download resumes from there")
                  .arg(host, bytes_text(t.hashed_bytes), bytes_text(t.total_bytes))},
             true);
        return;
    }
    complete(t);
}

void Downloader::complete(Task& t) {
    t.stall.stop();
    report_progress(t, true);
    t.part.flush();
    t.part.close();
    const QString got = QString::fromLatin1(t.hash->result().toHex());
    QString expected = t.req.expected_sha256.trimmed().toLower();
    if (expected.isEmpty() && looks_like_sha256(t.linked_etag)) expected = t.linked_etag;
    if (!expected.isEmpty() && expected != got) {
        fail(t,
             {Kind::Checksum,
              QStringLiteral("checksum mismatch: expected %1, got %2; the download was deleted").arg(expected, got)},
             false);
        return;
    }
    if (t.hashed_bytes > off_thread_bytes_) {
        // Opening a large GGUF's tensor table is done on a pool thread.
        t.verifying = true;
        const qint64 id = t.id;
        const quint64 generation = t.generation;
        QtConcurrent::run([path = t.part_path] { return check_gguf_part(path); })
            .then(this, [this, id, generation, got](const eg::Status& gguf) {
                Task* tp = task(id);
                if (!tp || tp->generation != generation) return;  // cancelled meanwhile
                tp->verifying = false;
                install(*tp, got, gguf);
            });
        return;
    }
    install(t, got, check_gguf_part(t.part_path));
}

void Downloader::install(Task& t, const QString& got, const eg::Status& gguf) {
    if (!gguf) {
        fail(t,
             {Kind::InvalidFile,
              QStringLiteral("not a valid GGUF file (%1); the download was deleted").arg(error_text(gguf))},
             false);
        return;
    }
    std::error_code ec;
    std::filesystem::rename(t.part_path.toStdString(), t.final_path.toStdString(), ec);  // atomic, same folder
    if (ec) {
        fail(t,
             {Kind::Disk,
              QStringLiteral("cannot move %1 into place: %2").arg(t.part_path, QString::fromStdString(ec.message()))},
             true);
        return;
    }
    QFile::remove(t.sidecar_path);
    t.running = false;
    const qint64 id = t.id;
    QString final_path = t.final_path;
    QString sha256 = got;
    if (!t.parts.isEmpty()) {
        if (t.part_index == 0) t.first_sha256 = got;
        t.parts_done_bytes += QFileInfo(t.final_path).size();
        if (t.part_index + 1 < t.parts.size()) {
            set_part(t, t.part_index + 1);
            resume(id);  // the next part, under the same id
            return;
        }
        // Every part is here: the parts must make one model together.
        final_path = t.first_final_path;
        if (auto whole = check_gguf(final_path); !whole) {
            for (const QString& f : model_files(final_path)) QFile::remove(f);
            t.parts_done_bytes = 0;
            set_part(t, 0);
            fail(t,
                 {Kind::InvalidFile,
                  QStringLiteral("the parts do not make one model (%1); they were deleted").arg(error_text(whole))},
                 false);
            return;
        }
        if (t.first_sha256.isEmpty()) {
            // Part 1 was put in place by an earlier run.
            auto sha = sha256_of_file(final_path);
            if (sha) t.first_sha256 = sha.value();
        }
        sha256 = t.first_sha256;
    }
    tasks_.remove(id);
    QTimer::singleShot(0, this, [tp = &t] { delete tp; });
    emit finished(id, final_path, sha256);
}

void Downloader::fail(Task& t, const DownloadError& error, bool keep_part) {
    detach(t);
    if (t.part.isOpen()) t.part.flush();
    if (keep_part && t.part.size() > 0) {
        save_sidecar(t);
        t.part.close();
    } else {
        // Nothing worth keeping (or a file that must not be used): no leftovers.
        t.part.close();
        QFile::remove(t.part_path);
        QFile::remove(t.sidecar_path);
        t.hashed_bytes = -1;
        t.hash->reset();
    }
    t.running = false;
    emit failed(t.id, error);
}

void Downloader::save_sidecar(const Task& t) const {
    write_sidecar(t.part_path, {t.url.toString(), t.sidecar_etag, t.req.expected_sha256, t.total_bytes}, t.hashed_bytes);
}

void Downloader::report_progress(Task& t, bool force) {
    const qint64 now_ms = t.clock.elapsed();
    const qint64 dt_ms = now_ms - t.sample_ms;
    if (dt_ms >= 250) {
        // Exponential smoothing, so the number does not jump with each packet.
        const double inst = double(t.hashed_bytes - t.sample_bytes) * 1000.0 / double(dt_ms);
        t.bytes_per_s = t.bytes_per_s <= 0 ? inst : 0.7 * t.bytes_per_s + 0.3 * inst;
        t.sample_ms = now_ms;
        t.sample_bytes = t.hashed_bytes;
    }
    if (!force && now_ms - t.last_report_ms < 100) return;
    t.last_report_ms = now_ms;
    // A split model is one bar: the parts in place, plus this one; the parts
    // still to come are taken to be as large as this one (gguf-split and
    // gguf-py cut them alike) until they are fetched.
    const qint64 done = t.parts_done_bytes + qMax<qint64>(t.hashed_bytes, 0);
    qint64 total = t.total_bytes;
    if (!t.parts.isEmpty()) {
        const qint64 later_parts = t.parts.size() - 1 - t.part_index;
        total = t.total_bytes >= 0 ? t.parts_done_bytes + t.total_bytes * (1 + later_parts) : -1;
    }
    const double eta_s = (total > 0 && t.bytes_per_s > 0) ? double(total - done) / t.bytes_per_s : -1.0;
    emit progress(t.id, done, total, t.bytes_per_s, eta_s);
}

}  // namespace eg::library
