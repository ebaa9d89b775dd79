// The sentences a failed download is reported with: each names the cause
// (offline, DNS, gated, not found, TLS, stalled) so the user knows what to do.
#pragma once

#include <QNetworkReply>
#include <QString>

namespace eg::library {

// An HTTP status that ends a download (401/403/404/5xx...), for `what`
// ("repo/file at revision").
QString http_status_message(int status, const QString& reason, const QString& what);

// A transport failure (no HTTP status): connection refused, host not found,
// TLS, timeouts, the connection lost mid-body.
QString network_error_message(QNetworkReply::NetworkError code, const QString& host, const QString& detail);

// "1.5 GB", "370.0 KB", "12 B" (decimal units, as disk tools show them).
QString human_bytes(qint64 bytes);

}  // namespace eg::library
