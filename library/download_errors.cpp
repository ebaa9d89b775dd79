#include "library/download_errors.h"

namespace eg::library {

using Kind = DownloadError::Kind;

DownloadError http_status_error(int status, const QString& reason, const QString& what) {
    if (status == 401 || status == 403)
        return {Kind::Gated,
                QStringLiteral("this model is gated (HTTP %1): accept the licence on the model page and set a token "
                               "(HF_TOKEN or the token setting)")
                    .arg(status)};
    if (status == 404) return {Kind::NotFound, QStringLiteral("not found: %1 (HTTP 404)").arg(what)};
    if (status == 429)
        return {Kind::RateLimited,
                QStringLiteral("the server is rate-limiting requests (HTTP 429); try again later")};
    if (status >= 500)
        return {Kind::Server,
                QStringLiteral("the server failed (HTTP %1 %2); try again later").arg(status).arg(reason)};
    return {Kind::Http, QStringLiteral("the server answered HTTP %1 %2 for %3").arg(status).arg(reason, what)};
}

DownloadError network_error(QNetworkReply::NetworkError code, const QString& host, const QString& detail) {
    switch (code) {
    case QNetworkReply::ConnectionRefusedError:
        return {Kind::Offline, QStringLiteral("offline: cannot connect to %1 (connection refused)").arg(host)};
    case QNetworkReply::HostNotFoundError:
        return {Kind::Dns,
                QStringLiteral("DNS failure: cannot resolve %1 (offline, or a wrong HF_ENDPOINT?)").arg(host)};
    case QNetworkReply::TemporaryNetworkFailureError:
    case QNetworkReply::NetworkSessionFailedError:
        return {Kind::Offline, QStringLiteral("offline: the network is unavailable (%1)").arg(detail)};
    case QNetworkReply::TimeoutError:
        return {Kind::Stalled, QStringLiteral("stalled: %1 did not answer in time").arg(host)};
    case QNetworkReply::RemoteHostClosedError:
        return {Kind::ConnectionLost,
                QStringLiteral("the connection to %1 was lost; the bytes fetched so far are kept and the download "
                               "resumes from there")
                    .arg(host)};
    case QNetworkReply::SslHandshakeFailedError:
        return {Kind::Tls,
                QStringLiteral("TLS failure talking to %1: %2 (certificate checks stay on)").arg(host, detail)};
    case QNetworkReply::ProxyConnectionRefusedError:
    case QNetworkReply::ProxyConnectionClosedError:
    case QNetworkReply::ProxyNotFoundError:
    case QNetworkReply::ProxyTimeoutError:
    case QNetworkReply::ProxyAuthenticationRequiredError:
        return {Kind::Proxy, QStringLiteral("proxy failure: %1").arg(detail)};
    default:
        return {Kind::Network, QStringLiteral("network error talking to %1: %2").arg(host, detail)};
    }
}

}  // namespace eg::library
