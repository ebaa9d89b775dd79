#include "download_center.h"

#include <QFileInfo>

#include <algorithm>

#include "core/log.h"
#include "format.h"
#include "library/downloader.h"

namespace eg::ui {

using eg::library::DownloadError;
using eg::library::Downloader;

double DownloadState::progress() const {
    const qint64 total = total_bytes();
    return downloading && total > 0 ? std::clamp((double)bytes_done / (double)total, 0.0, 1.0) : 0.0;
}

QString DownloadState::progress_text() const {
    if (!downloading) return {};
    if (paused) return QStringLiteral("Paused · %1").arg(format_progress(bytes_done, total_bytes(), 0));
    if (bytes_done == 0 && bytes_per_s <= 0) return QStringLiteral("Starting…");
    return format_progress(bytes_done, total_bytes(), bytes_per_s);
}

QVariantMap DownloadState::to_variant_map() const {
    return {{QStringLiteral("downloading"), downloading},
            {QStringLiteral("paused"), paused},
            {QStringLiteral("restored"), restored},
            {QStringLiteral("progress"), progress()},
            {QStringLiteral("progressText"), progress_text()},
            {QStringLiteral("error"), error},
            {QStringLiteral("notice"), notice},
            {QStringLiteral("path"), path},
            {QStringLiteral("revision"), revision},
            {QStringLiteral("sha256"), sha256},
            {QStringLiteral("sizeBytes"), size_bytes},
            {QStringLiteral("bytesDone"), bytes_done},
            {QStringLiteral("bytesTotal"), bytes_total}};
}

DownloadCenter::DownloadCenter(QObject* parent) : QObject(parent) {
    // While offline, a light probe notices when the endpoint answers again.
    probe_timer_.setInterval(15000);
    connect(&probe_timer_, &QTimer::timeout, this, [this] {
        probed_since_offline_ = true;
        if (downloader_) downloader_->probe();
    });
}

template <class F>
void DownloadCenter::update(const QString& key, F&& change) {
    change(states_[key]);
    variant_map_stale_ = true;
    emit changed(key);
    emit downloadsChanged();
}

void DownloadCenter::attach(Downloader& downloader, const QString& dest_dir) {
    downloader_ = &downloader;
    dest_dir_ = dest_dir;
    // The downloader's reports, from its ids to the keys the rows know.
    connect(&downloader, &Downloader::progress, this,
            [this](qint64 id, qint64 done, qint64 total, double bytes_per_s, double) {
                if (const QString k = key_of_.value(id); !k.isEmpty()) onProgress(k, done, total, bytes_per_s);
            });
    connect(&downloader, &Downloader::paused, this, [this](qint64 id) {
        if (const QString k = key_of_.value(id); !k.isEmpty()) onPaused(k);
    });
    connect(&downloader, &Downloader::notice, this, [this](qint64 id, const QString& message) {
        if (const QString k = key_of_.value(id); !k.isEmpty()) onNotice(k, message);
    });
    connect(&downloader, &Downloader::finished, this, [this](qint64 id, const QString& path, const QString& sha256) {
        const QString k = key_of_.value(id);
        forget_id(id);
        if (!k.isEmpty()) onFinished(k, path, sha256);
    });
    // The task stays in the downloader: a retry continues from its .part.
    connect(&downloader, &Downloader::failed, this, [this](qint64 id, const DownloadError& error) {
        if (const QString k = key_of_.value(id); !k.isEmpty()) onFailed(k, error);
    });
    connect(&downloader, &Downloader::cancelled, this, [this](qint64 id) {
        const QString k = key_of_.value(id);
        forget_id(id);
        if (!k.isEmpty()) onCancelled(k);
    });
    // The first probe's answer settles what was unknown; once offline, only a
    // probe sent since then turns it back (an earlier answer is stale).
    connect(&downloader, &Downloader::reachable, this, [this] {
        if (!online_known_ || (!online_ && probed_since_offline_)) setOnline(true);
    });
    connect(&downloader, &Downloader::unreachable, this, [this](const QString& why) {
        if (online_known_) return;
        EG_LOG_INFO("library: the download endpoint does not answer: {}", why.toStdString());
        setOnline(false);
    });
    if (!online_) probe_timer_.start();
    downloader.probe();  // "online" is what an answer says, not an assumption

    // What an earlier run left: paused, Resume continues it, Cancel deletes it.
    for (const eg::library::PartialDownload& p : downloader.partial_downloads(dest_dir)) {
        const QString k = key(p.request.repo, p.request.file);
        if (id_of_.contains(k)) continue;
        const qint64 id = downloader.adopt(p);
        id_of_.insert(k, id);
        key_of_.insert(id, k);
        update(k, [&](DownloadState& s) {
            s.repo = p.request.repo;
            s.file = p.request.file;
            s.revision = p.request.revision;
            s.sha256 = p.request.expected_sha256;
            s.size_bytes = p.bytes_total;
            s.downloading = true;
            s.paused = true;
            s.restored = true;
            s.bytes_done = p.bytes_done;
            s.bytes_total = p.bytes_total;
        });
        EG_LOG_INFO("library: {} ({}) has {} bytes from an earlier run; Resume continues", k.toStdString(),
                    p.request.revision.toStdString(), p.bytes_done);
    }
}

const DownloadState* DownloadCenter::state(const QString& key) const {
    const auto it = states_.constFind(key);
    return it == states_.constEnd() ? nullptr : &it.value();
}

QVariantMap DownloadCenter::downloads() const {
    if (variant_map_stale_) {
        variant_map_.clear();
        for (auto it = states_.cbegin(); it != states_.cend(); ++it) variant_map_.insert(it.key(), it->to_variant_map());
        variant_map_stale_ = false;
    }
    return variant_map_;
}

void DownloadCenter::setOnline(bool online) {
    if (online == online_ && online_known_) return;
    online_known_ = true;
    if (online == online_) {
        emit onlineChanged();  // (known now)
        return;
    }
    online_ = online;
    probed_since_offline_ = false;
    if (downloader_) online ? probe_timer_.stop() : probe_timer_.start();
    EG_LOG_INFO("library: {}", online ? "online" : "offline");
    emit onlineChanged();
}

void DownloadCenter::remove_state(const QString& key) {
    if (!states_.remove(key)) return;
    variant_map_stale_ = true;
    emit changed(key);
    emit downloadsChanged();
}

void DownloadCenter::forget_id(qint64 id) {
    const QString k = key_of_.take(id);
    if (!k.isEmpty() && id_of_.value(k) == id) id_of_.remove(k);
}

bool DownloadCenter::start(const QString& repo, const QString& revision, const QString& file, const QString& sha256,
                           qint64 size_bytes, const QString& what) {
    if (repo.isEmpty() || file.isEmpty()) return false;
    const QString k = key(repo, file);
    if (const DownloadState* s = state(k); s && s->downloading && !s->paused) return false;  // running
    if (!online_) {
        const QString name = what.isEmpty() ? QFileInfo(file).fileName() : what;
        update(k, [&](DownloadState& s) {
            s.repo = repo;
            s.file = file;
            s.error = QStringLiteral("Downloading %1 %2.").arg(name, needs_connection_text());
        });
        return false;
    }
    // A paused or failed download continues from its .part, as it was started.
    const qint64 existing = id_of_.value(k);
    update(k, [&](DownloadState& s) {
        s.repo = repo;
        s.file = file;
        if (!existing) {
            s.revision = revision.isEmpty() ? QStringLiteral("main") : revision;
            s.sha256 = sha256;
            s.size_bytes = size_bytes > 0 ? size_bytes : -1;
            s.bytes_done = 0;
            s.bytes_total = -1;
        }
        s.downloading = true;
        s.paused = false;
        s.restored = false;
        s.bytes_per_s = 0;
        s.error.clear();
        s.notice.clear();
        s.path.clear();
    });
    if (!downloader_) return true;
    if (existing) {
        if (!downloader_->is_running(existing)) downloader_->resume(existing);
        EG_LOG_INFO("library: continuing {} (download {})", k.toStdString(), existing);
        return true;
    }
    const DownloadState& s = states_[k];
    eg::library::DownloadRequest req;
    req.repo = repo;
    req.revision = s.revision;
    req.file = file;
    req.dest_dir = dest_dir_;
    req.expected_sha256 = s.sha256;
    req.expected_size_bytes = s.size_bytes;
    const qint64 id = downloader_->start(req);
    id_of_.insert(k, id);
    key_of_.insert(id, k);
    EG_LOG_INFO("library: downloading {} at {} (download {})", k.toStdString(), req.revision.toStdString(), id);
    return true;
}

void DownloadCenter::pause(const QString& key) {
    const DownloadState* s = state(key);
    if (!s || !s->downloading || s->paused) return;
    update(key, [](DownloadState& st) {
        st.paused = true;
        st.bytes_per_s = 0;
    });
    if (const qint64 id = id_of_.value(key); id && downloader_) downloader_->pause(id);
}

bool DownloadCenter::resume(const QString& key, const QString& what) {
    const DownloadState* s = state(key);
    if (!s || (s->downloading && !s->paused)) return false;
    // Copied: start() changes the state.
    const DownloadState was = *s;
    if (!online_) {
        const QString name = what.isEmpty() ? QFileInfo(was.file).fileName() : what;
        update(key, [&](DownloadState& st) {
            st.error = QStringLiteral("Resuming %1 %2.").arg(name, needs_connection_text());
        });
        return false;
    }
    return start(was.repo, was.revision, was.file, was.sha256, was.size_bytes, what);
}

void DownloadCenter::cancel(const QString& key) {
    if (!state(key)) return;
    EG_LOG_INFO("library: cancelling {}", key.toStdString());
    // The downloader deletes the .part (also one adopted from an earlier run) and reports back.
    if (const qint64 id = id_of_.value(key); id && downloader_) downloader_->cancel(id);
    else onCancelled(key);
}

void DownloadCenter::clear_error(const QString& key) {
    const DownloadState* s = state(key);
    if (!s || s->error.isEmpty()) return;
    update(key, [](DownloadState& st) { st.error.clear(); });
}

void DownloadCenter::forget_path(const QString& path) {
    QStringList gone;
    for (auto it = states_.cbegin(); it != states_.cend(); ++it)
        if (!it->downloading && it->path == path) gone << it.key();
    for (const QString& k : gone) remove_state(k);
}

QString DownloadCenter::needs_connection_text() { return QStringLiteral("needs a connection"); }

void DownloadCenter::onProgress(const QString& key, qint64 done_bytes, qint64 total_bytes, double bytes_per_s) {
    if (!state(key)) return;
    setOnline(true);  // bytes arrive: the network works
    update(key, [&](DownloadState& s) {
        s.downloading = true;
        s.bytes_done = done_bytes;
        if (total_bytes > 0) s.bytes_total = total_bytes;
        s.bytes_per_s = s.paused ? 0 : bytes_per_s;
        s.error.clear();
    });
}

void DownloadCenter::onPaused(const QString& key) {
    if (!state(key)) return;
    update(key, [](DownloadState& s) {
        s.paused = true;
        s.bytes_per_s = 0;
    });
}

void DownloadCenter::onNotice(const QString& key, const QString& message) {
    if (!state(key)) return;
    EG_LOG_INFO("library: {}: {}", key.toStdString(), message.toStdString());
    update(key, [&](DownloadState& s) { s.notice = message; });
}

void DownloadCenter::onFinished(const QString& key, const QString& path, const QString& sha256) {
    const DownloadState* s = state(key);
    if (!s) return;
    const QString abs = QFileInfo(path).absoluteFilePath();
    setOnline(true);
    EG_LOG_INFO("library: downloaded {} to {}", key.toStdString(), abs.toStdString());
    // Registered first, so that no row shows it neither downloading nor installed.
    const DownloadState was = *s;
    emit finished(was.repo, was.revision, was.file, abs, sha256);
    update(key, [&](DownloadState& st) {
        st.downloading = false;
        st.paused = false;
        st.restored = false;
        st.bytes_per_s = 0;
        st.error.clear();
        st.path = abs;
    });
}

void DownloadCenter::onFailed(const QString& key, const DownloadError& error) {
    if (!state(key)) return;
    EG_LOG_WARN("library: download of {} failed: {}", key.toStdString(), error.message.toStdString());
    update(key, [&](DownloadState& s) {
        s.downloading = false;
        s.paused = false;
        s.bytes_per_s = 0;
        s.error = error.message;
    });
    // The kind decides, not the words of the message.
    if (error.is_offline()) setOnline(false);
}

void DownloadCenter::onCancelled(const QString& key) { remove_state(key); }

}  // namespace eg::ui
