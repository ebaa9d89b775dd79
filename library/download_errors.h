// How a download (or a Hub search or listing) failed: a kind that code reacts to (offline mode, for one)
// and the sentence the user reads, which names the cause (offline, DNS,
// gated, not found, TLS, stalled) so they know what to do.
#pragma once

#include <QMetaType>
#include <QNetworkReply>
#include <QString>

namespace eg::library {

struct DownloadError {
    enum class Kind {
        Offline,         // no connection to the endpoint (refused, network down)
        Dns,             // the host name does not resolve
        Gated,           // HTTP 401/403: licence not accepted, no token or a wrong one
        NotFound,        // HTTP 404
        RateLimited,     // HTTP 429
        Server,          // HTTP 5xx
        Http,            // another HTTP status
        Tls,             // the TLS handshake failed (certificate checks stay on)
        Proxy,           // the proxy refused, closed or wants credentials
        Stalled,         // no byte for the stall timeout, or no answer in time
        ConnectionLost,  // the connection ended mid-body; the bytes so far are kept
        Network,         // another transport failure
        Redirect,        // too many redirects, one without a Location, or https to http
        Resume,          // the server resumed at another offset than asked
        Disk,            // no space, not writable, or cannot move into place
        Checksum,        // the SHA-256 differs from the catalog's or the etag's
        InvalidFile,     // not a GGUF file the engine can open
        BadResponse,     // the Hub's answer could not be read (search, file listing)
        Unsupported,     // an architecture or quant type the engine does not run (said before any byte)
    };
    Kind kind = Kind::Network;
    QString message;

    // The endpoint cannot be reached at all: the window goes offline until it answers.
    bool is_offline() const { return kind == Kind::Offline || kind == Kind::Dns; }
};

// An HTTP status that ends a download (401/403/404/5xx...), for `what`
// ("repo/file at revision").
DownloadError http_status_error(int status, const QString& reason, const QString& what);

// A transport failure (no HTTP status): connection refused, host not found,
// TLS, timeouts, the connection lost mid-body.
DownloadError network_error(QNetworkReply::NetworkError code, const QString& host, const QString& detail);

}  // namespace eg::library

Q_DECLARE_METATYPE(eg::library::DownloadError)
