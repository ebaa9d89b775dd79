// FakeHfServer: an HTTP/1.1 server on 127.0.0.1 that answers like Hugging
// Face (resolve → 302 to a CDN path with X-Linked-Etag/Size, Range → 206,
// 401 for gated repos, 404, the two /api/models endpoints) and can inject the
// faults the downloader must survive: a dropped connection, an ignored Range,
// a wrong checksum, a throttled or stalled body.
#pragma once

#include <QByteArray>
#include <QHash>
#include <QList>
#include <QObject>
#include <QSet>
#include <QString>
#include <QTcpServer>

class QTcpSocket;

class FakeHfServer : public QObject {
    Q_OBJECT
public:
    struct Request {
        QByteArray method, path;
        QHash<QByteArray, QByteArray> headers;  // lower-case names
    };

    explicit FakeHfServer(QObject* parent = nullptr);
    ~FakeHfServer() override;
    bool listen(quint16 port = 0);  // on 127.0.0.1; 0: a random port
    QString endpoint() const;  // http://127.0.0.1:PORT
    quint16 port() const { return server_.serverPort(); }

    void add_file(const QString& repo, const QString& file, const QByteArray& bytes, qint64 downloads = 0);
    void set_gated(const QString& repo, const QByteArray& token) { gated_[repo] = token; }
    // /api/models/REPO[/revision/REV] answers with {"gguf": {"architecture": arch}},
    // as the Hub does for a repository of GGUF files.
    void set_gguf_architecture(const QString& repo, const QString& arch) { gguf_arch_[repo] = arch; }

    // Faults. Offsets are absolute positions in the file.
    void drop_at(qint64 offset) { drop_at_ = offset; }  // close the socket once the file was sent up to here; -1 off
    void set_ignore_range(bool on) { ignore_range_ = on; }
    void set_wrong_etag(bool on) { wrong_etag_ = on; }
    // The body goes out in chunk_bytes pieces every interval_ms (0 = at once).
    void set_throttle(qint64 chunk_bytes, int interval_ms) { chunk_bytes_ = chunk_bytes, interval_ms_ = interval_ms; }
    void set_stall_body(bool on) { stall_body_ = on; }  // headers, then silence
    // No X-Linked-Size and no Content-Length (the body ends when the socket closes).
    void set_hide_size(bool on) { hide_size_ = on; }

    QList<Request> requests;  // every request, in order
    int cdn_requests() const;
    QByteArray last_range() const;  // the Range header of the last CDN request

private:
    struct File {
        QString repo, file;
        QByteArray bytes;
        QByteArray sha256_hex;
        qint64 downloads = 0;
    };
    void on_ready_read(QTcpSocket* s);
    void handle(QTcpSocket* s, const Request& r);
    void reply(QTcpSocket* s, int status, const QByteArray& reason, const QList<QByteArray>& headers,
               const QByteArray& body);
    void serve_file(QTcpSocket* s, const Request& r, const File& f);
    void stream(QTcpSocket* s, QByteArray body, qint64 end_offset_exclusive_drop);

    QTcpServer server_;
    QList<File> files_;
    QHash<QString, QByteArray> gated_;
    QHash<QString, QString> gguf_arch_;
    QHash<QTcpSocket*, QByteArray> buffers_;
    qint64 drop_at_ = -1;
    bool ignore_range_ = false;
    bool wrong_etag_ = false;
    bool stall_body_ = false;
    bool hide_size_ = false;
    qint64 chunk_bytes_ = 0;
    int interval_ms_ = 0;
};
