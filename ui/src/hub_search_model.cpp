#include "hub_search_model.h"

#include <QVariantMap>

#include "download_center.h"
#include "format.h"
#include "library/hub_client.h"

namespace eg::ui {

using eg::library::HubClient;

HubSearchModel::HubSearchModel(HubClient& client, DownloadCenter* downloads, QObject* parent)
    : QObject(parent), client_(client), downloads_(downloads) {
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
                                       {QStringLiteral("sizeText"), format_bytes(f.size_bytes)},
                                       {QStringLiteral("sha256"), f.sha256}};
                files_ = out;
                files_repo_ = repo;
                files_revision_ = pending_revision_;
                emit filesChanged();
                set_busy(false);
            });
    connect(&client_, &HubClient::failed, this, [this](const eg::library::DownloadError& e) {
        // A search that cannot reach the Hub is as offline as a download that cannot.
        if (downloads_ && e.is_offline()) downloads_->setOnline(false);
        set_error(e.message);
        set_busy(false);
    });
}

void HubSearchModel::search(const QString& text) {
    set_error(QString());
    set_busy(true);
    client_.search(text);
}

void HubSearchModel::listFiles(const QString& repo, const QString& revision) {
    set_error(QString());
    set_busy(true);
    pending_revision_ = revision.trimmed().isEmpty() ? QStringLiteral("main") : revision.trimmed();
    client_.list_files(repo, pending_revision_);
}

void HubSearchModel::closeFiles() {
    files_.clear();
    files_repo_.clear();
    files_revision_.clear();
    emit filesChanged();
}

void HubSearchModel::set_busy(bool b) {
    if (b == busy_) return;
    busy_ = b;
    emit busyChanged();
}

void HubSearchModel::set_error(const QString& e) {
    if (e == error_) return;
    error_ = e;
    emit errorChanged();
}

}  // namespace eg::ui
