// A remote engine: any OpenAI-compatible server (vLLM, SGLang, llama-server,
// llama-cpp-python's, another Engram Desktop) that the user points the app
// at. Lists its models and streams a chat reply from one, with Stop, and
// measures on our side what the window shows for local replies (time to
// first token, decode tokens/s). Nothing connects until asked. Its API key
// lives in a file only its owner can read (save_api_key), never in the
// settings or the log. The window reaches it through ui/src/remote_models.h.
#pragma once

#include <QHash>
#include <QNetworkAccessManager>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QStringList>
#include <QUrl>

#include <vector>

#include "chat/chat_template.h"
#include "core/result.h"
#include "runtime/generation_settings.h"

class QNetworkReply;

namespace eg::library {

// What one remote reply took, measured here.
struct RemoteStats {
    double time_to_first_token_ms = 0;  // request sent -> first text
    double decode_tokens_per_s = 0;     // (tokens - 1) over first -> last text
    qint64 prompt_tokens = -1;          // as the engine reports them (-1: it did not)
    qint64 completion_tokens = 0;       // the engine's count, else the text chunks seen
    QString finish_reason;              // the engine's ("stop", "length", ...); "" when stopped
    bool stopped = false;               // stop() ended it
};

class RemoteEngine : public QObject {
    Q_OBJECT
public:
    // base_url: the API root, e.g. http://gpu-box:8000/v1. api_key may be empty.
    RemoteEngine(const QUrl& base_url, const QString& api_key, QObject* parent = nullptr);
    QUrl baseUrl() const { return base_; }

    void listModels();  // -> modelsListed or listFailed
    // What the engine said it is in /v1/models' `owned_by` ("vllm", ...), after listModels.
    QString ownedBy() const { return owned_by_; }
    // Its Prometheus text at <root>/metrics (the API root without /v1) ->
    // metricsRead or metricsFailed. At most kMaxMetricsBytes are read.
    void fetchMetrics();
    QUrl metricsUrl() const;
    // One streamed reply; the returned id names its signals.
    qint64 chat(const QString& model, const std::vector<eg::ChatMessage>& messages,
                const eg::GenerationSettings& settings);
    // Ends reply `id` now (the connection is closed, so the engine stops too).
    void stop(qint64 id);

signals:
    void modelsListed(const QStringList& ids);
    void listFailed(const QString& error);
    void metricsRead(const QByteArray& text);
    void metricsFailed(const QString& error);
    void pieces(qint64 id, const QString& text);
    void finished(qint64 id, const eg::library::RemoteStats& stats);
    void failed(qint64 id, const QString& error);

private:
    struct Stream;
    QNetworkRequest request(const QString& path) const;
    QString failure(QNetworkReply* reply, const QByteArray& body) const;
    void read_events(qint64 id, Stream& s);
    void end(qint64 id);

    QUrl base_;
    QString key_;
    QString owned_by_;
    QNetworkAccessManager nam_;
    QHash<qint64, Stream*> streams_;
    qint64 next_id_ = 1;
};

// The key in `path`, readable and writable by its owner only (0600), written
// atomically; the folder is made when missing.
eg::Status save_api_key(const QString& path, const QString& key);
eg::Result<QString> load_api_key(const QString& path);

}  // namespace eg::library

Q_DECLARE_METATYPE(eg::library::RemoteStats)
