#include "library/download_errors.h"

namespace eg::library {

QString http_status_message(int status, const QString& reason, const QString& what) {
    if (status == 401 || status == 403)
        return QStringLiteral("this model is gated (HTTP %1): accept the licence on the model page and set a token "
                              "(HF_TOKEN or the token setting)")
            .arg(status);
    if (status == 404) return QStringLiteral("not found: %1 (HTTP 404)").arg(what);
    if (status == 429) return QStringLiteral("the server is rate-limiting requests (HTTP 429); try again later");
    if (status >= 500) return QStringLiteral("the server failed (HTTP %1 %2); try again later").arg(status).arg(reason);
    return QStringLiteral("the server answered HTTP %1 %2 for %3").arg(status).arg(reason, what);
}

QString network_error_message(QNetworkReply::NetworkError code, const QString& host, const QString& detail) {
    switch (code) {
    case QNetworkReply::ConnectionRefusedError:
        return QStringLiteral("offline: cannot connect to %1 (connection refused)").arg(host);
    case QNetworkReply::HostNotFoundError:
        return QStringLiteral("DNS failure: cannot resolve %1 (offline, or a wrong HF_ENDPOINT?)").arg(host);
    case QNetworkReply::TemporaryNetworkFailureError:
    case QNetworkReply::NetworkSessionFailedError:
        return QStringLiteral("offline: the network is unavailable (%1)").arg(detail);
    case QNetworkReply::TimeoutError:
        return QStringLiteral("stalled: %1 did not answer in time").arg(host);
    case QNetworkReply::RemoteHostClosedError:
        return QStringLiteral("the connection to %1 was lost; the bytes fetched so far are kept and the download "
                              "resumes from there")
            .arg(host);
    case QNetworkReply::SslHandshakeFailedError:
        return QStringLiteral("TLS failure talking to %1: %2 (certificate checks stay on)").arg(host, detail);
    case QNetworkReply::ProxyConnectionRefusedError:
    case QNetworkReply::ProxyConnectionClosedError:
    case QNetworkReply::ProxyNotFoundError:
    case QNetworkReply::ProxyTimeoutError:
    case QNetworkReply::ProxyAuthenticationRequiredError:
        return QStringLiteral("proxy failure: %1").arg(detail);
    default:
        return QStringLiteral("network error talking to %1: %2").arg(host, detail);
    }
}

QString human_bytes(qint64 bytes) {
    const char* units[] = {"B", "KB", "MB", "GB", "TB"};
    double v = double(bytes);
    int u = 0;
    while (v >= 1000.0 && u < 4) {
        v /= 1000.0;
        ++u;
    }
    if (u == 0) return QStringLiteral("%1 B").arg(bytes);
    return QStringLiteral("%1 %2").arg(v, 0, 'f', 1).arg(QLatin1String(units[u]));
}

}  // namespace eg::library
