#include "library_wiring.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QUrl>
#include <QVariantMap>

#include "catalog_model.h"
#include "core/log.h"
#include "library/downloader.h"
#include "library/hub_client.h"
#include "library/model_registry.h"
#include "library/result_qt.h"
#include "model_list_model.h"

namespace eg::app {

using eg::library::DownloadRequest;
using eg::library::Downloader;
using eg::ui::CatalogModel;

LibraryWiring::LibraryWiring(eg::library::ModelRegistry& registry, Downloader& downloader, CatalogModel& catalog,
                             eg::ui::ModelListModel& models, const QString& models_dir, QObject* parent)
    : QObject(parent),
      registry_(registry),
      downloader_(downloader),
      catalog_(catalog),
      models_(models),
      models_dir_(models_dir) {
    // Requests from the library page → the downloader.
    connect(&catalog_, &CatalogModel::downloadRequested, this, &LibraryWiring::on_download_requested);
    connect(&catalog_, &CatalogModel::resumeRequested, this,
            [this](const QString& repo, const QString& revision, const QString& file, const QString& sha256,
                   qint64 size_bytes) { on_download_requested(repo, revision, file, sha256, size_bytes); });
    connect(&catalog_, &CatalogModel::pauseRequested, this,
            [this](const QString& repo, const QString&, const QString& file) {
                if (const qint64 id = id_of_.value(key(repo, file))) downloader_.pause(id);
            });
    connect(&catalog_, &CatalogModel::cancelRequested, this,
            [this](const QString& repo, const QString&, const QString& file) {
                if (const qint64 id = id_of_.value(key(repo, file))) downloader_.cancel(id);
            });

    // The downloader's reports → the rows.
    connect(&downloader_, &Downloader::progress, this,
            [this](qint64 id, qint64 done, qint64 total, double bytes_per_s, double) {
                const QString k = key_of_.value(id);
                if (k.isEmpty()) return;
                catalog_.setOnline(true);  // bytes arrive: the network works
                catalog_.onProgress(k, done, total, bytes_per_s);
                set_state(k, {{QStringLiteral("downloading"), true},
                              {QStringLiteral("paused"), false},
                              {QStringLiteral("error"), QString()},
                              {QStringLiteral("bytesDone"), done},
                              {QStringLiteral("bytesTotal"), total},
                              {QStringLiteral("progress"), total > 0 ? double(done) / double(total) : 0.0},
                              {QStringLiteral("progressText"), CatalogModel::progress_text(done, total, bytes_per_s)}});
            });
    connect(&downloader_, &Downloader::notice, this, [this](qint64 id, const QString& message) {
        const QString k = key_of_.value(id);
        if (k.isEmpty()) return;
        EG_LOG_INFO("library: {}: {}", k.toStdString(), message.toStdString());
        set_state(k, {{QStringLiteral("notice"), message}});
    });
    connect(&downloader_, &Downloader::paused, this, [this](qint64 id) {
        const QString k = key_of_.value(id);
        if (k.isEmpty()) return;
        const QVariantMap st = downloads_.value(k).toMap();
        const qint64 done = st.value(QStringLiteral("bytesDone")).toLongLong();
        const qint64 total = st.contains(QStringLiteral("bytesTotal")) ? st.value(QStringLiteral("bytesTotal")).toLongLong()
                                                                       : st.value(QStringLiteral("sizeBytes"), -1).toLongLong();
        set_state(k, {{QStringLiteral("paused"), true},
                      {QStringLiteral("progressText"),
                       QStringLiteral("Paused · %1").arg(CatalogModel::progress_text(done, total, 0))}});
    });
    connect(&downloader_, &Downloader::finished, this, &LibraryWiring::on_finished);
    connect(&downloader_, &Downloader::failed, this, &LibraryWiring::on_failed);
    connect(&downloader_, &Downloader::cancelled, this, [this](qint64 id) {
        const QString k = key_of_.value(id);
        forget(id);
        if (k.isEmpty()) return;
        catalog_.onCancelled(k);
        downloads_.remove(k);
        emit downloadsChanged();
    });

    // While offline, a light probe notices when the endpoint answers again.
    probe_timer_.setInterval(15000);
    connect(&probe_timer_, &QTimer::timeout, this, &LibraryWiring::probe);
    connect(&downloader_, &Downloader::reachable, this, [this] { catalog_.setOnline(true); });
    connect(&catalog_, &CatalogModel::onlineChanged, this, [this] {
        if (catalog_.online()) probe_timer_.stop();
        else probe_timer_.start();
    });

    refreshInstalled();
    restore_partial_downloads();
}

void LibraryWiring::restore_partial_downloads() {
    for (int row = 0; row < catalog_.count(); ++row) {
        const eg::ui::CatalogEntry& e = catalog_.entry(row);
        if (!catalog_.pathAt(row).isEmpty()) continue;
        DownloadRequest req;
        req.file = e.file;
        req.dest_dir = models_dir_;
        const QFileInfo part(Downloader::part_path_for(req));
        if (!part.isFile() || part.size() <= 0) continue;
        catalog_.onProgress(e.id, part.size(), e.size_bytes, 0);
        catalog_.pause(row);  // no download of this run is behind it: nothing to stop
        EG_LOG_INFO("library: {} has {} bytes from an earlier run; Resume continues", e.id.toStdString(), part.size());
    }

    // Downloads started from the Hugging Face search: the downloader reads the .part's sidecar.
    for (const eg::library::PartialDownload& p : downloader_.partial_downloads(models_dir_)) {
        const QString k = key(p.request.repo, p.request.file);
        if (catalog_.row_of(k) >= 0 || id_of_.contains(k)) continue;  // a catalog row: handled above
        const qint64 id = downloader_.adopt(p);
        id_of_.insert(k, id);
        key_of_.insert(id, k);
        revision_of_.insert(id, p.request.revision);
        const qint64 total = p.bytes_total;
        const qint64 done = p.bytes_done;
        set_state(k, {{QStringLiteral("downloading"), true},
                      {QStringLiteral("paused"), true},
                      {QStringLiteral("restored"), true},
                      {QStringLiteral("error"), QString()},
                      {QStringLiteral("notice"), QString()},
                      {QStringLiteral("revision"), p.request.revision},
                      {QStringLiteral("sha256"), p.request.expected_sha256},
                      {QStringLiteral("sizeBytes"), total},
                      {QStringLiteral("bytesDone"), done},
                      {QStringLiteral("bytesTotal"), total},
                      {QStringLiteral("progress"), total > 0 ? double(done) / double(total) : 0.0},
                      {QStringLiteral("progressText"),
                       QStringLiteral("Paused · %1").arg(CatalogModel::progress_text(done, total, 0))}});
        EG_LOG_INFO("library: {} ({}) has {} bytes from an earlier run; Resume continues", k.toStdString(),
                    p.request.revision.toStdString(), done);
    }
}

void LibraryWiring::on_download_requested(const QString& repo, const QString& revision, const QString& file,
                                          const QString& sha256, qint64 size_bytes) {
    const QString k = key(repo, file);
    // A paused or failed download continues from its .part.
    if (const qint64 existing = id_of_.value(k)) {
        if (!downloader_.is_running(existing)) {
            set_state(k, {{QStringLiteral("downloading"), true},
                          {QStringLiteral("paused"), false},
                          {QStringLiteral("error"), QString()},
                          {QStringLiteral("notice"), QString()}});
            downloader_.resume(existing);
        }
        return;
    }
    DownloadRequest req;
    req.repo = repo;
    req.revision = revision;
    req.file = file;
    req.dest_dir = models_dir_;
    req.expected_sha256 = sha256;
    req.expected_size_bytes = size_bytes;
    set_state(k, {{QStringLiteral("downloading"), true},
                  {QStringLiteral("paused"), false},
                  {QStringLiteral("restored"), false},
                  {QStringLiteral("error"), QString()},
                  {QStringLiteral("notice"), QString()},
                  {QStringLiteral("revision"), revision.isEmpty() ? QStringLiteral("main") : revision},
                  {QStringLiteral("sha256"), sha256},
                  {QStringLiteral("sizeBytes"), size_bytes},
                  {QStringLiteral("progressText"), QStringLiteral("Starting…")}});
    const qint64 id = downloader_.start(req);
    id_of_.insert(k, id);
    key_of_.insert(id, k);
    revision_of_.insert(id, revision.isEmpty() ? QStringLiteral("main") : revision);
    EG_LOG_INFO("library: downloading {} (download {})", k.toStdString(), id);
}

void LibraryWiring::on_finished(qint64 id, const QString& path, const QString& sha256) {
    const QString k = key_of_.value(id);
    const QString revision = revision_of_.value(id);
    forget(id);
    if (k.isEmpty()) return;
    catalog_.setOnline(true);
    const int row = catalog_.row_of(k);
    eg::library::InstalledModel m;
    m.path = QFileInfo(path).absoluteFilePath();
    m.source = QStringLiteral("huggingface");
    if (row >= 0) {
        m.repo = catalog_.entry(row).repo;
        m.file = catalog_.entry(row).file;
    } else {
        m.repo = k.section(QLatin1Char('/'), 0, 1);
        m.file = k.section(QLatin1Char('/'), 2);
    }
    m.revision = revision;
    m.size_bytes = QFileInfo(path).size();
    m.sha256 = sha256;
    m.added_at = QDateTime::currentDateTimeUtc();
    if (auto added = registry_.add(m); !added)
        EG_LOG_ERROR("library: cannot register {}: {}", path.toStdString(), added.message());
    else EG_LOG_INFO("library: installed {} as {}", k.toStdString(), path.toStdString());
    catalog_.onFinished(k, m.path);
    set_state(k, {{QStringLiteral("downloading"), false},
                  {QStringLiteral("paused"), false},
                  {QStringLiteral("error"), QString()},
                  {QStringLiteral("progressText"), QString()},
                  {QStringLiteral("path"), m.path}});
    refreshInstalled();
}

void LibraryWiring::on_failed(qint64 id, const eg::library::DownloadError& error) {
    const QString& message = error.message;
    const QString k = key_of_.value(id);
    if (k.isEmpty()) return;
    EG_LOG_WARN("library: download of {} failed: {}", k.toStdString(), message.toStdString());
    // The task stays in the downloader: a retry continues from its .part.
    catalog_.onFailed(k, message);
    set_state(k, {{QStringLiteral("downloading"), false},
                  {QStringLiteral("paused"), false},
                  {QStringLiteral("error"), message}});
    if (error.is_offline()) catalog_.setOnline(false);
}

void LibraryWiring::forget(qint64 id) {
    const QString k = key_of_.take(id);
    revision_of_.remove(id);
    if (!k.isEmpty() && id_of_.value(k) == id) id_of_.remove(k);
}

void LibraryWiring::refreshInstalled() {
    QStringList registered, outside;
    const QString cache = QDir(models_dir_).absolutePath();
    for (const eg::library::InstalledModel& m : registry_.list()) {
        if (!QFileInfo::exists(m.path)) continue;
        registered << m.path;
        if (QFileInfo(m.path).absolutePath() != cache) outside << m.path;
    }
    models_.setExtraPaths(outside);  // imported by reference: listed where they are
    models_.refresh();
    QStringList installed = registered;
    for (int i = 0; i < models_.count(); ++i)
        if (!installed.contains(models_.pathAt(i))) installed << models_.pathAt(i);
    catalog_.setInstalledPaths(installed);

    QVariantList list;
    const auto date_text = [](const QDateTime& d) {
        return d.isValid() ? d.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm")) : QString();
    };
    for (const eg::library::InstalledModel& m : registry_.list()) {
        const QFileInfo fi(m.path);
        list << QVariantMap{{QStringLiteral("id"), m.id},
                            {QStringLiteral("path"), m.path},
                            {QStringLiteral("name"), fi.fileName()},
                            {QStringLiteral("source"), m.source},
                            {QStringLiteral("repo"), m.repo},
                            {QStringLiteral("sizeBytes"), m.size_bytes},
                            {QStringLiteral("sizeText"), CatalogModel::size_text(m.size_bytes)},
                            {QStringLiteral("addedText"), date_text(m.added_at)},
                            {QStringLiteral("lastUsedText"), date_text(m.last_used_at)},
                            {QStringLiteral("exists"), fi.exists()},
                            {QStringLiteral("inModelsDir"), fi.absolutePath() == cache}};
    }
    installed_ = list;
    emit installedChanged();
}

void LibraryWiring::set_state(const QString& key, const QVariantMap& changes) {
    QVariantMap s = downloads_.value(key).toMap();
    for (auto it = changes.begin(); it != changes.end(); ++it) s.insert(it.key(), it.value());
    downloads_.insert(key, s);
    emit downloadsChanged();
}

bool LibraryWiring::downloadFile(const QString& repo, const QString& revision, const QString& file,
                                 const QString& sha256, qint64 sizeBytes) {
    const QString k = key(repo, file);
    if (repo.isEmpty() || file.isEmpty()) return false;
    if (const qint64 existing = id_of_.value(k); existing && downloader_.is_running(existing)) return false;
    if (!catalog_.online()) {
        set_state(k, {{QStringLiteral("error"), CatalogModel::needs_connection_text()}});
        return false;
    }
    on_download_requested(repo, revision.isEmpty() ? QStringLiteral("main") : revision, file, sha256.toLower(),
                          sizeBytes > 0 ? sizeBytes : -1);
    return true;
}

void LibraryWiring::cancelFile(const QString& repo, const QString& file) {
    const QString k = key(repo, file);
    if (const qint64 id = id_of_.value(k)) {
        downloader_.cancel(id);
        return;
    }
}

bool LibraryWiring::resumeFile(const QString& repo, const QString& file) {
    const QString k = key(repo, file);
    if (!downloads_.contains(k)) return false;
    const QVariantMap st = downloads_.value(k).toMap();
    if (const qint64 existing = id_of_.value(k); existing && downloader_.is_running(existing)) return false;
    if (!catalog_.online()) {
        set_state(k, {{QStringLiteral("error"), CatalogModel::needs_connection_text()}});
        return false;
    }
    on_download_requested(repo, st.value(QStringLiteral("revision")).toString(), file,
                          st.value(QStringLiteral("sha256")).toString(),
                          st.value(QStringLiteral("sizeBytes"), -1).toLongLong());
    return true;
}

void LibraryWiring::pauseFile(const QString& repo, const QString& file) {
    if (const qint64 id = id_of_.value(key(repo, file))) downloader_.pause(id);
}

QString LibraryWiring::removeModel(qint64 id, bool deleteFile) {
    const auto m = registry_.find(id);
    if (!m) return QStringLiteral("This model is no longer registered.");
    if (auto removed = registry_.remove(id, deleteFile); !removed) {
        const QString error =
            QStringLiteral("Cannot remove %1: %2").arg(QFileInfo(m->path).fileName(), eg::library::error_text(removed));
        EG_LOG_WARN("library: {}", error.toStdString());
        return error;
    }
    EG_LOG_INFO("library: removed {}{}", m->path.toStdString(), deleteFile ? " (file deleted)" : " (file kept)");
    for (auto it = downloads_.begin(); it != downloads_.end();) {
        if (it.value().toMap().value(QStringLiteral("path")).toString() == m->path) it = downloads_.erase(it);
        else ++it;
    }
    emit downloadsChanged();
    refreshInstalled();
    return {};
}

void LibraryWiring::markUsed(const QString& path) {
    const QUrl url(path);
    const QString p = QFileInfo(url.isLocalFile() ? url.toLocalFile() : path).absoluteFilePath();
    const auto m = registry_.find_by_path(p);
    if (!m || !registry_.touch_last_used(m->id)) return;
    refreshInstalled();
}

bool LibraryWiring::tokenSet() const { return !downloader_.token().isEmpty(); }

bool LibraryWiring::tokenFromEnvironment() const { return !qEnvironmentVariable("HF_TOKEN").trimmed().isEmpty(); }

QString LibraryWiring::setToken(const QString& token) {
    if (auto stored = downloader_.set_token(token.trimmed()); !stored) return eg::library::error_text(stored);
    EG_LOG_INFO("library: Hugging Face token {}", token.trimmed().isEmpty() ? "removed" : "stored");
    emit tokenChanged();
    return {};
}

QString LibraryWiring::importModel(const QString& file, bool copy) {
    const QUrl url(file);
    const QString path = url.isLocalFile() ? url.toLocalFile() : file;
    if (!path.endsWith(QStringLiteral(".gguf"), Qt::CaseInsensitive)) {
        set_import_error(QStringLiteral("%1 is not a .gguf file").arg(QFileInfo(path).fileName()));
        return import_error_;
    }
    const auto imported = registry_.import_file(
        path, copy ? eg::library::ImportMode::Copy : eg::library::ImportMode::Reference, models_dir_);
    if (!imported) {
        set_import_error(
            QStringLiteral("Cannot import %1: %2").arg(QFileInfo(path).fileName(), eg::library::error_text(imported)));
        EG_LOG_WARN("library: {}", import_error_.toStdString());
        return import_error_;
    }
    set_import_error(QString());
    refreshInstalled();
    const auto m = registry_.find(imported.value());
    EG_LOG_INFO("library: imported {}", (m ? m->path : path).toStdString());
    emit modelImported(m ? m->path : path);
    return {};
}

QUrl LibraryWiring::folderUrlOf(const QString& path) const {
    const QUrl url(path);
    const QString p = url.isLocalFile() ? url.toLocalFile() : path;
    return QUrl::fromLocalFile(QFileInfo(p).absolutePath());
}

void LibraryWiring::set_import_error(const QString& e) {
    if (e == import_error_) return;
    import_error_ = e;
    emit importErrorChanged();
}

void LibraryWiring::probe() { downloader_.probe(); }

// --- Hugging Face search ------------------------------------------------------

HubBridge::HubBridge(eg::library::HubClient& client, QObject* parent) : QObject(parent), client_(client) {
    using eg::library::HubClient;
    connect(&client_, &HubClient::searchFinished, this,
            [this](const QString&, const QList<eg::library::HubModel>& models) {
                QVariantList out;
                for (const auto& m : models)
                    out << QVariantMap{{QStringLiteral("repo"), m.repo},
                                       {QStringLiteral("downloads"), m.downloads},
                                       {QStringLiteral("likes"), m.likes}};
                results_ = out;
                emit resultsChanged();
                set_busy(false);
            });
    connect(&client_, &HubClient::filesListed, this,
            [this](const QString& repo, const QList<eg::library::HubFile>& files) {
                QVariantList out;
                for (const auto& f : files)
                    out << QVariantMap{{QStringLiteral("repo"), repo},
                                       {QStringLiteral("revision"), pending_revision_},
                                       {QStringLiteral("file"), f.path},
                                       {QStringLiteral("sizeBytes"), f.size_bytes},
                                       {QStringLiteral("sizeText"), CatalogModel::size_text(f.size_bytes)},
                                       {QStringLiteral("sha256"), f.sha256}};
                files_ = out;
                files_repo_ = repo;
                files_revision_ = pending_revision_;
                emit filesChanged();
                set_busy(false);
            });
    connect(&client_, &HubClient::failed, this, [this](const QString& message) {
        set_error(message);
        set_busy(false);
    });
}

void HubBridge::search(const QString& text) {
    set_error(QString());
    set_busy(true);
    client_.search(text);
}

void HubBridge::listFiles(const QString& repo, const QString& revision) {
    set_error(QString());
    set_busy(true);
    pending_revision_ = revision.trimmed().isEmpty() ? QStringLiteral("main") : revision.trimmed();
    client_.list_files(repo, pending_revision_);
}

void HubBridge::closeFiles() {
    files_.clear();
    files_repo_.clear();
    files_revision_.clear();
    emit filesChanged();
}

void HubBridge::set_busy(bool b) {
    if (b == busy_) return;
    busy_ = b;
    emit busyChanged();
}

void HubBridge::set_error(const QString& e) {
    if (e == error_) return;
    error_ = e;
    emit errorChanged();
}

}  // namespace eg::app
