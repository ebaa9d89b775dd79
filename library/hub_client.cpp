#include "library/hub_client.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkProxyFactory>
#include <QNetworkReply>
#include <QUrlQuery>

#include <optional>

#include "library/download_errors.h"
#include "library/gguf_check.h"
#include "store/result_qt.h"

namespace eg::library {

eg::Result<QList<HubModel>> parse_search_json(const QByteArray& json) {
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &pe);
    QList<HubModel> out;
    if (!doc.isArray()) return to_error(QStringLiteral("unexpected search answer: %1").arg(pe.errorString()));
    for (const QJsonValue& v : doc.array()) {
        const QJsonObject o = v.toObject();
        HubModel m;
        m.repo = o.value(QStringLiteral("id")).toString();
        if (m.repo.isEmpty()) m.repo = o.value(QStringLiteral("modelId")).toString();
        m.downloads = o.value(QStringLiteral("downloads")).toInteger();
        m.likes = o.value(QStringLiteral("likes")).toInteger();
        if (!m.repo.isEmpty()) out.push_back(m);
    }
    return out;
}

eg::Result<QList<HubFile>> parse_tree_json(const QByteArray& json) {
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &pe);
    QList<HubFile> out;
    if (!doc.isArray()) return to_error(QStringLiteral("unexpected file listing: %1").arg(pe.errorString()));
    for (const QJsonValue& v : doc.array()) {
        const QJsonObject o = v.toObject();
        if (o.value(QStringLiteral("type")).toString() != QStringLiteral("file")) continue;
        HubFile f;
        f.path = o.value(QStringLiteral("path")).toString();
        if (!f.path.endsWith(QStringLiteral(".gguf"), Qt::CaseInsensitive)) continue;
        f.size_bytes = o.value(QStringLiteral("size")).toInteger();
        const QJsonObject lfs = o.value(QStringLiteral("lfs")).toObject();
        f.sha256 = lfs.value(QStringLiteral("oid")).toString();
        if (lfs.contains(QStringLiteral("size"))) f.size_bytes = lfs.value(QStringLiteral("size")).toInteger();
        out.push_back(f);
    }
    // A split model is one item: its first part stands for all of them.
    QList<HubFile> grouped;
    for (const HubFile& f : std::as_const(out)) {
        if (is_later_split_part(f.path)) continue;
        HubFile g = f;
        const QStringList parts = model_files(f.path);
        if (parts.size() > 1) {
            qint64 total = 0;
            int found = 0;
            for (const HubFile& p : std::as_const(out))
                if (parts.contains(p.path)) total += p.size_bytes, ++found;
            if (found != parts.size()) continue;  // an incomplete split model cannot be run
            g.size_bytes = total;
            g.parts = int(parts.size());
        }
        grouped.push_back(g);
    }
    return grouped;
}

HubClient::HubClient(QObject* parent) : QObject(parent) {
    QNetworkProxyFactory::setUseSystemConfiguration(true);
    const QString env = qEnvironmentVariable("HF_ENDPOINT");
    set_endpoint(env.isEmpty() ? QStringLiteral("https://huggingface.co") : env);
}

void HubClient::set_endpoint(const QString& endpoint) {
    endpoint_ = endpoint;
    while (endpoint_.endsWith(u'/')) endpoint_.chop(1);
}

QNetworkReply* HubClient::get(const QString& path_and_query) {
    QNetworkRequest request(QUrl(endpoint_ + path_and_query));
    request.setHeader(QNetworkRequest::UserAgentHeader, QStringLiteral("engram-desktop"));
    request.setTransferTimeout(30000);
    if (!token_.isEmpty()) request.setRawHeader("Authorization", "Bearer " + token_.toUtf8());
    return nam_.get(request);
}

namespace {
// None when the reply is a usable 200; else why not.
std::optional<DownloadError> reply_problem(QNetworkReply* r, const QString& what) {
    const int status = r->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status >= 400)
        return http_status_error(status, r->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toString(), what);
    if (r->error() != QNetworkReply::NoError) return network_error(r->error(), r->url().host(), r->errorString());
    return std::nullopt;
}

DownloadError bad_response(const QString& why) { return {DownloadError::Kind::BadResponse, why}; }
}  // namespace

void HubClient::search(const QString& query) {
    QUrlQuery q;
    q.addQueryItem(QStringLiteral("search"), query);
    q.addQueryItem(QStringLiteral("filter"), QStringLiteral("gguf"));
    q.addQueryItem(QStringLiteral("sort"), QStringLiteral("downloads"));
    q.addQueryItem(QStringLiteral("direction"), QStringLiteral("-1"));
    q.addQueryItem(QStringLiteral("limit"), QStringLiteral("50"));
    QNetworkReply* r = get(QStringLiteral("/api/models?") + q.toString(QUrl::FullyEncoded));
    connect(r, &QNetworkReply::finished, this, [this, r, query] {
        r->deleteLater();
        if (const auto problem = reply_problem(r, QStringLiteral("search \"%1\"").arg(query)))
            return emit failed(*problem);
        const auto models = parse_search_json(r->readAll());
        if (!models) return emit failed(bad_response(error_text(models)));
        emit searchFinished(query, models.value());
    });
}

void HubClient::list_files(const QString& repo, const QString& revision) {
    // A revision is one path segment: "refs/pr/1" goes as refs%2Fpr%2F1.
    QNetworkReply* r = get(QStringLiteral("/api/models/%1/tree/%2")
                               .arg(repo, QString::fromLatin1(QUrl::toPercentEncoding(revision))));
    connect(r, &QNetworkReply::finished, this, [this, r, repo, revision] {
        r->deleteLater();
        if (const auto problem = reply_problem(r, QStringLiteral("%1 at revision %2").arg(repo, revision)))
            return emit failed(*problem);
        const auto files = parse_tree_json(r->readAll());
        if (!files) return emit failed(bad_response(error_text(files)));
        emit filesListed(repo, files.value());
    });
}

}  // namespace eg::library
