#include "fake_hf_server.h"

#include <QCryptographicHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>
#include <QTcpSocket>
#include <QTimer>
#include <QUrl>
#include <QUrlQuery>

#include <memory>

FakeHfServer::FakeHfServer(QObject* parent) : QObject(parent) {
    connect(&server_, &QTcpServer::newConnection, this, [this] {
        while (QTcpSocket* s = server_.nextPendingConnection()) {
            connect(s, &QTcpSocket::readyRead, this, [this, s] { on_ready_read(s); });
            connect(s, &QTcpSocket::disconnected, this, [this, s] {
                buffers_.remove(s);
                s->deleteLater();
            });
        }
    });
}

FakeHfServer::~FakeHfServer() {
    // The sockets are the QTcpServer's children; end them while buffers_ still exists.
    server_.close();
    for (QTcpSocket* s : server_.findChildren<QTcpSocket*>()) {
        s->disconnect(this);
        s->abort();
        delete s;
    }
}

bool FakeHfServer::listen(quint16 port) { return server_.listen(QHostAddress::LocalHost, port); }

QString FakeHfServer::endpoint() const { return QStringLiteral("http://127.0.0.1:%1").arg(server_.serverPort()); }

void FakeHfServer::add_file(const QString& repo, const QString& file, const QByteArray& bytes, qint64 downloads) {
    File f;
    f.repo = repo;
    f.file = file;
    f.bytes = bytes;
    f.sha256_hex = QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex();
    f.downloads = downloads;
    files_.push_back(f);
}

int FakeHfServer::cdn_requests() const {
    int n = 0;
    for (const Request& r : requests) n += r.path.startsWith("/cdn/");
    return n;
}

QByteArray FakeHfServer::last_range() const {
    for (auto it = requests.crbegin(); it != requests.crend(); ++it)
        if (it->path.startsWith("/cdn/")) return it->headers.value("range");
    return {};
}

void FakeHfServer::on_ready_read(QTcpSocket* s) {
    QByteArray& buf = buffers_[s];
    buf += s->readAll();
    if (buf.startsWith('\x16')) {
        // A TLS ClientHello: answer as a plain HTTP server does, so the handshake fails.
        s->write("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
        s->disconnectFromHost();
        buf.clear();
        return;
    }
    const int end = buf.indexOf("\r\n\r\n");
    if (end < 0) return;
    const QList<QByteArray> lines = buf.left(end).split('\n');
    buf.clear();
    Request r;
    const QList<QByteArray> first = lines.value(0).trimmed().split(' ');
    r.method = first.value(0);
    r.path = first.value(1);
    for (int i = 1; i < lines.size(); ++i) {
        const int colon = lines[i].indexOf(':');
        if (colon > 0) r.headers.insert(lines[i].left(colon).trimmed().toLower(), lines[i].mid(colon + 1).trimmed());
    }
    requests.push_back(r);
    handle(s, r);
}

void FakeHfServer::reply(QTcpSocket* s, int status, const QByteArray& reason, const QList<QByteArray>& headers,
                         const QByteArray& body) {
    QByteArray head = "HTTP/1.1 " + QByteArray::number(status) + ' ' + reason + "\r\n";
    for (const QByteArray& h : headers) head += h + "\r\n";
    head += "Content-Length: " + QByteArray::number(body.size()) + "\r\nConnection: close\r\n\r\n";
    s->write(head + body);
    s->disconnectFromHost();
}

void FakeHfServer::handle(QTcpSocket* s, const Request& r) {
    const QUrl url(QString::fromLatin1(r.path));
    // Decoded per segment where a segment may hold an encoded '/' (a revision).
    const QString raw = url.path(QUrl::FullyEncoded);
    const QString path = QUrl::fromPercentEncoding(raw.toLatin1());
    const QByteArray json_type = "Content-Type: application/json";
    if (path == QStringLiteral("/api/models")) {
        const QUrlQuery q(url);
        const QString search = q.queryItemValue(QStringLiteral("search"), QUrl::FullyDecoded);
        QJsonArray out;
        QSet<QString> seen;
        for (const File& f : files_) {
            if (seen.contains(f.repo) || !f.repo.contains(search, Qt::CaseInsensitive)) continue;
            seen.insert(f.repo);
            out.push_back(QJsonObject{{"_id", "x"}, {"id", f.repo}, {"modelId", f.repo}, {"downloads", f.downloads},
                                      {"likes", 7}, {"tags", QJsonArray{"gguf"}}});
        }
        return reply(s, 200, "OK", {json_type}, QJsonDocument(out).toJson(QJsonDocument::Compact));
    }
    if (path.startsWith(QStringLiteral("/api/models/")) && path.contains(QStringLiteral("/tree/"))) {
        const QString rest = raw.mid(12);
        const QString repo = QUrl::fromPercentEncoding(rest.left(rest.indexOf(QStringLiteral("/tree/"))).toLatin1());
        // HF answers 404 for a revision spread over several segments.
        const QString rev = rest.mid(rest.indexOf(QStringLiteral("/tree/")) + 6);
        if (rev.contains(u'/')) return reply(s, 404, "Not Found", {json_type}, R"({"error":"Invalid rev id"})");
        QJsonArray out;
        out.push_back(QJsonObject{{"type", "file"}, {"path", ".gitattributes"}, {"size", 1519}, {"oid", "abc"}});
        out.push_back(QJsonObject{{"type", "directory"}, {"path", "docs"}, {"size", 0}, {"oid", "def"}});
        bool any = false;
        for (const File& f : files_) {
            if (f.repo != repo) continue;
            any = true;
            out.push_back(QJsonObject{{"type", "file"},
                                      {"path", f.file},
                                      {"size", f.bytes.size()},
                                      {"oid", "0123456789abcdef0123456789abcdef01234567"},
                                      {"lfs", QJsonObject{{"oid", QString::fromLatin1(f.sha256_hex)},
                                                          {"size", f.bytes.size()},
                                                          {"pointerSize", 135}}}});
        }
        if (!any) return reply(s, 404, "Not Found", {json_type}, R"({"error":"Repository not found"})");
        return reply(s, 200, "OK", {json_type}, QJsonDocument(out).toJson(QJsonDocument::Compact));
    }
    if (path.startsWith(QStringLiteral("/api/models/"))) {
        // A model's own page: /api/models/REPO or /api/models/REPO/revision/REV.
        QString repo = path.mid(12);
        if (const int at = repo.indexOf(QStringLiteral("/revision/")); at > 0) repo = repo.left(at);
        const bool known = std::any_of(files_.cbegin(), files_.cend(), [&](const File& f) { return f.repo == repo; });
        if (!known) return reply(s, 404, "Not Found", {json_type}, R"({"error":"Repository not found"})");
        QJsonObject model{{"id", repo}, {"modelId", repo}, {"tags", QJsonArray{"gguf"}}};
        if (gguf_arch_.contains(repo))
            model["gguf"] = QJsonObject{{"total", 1000000}, {"architecture", gguf_arch_.value(repo)}, {"context_length", 2048}};
        return reply(s, 200, "OK", {json_type}, QJsonDocument(model).toJson(QJsonDocument::Compact));
    }
    const int resolve = raw.indexOf(QStringLiteral("/resolve/"));
    if (resolve > 0) {
        const QString repo = QUrl::fromPercentEncoding(raw.mid(1, resolve - 1).toLatin1());
        const QString rest = raw.mid(resolve + 9);  // rev/file, the revision one segment
        const QString file = QUrl::fromPercentEncoding(rest.mid(rest.indexOf(u'/') + 1).toLatin1());
        if (gated_.contains(repo) && r.headers.value("authorization") != "Bearer " + gated_.value(repo))
            return reply(s, 401, "Unauthorized", {"X-Error-Code: GatedRepo"},
                         "Access to model " + repo.toUtf8() + " is restricted.");
        for (const File& f : files_) {
            if (f.repo != repo || f.file != file) continue;
            const QByteArray etag =
                wrong_etag_ ? QCryptographicHash::hash("something else", QCryptographicHash::Sha256).toHex()
                            : f.sha256_hex;
            return reply(s, 302, "Found",
                         {"Location: /cdn/" + f.sha256_hex + "?X-Amz-Signature=x", "X-Linked-Etag: \"" + etag + '"',
                          hide_size_ ? QByteArray("X-Size: hidden") : "X-Linked-Size: " + QByteArray::number(f.bytes.size()),
                          "ETag: \"gitblob\""},
                         "Found. Redirecting");
        }
        return reply(s, 404, "Not Found", {"X-Error-Code: EntryNotFound"}, "Entry not found");
    }
    if (path.startsWith(QStringLiteral("/cdn/"))) {
        const QByteArray sha = path.mid(5).toLatin1();
        for (const File& f : files_)
            if (f.sha256_hex == sha) return serve_file(s, r, f);
    }
    reply(s, 404, "Not Found", {}, "not found");
}

void FakeHfServer::serve_file(QTcpSocket* s, const Request& r, const File& f) {
    qint64 start = 0;
    const QByteArray range = r.headers.value("range");
    if (!ignore_range_ && range.startsWith("bytes=") && range.endsWith('-'))
        start = range.mid(6, range.size() - 7).toLongLong();
    const qint64 total = f.bytes.size();
    if (start >= total && start > 0)
        return reply(s, 416, "Range Not Satisfiable", {"Content-Range: bytes */" + QByteArray::number(total)}, {});
    QByteArray head;
    if (start > 0)
        head = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes " + QByteArray::number(start) + '-' +
               QByteArray::number(total - 1) + '/' + QByteArray::number(total) + "\r\n";
    else
        head = "HTTP/1.1 200 OK\r\n";
    head += "Content-Type: application/octet-stream\r\nAccept-Ranges: bytes\r\n";
    if (!hide_size_) head += "Content-Length: " + QByteArray::number(total - start) + "\r\n";
    head += "Connection: close\r\n\r\n";
    s->write(head);
    if (stall_body_) return;  // headers only; the socket stays open and silent
    QByteArray body = f.bytes.mid(start);
    qint64 limit = body.size();
    if (drop_at_ > start) {
        limit = std::min<qint64>(limit, drop_at_ - start);
        drop_at_ = -1;  // one drop per request that reaches it
    }
    stream(s, body.left(limit), limit < body.size() ? limit : -1);
}

void FakeHfServer::stream(QTcpSocket* s, QByteArray body, qint64 dropped_at) {
    Q_UNUSED(dropped_at);
    if (chunk_bytes_ <= 0 || interval_ms_ <= 0) {
        s->write(body);
        s->disconnectFromHost();  // flushes, then closes: a short body reads as a dropped connection
        return;
    }
    auto* timer = new QTimer(s);
    auto sent = std::make_shared<qint64>(0);
    QPointer<QTcpSocket> sp(s);
    connect(timer, &QTimer::timeout, s, [chunk = chunk_bytes_, timer, sent, sp, body] {
        if (!sp) return;
        const QByteArray piece = body.mid(*sent, chunk);
        *sent += piece.size();
        sp->write(piece);
        if (*sent >= body.size()) {
            timer->stop();
            sp->disconnectFromHost();
        }
    });
    timer->start(interval_ms_);
}
