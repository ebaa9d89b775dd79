#include "library/remote_engine.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkReply>
#include <QSaveFile>

#include "core/log.h"
#include "library/engine_metrics.h"

namespace eg::library {

struct RemoteEngine::Stream {
    QPointer<QNetworkReply> reply;
    QByteArray buffer;          // received, not yet a whole event
    QElapsedTimer since_sent;
    qint64 first_ns = -1, last_ns = -1;
    qint64 chunks = 0;          // text chunks seen
    RemoteStats stats;
    bool done = false;          // [DONE] seen
    bool ended = false;         // finished/failed emitted
};

RemoteEngine::RemoteEngine(const QUrl& base_url, const QString& api_key, QObject* parent)
    : QObject(parent), base_(base_url), key_(api_key) {
    qRegisterMetaType<eg::library::RemoteStats>();
}

QNetworkRequest RemoteEngine::request(const QString& path) const {
    QUrl url = base_;
    url.setPath(base_.path().endsWith(QLatin1Char('/')) ? base_.path() + path.mid(1) : base_.path() + path);
    QNetworkRequest r(url);
    r.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
    if (!key_.isEmpty()) r.setRawHeader("Authorization", "Bearer " + key_.toUtf8());
    r.setTransferTimeout(0);  // a reply may think for a long time between tokens
    return r;
}

// "the engine at URL answered 404: <its message>" or the network's sentence.
QString RemoteEngine::failure(QNetworkReply* reply, const QByteArray& body) const {
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status == 0) return tr("Cannot reach the engine at %1: %2").arg(base_.toString(), reply->errorString());
    QString message = QJsonDocument::fromJson(body).object().value(QStringLiteral("error")).toObject()
                          .value(QStringLiteral("message")).toString();
    if (message.isEmpty()) message = QString::fromUtf8(body.left(300)).trimmed();
    return tr("The engine at %1 answered %2: %3").arg(base_.toString()).arg(status).arg(message);
}

void RemoteEngine::listModels() {
    QNetworkReply* reply = nam_.get(request(QStringLiteral("/models")));
    connect(reply, &QNetworkReply::finished, this, [this, reply] {
        reply->deleteLater();
        const QByteArray body = reply->readAll();
        if (reply->error() != QNetworkReply::NoError) {
            emit listFailed(failure(reply, body));
            return;
        }
        QStringList ids;
        for (const QJsonValue m : QJsonDocument::fromJson(body).object().value(QStringLiteral("data")).toArray()) {
            const QJsonObject o = m.toObject();
            if (const QString id = o.value(QStringLiteral("id")).toString(); !id.isEmpty()) ids.push_back(id);
            if (owned_by_.isEmpty()) owned_by_ = o.value(QStringLiteral("owned_by")).toString().left(64);
        }
        if (ids.isEmpty()) emit listFailed(tr("The engine at %1 lists no models.").arg(base_.toString()));
        else emit modelsListed(ids);
    });
}

QUrl RemoteEngine::metricsUrl() const {
    QUrl url = base_;
    QString path = base_.path();
    while (path.endsWith(QLatin1Char('/'))) path.chop(1);
    if (path.endsWith(QLatin1String("/v1"))) path.chop(3);
    url.setPath(path + QStringLiteral("/metrics"));
    return url;
}

void RemoteEngine::fetchMetrics() {
    QNetworkRequest r(metricsUrl());
    if (!key_.isEmpty()) r.setRawHeader("Authorization", "Bearer " + key_.toUtf8());
    r.setTransferTimeout(10000);
    QNetworkReply* reply = nam_.get(r);
    connect(reply, &QNetworkReply::downloadProgress, reply, [reply](qint64 received, qint64) {
        if (received > kMaxMetricsBytes) reply->abort();
    });
    connect(reply, &QNetworkReply::finished, this, [this, reply] {
        reply->deleteLater();
        const QByteArray body = reply->readAll();
        if (reply->error() == QNetworkReply::OperationCanceledError)
            emit metricsFailed(tr("The metrics at %1 are larger than %2 MiB.")
                                   .arg(metricsUrl().toString())
                                   .arg(kMaxMetricsBytes >> 20));
        else if (reply->error() != QNetworkReply::NoError)
            emit metricsFailed(failure(reply, body));
        else
            emit metricsRead(body);
    });
}

qint64 RemoteEngine::chat(const QString& model, const std::vector<eg::ChatMessage>& messages,
                          const eg::GenerationSettings& settings) {
    QJsonArray msgs;
    if (!settings.system_prompt.empty())
        msgs.push_back(QJsonObject{{QStringLiteral("role"), QStringLiteral("system")},
                                   {QStringLiteral("content"), QString::fromStdString(settings.system_prompt)}});
    for (const auto& m : messages)
        msgs.push_back(QJsonObject{{QStringLiteral("role"), QString::fromStdString(m.role)},
                                   {QStringLiteral("content"), QString::fromStdString(m.content)}});
    // What OpenAI's API takes of the window's settings (top-k, min-p and the
    // repeat penalty are not part of it).
    QJsonObject body{{QStringLiteral("model"), model},
                     {QStringLiteral("messages"), msgs},
                     {QStringLiteral("stream"), true},
                     {QStringLiteral("stream_options"), QJsonObject{{QStringLiteral("include_usage"), true}}},
                     {QStringLiteral("temperature"), settings.temperature},
                     {QStringLiteral("top_p"), std::min(1.0, settings.top_p)}};
    if (settings.max_tokens > 0) body.insert(QStringLiteral("max_tokens"), (qint64)settings.max_tokens);
    if (settings.seed >= 0) body.insert(QStringLiteral("seed"), (qint64)settings.seed);

    const qint64 id = next_id_++;
    auto* s = new Stream;
    s->since_sent.start();
    s->reply = nam_.post(request(QStringLiteral("/chat/completions")), QJsonDocument(body).toJson(QJsonDocument::Compact));
    streams_.insert(id, s);
    connect(s->reply, &QNetworkReply::readyRead, this, [this, id] {
        if (Stream* st = streams_.value(id)) read_events(id, *st);
    });
    connect(s->reply, &QNetworkReply::finished, this, [this, id] { end(id); });
    return id;
}

void RemoteEngine::read_events(qint64 id, Stream& stream) {
    Stream* s = &stream;
    if (!s->reply) return;
    const int status = s->reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status >= 400) return;  // the error body is read whole in end()
    s->buffer += s->reply->readAll();
    s->buffer.replace("\r\n", "\n");
    qsizetype at;
    while ((at = s->buffer.indexOf("\n\n")) >= 0) {
        const QByteArray event = s->buffer.left(at);
        s->buffer.remove(0, at + 2);
        for (const QByteArray& line : event.split('\n')) {
            if (!line.startsWith("data:")) continue;  // event names, comments (": ping")
            const QByteArray data = line.mid(5).trimmed();
            if (data == "[DONE]") {
                s->done = true;
                continue;
            }
            const QJsonObject chunk = QJsonDocument::fromJson(data).object();
            if (const QJsonObject u = chunk.value(QStringLiteral("usage")).toObject(); !u.isEmpty()) {
                s->stats.prompt_tokens = u.value(QStringLiteral("prompt_tokens")).toInteger(-1);
                s->stats.completion_tokens = u.value(QStringLiteral("completion_tokens")).toInteger(0);
            }
            for (const QJsonValue c : chunk.value(QStringLiteral("choices")).toArray()) {
                const QJsonObject choice = c.toObject();
                const QString text =
                    choice.value(QStringLiteral("delta")).toObject().value(QStringLiteral("content")).toString();
                if (!text.isEmpty()) {
                    const qint64 now = s->since_sent.nsecsElapsed();
                    if (s->first_ns < 0) s->first_ns = now;
                    s->last_ns = now;
                    s->chunks++;
                    emit pieces(id, text);
                }
                if (const QString r = choice.value(QStringLiteral("finish_reason")).toString(); !r.isEmpty())
                    s->stats.finish_reason = r;
            }
        }
    }
}

void RemoteEngine::end(qint64 id) {
    Stream* s = streams_.take(id);
    if (!s) return;
    std::unique_ptr<Stream> owned(s);
    QNetworkReply* reply = s->reply;
    if (reply) reply->deleteLater();
    if (s->ended) return;
    s->ended = true;
    if (!s->stats.stopped && reply && reply->error() != QNetworkReply::NoError) {
        emit failed(id, failure(reply, reply->readAll()));
        return;
    }
    if (reply && !s->stats.stopped) read_events(id, *s);  // anything after the last readyRead
    if (s->stats.completion_tokens == 0) s->stats.completion_tokens = s->chunks;
    if (s->first_ns >= 0) s->stats.time_to_first_token_ms = (double)s->first_ns / 1e6;
    if (s->chunks > 1 && s->last_ns > s->first_ns)
        s->stats.decode_tokens_per_s = (double)(s->stats.completion_tokens - 1) * 1e9 / (double)(s->last_ns - s->first_ns);
    if (!s->stats.stopped && !s->done) {
        emit failed(id, tr("The engine at %1 ended the reply before it was complete.").arg(base_.toString()));
        return;
    }
    emit finished(id, s->stats);
}

void RemoteEngine::stop(qint64 id) {
    Stream* s = streams_.value(id);
    if (!s || !s->reply) return;
    s->stats.stopped = true;
    s->stats.finish_reason.clear();
    s->reply->abort();  // emits finished -> end()
}

eg::Status save_api_key(const QString& path, const QString& key) {
    if (key.trimmed().isEmpty()) return eg::Error{"the API key is empty"};
    if (!QDir().mkpath(QFileInfo(path).absolutePath()))
        return eg::Error{"cannot make the folder of " + path.toStdString()};
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly)) return eg::Error{"cannot write " + path.toStdString() + ": " + f.errorString().toStdString()};
    // Owner-only before a byte of the key is written.
    if (!f.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner))
        return eg::Error{"cannot make " + path.toStdString() + " private to its owner"};
    f.write(key.trimmed().toUtf8() + "\n");
    if (!f.commit()) return eg::Error{"cannot write " + path.toStdString() + ": " + f.errorString().toStdString()};
    return {};
}

eg::Result<QString> load_api_key(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return eg::Error{"cannot read " + path.toStdString() + ": " + f.errorString().toStdString()};
    if (f.permissions() & (QFileDevice::ReadGroup | QFileDevice::ReadOther | QFileDevice::WriteGroup | QFileDevice::WriteOther))
        return eg::Error{path.toStdString() + " can be read by other users: the key is not used (chmod 600 it)"};
    const QString key = QString::fromUtf8(f.readLine()).trimmed();
    if (key.isEmpty()) return eg::Error{path.toStdString() + " holds no key"};
    return key;
}

}  // namespace eg::library
