// HubClient: the two Hugging Face API calls the library browser needs —
// search GGUF repositories, and list a repository's .gguf files.
#pragma once

#include <QList>
#include <QNetworkAccessManager>
#include <QObject>
#include <QString>

#include "core/result.h"
#include "library/download_errors.h"

namespace eg::library {

struct HubModel {
    QString repo;  // "org/name"
    qint64 downloads = 0;
    qint64 likes = 0;
};

struct HubFile {
    QString path;         // inside the repo; a split model's first part
    qint64 size_bytes = 0;// a split model: all its parts listed together
    QString sha256;       // lfs.oid when the file is in LFS, else empty (a split model: part 1's)
    int parts = 1;        // a split model's parts (they download as one item)
};

// The JSON parsers, public so they can be tested on fixtures.
eg::Result<QList<HubModel>> parse_search_json(const QByteArray& json);
// .gguf entries only; a split model is one entry, its first part, when all its parts are listed.
eg::Result<QList<HubFile>> parse_tree_json(const QByteArray& json);

class HubClient : public QObject {
    Q_OBJECT
public:
    // `token` (may be empty) is sent as a Bearer token, for gated repos.
    explicit HubClient(QObject* parent = nullptr);
    void set_endpoint(const QString& endpoint);  // default: HF_ENDPOINT or https://huggingface.co
    void set_token(const QString& token) { token_ = token; }
    QString endpoint() const { return endpoint_; }

    void search(const QString& query);
    void list_files(const QString& repo, const QString& revision = QStringLiteral("main"));

signals:
    void searchFinished(const QString& query, const QList<eg::library::HubModel>& models);
    void filesListed(const QString& repo, const QList<eg::library::HubFile>& files);
    // Typed as a download's failure is: the kind (offline, DNS, not found...)
    // for code to react to, the sentence to show.
    void failed(const eg::library::DownloadError& error);

private:
    class QNetworkReply* get(const QString& path_and_query);
    QNetworkAccessManager nam_;
    QString endpoint_;
    QString token_;
};

}  // namespace eg::library
