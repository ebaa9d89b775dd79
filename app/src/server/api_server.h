// The local OpenAI-compatible server: GET /v1/models, POST
// /v1/chat/completions and /v1/completions (streamed as server-sent events
// or whole), Anthropic's POST /v1/messages (anthropic_api.h) through the same
// queue (and its POST /v1/messages/count_tokens), GET /health and GET /metrics, over Qt HttpServer on this
// (the GUI's or the headless main) thread. Generation is the EngineWorker's:
// each request becomes a ServerJob queued on the engine thread behind the
// window's own replies, first come first served; past Limits::queue_limit
// requests a new one gets a 429. A client that disconnects cancels its job.
#pragma once

#include <QHostAddress>
#include <QObject>
#include <QString>

#include <map>
#include <memory>
#include <string>

#include "core/result.h"
#include "engine_worker.h"
#include "server/metrics.h"
#include "server/openai_api.h"

class QHttpServerRequest;
class QHttpServerResponder;
class QTcpServer;

namespace eg::server {

struct ServerOptions {
    QHostAddress address = QHostAddress(QHostAddress::LocalHost);
    quint16 port = 8080;   // 0: any free port (port() says which)
    std::string api_key;   // "": none (allowed on a loopback address only)
    Limits limits;
};

class ApiServer : public QObject {
    Q_OBJECT
public:
    ApiServer(eg::app::EngineWorker& worker, ServerOptions options, QObject* parent = nullptr);
    ~ApiServer() override;

    // Starts listening. Fails with a sentence when the address is not a
    // loopback one and there is no API key, or the port cannot be bound.
    eg::Status listen();
    quint16 port() const { return port_; }
    QString baseUrl() const;  // http://host:port/v1

    // Requests waiting or running now.
    int pending() const { return counters_.running + counters_.waiting; }

public slots:
    // Follows the worker: which model is served (none until one is loaded).
    void onModelLoaded(const QString& name, const QString& path);
    void onModelUnloaded();

private:
    struct Exchange;
    class Front;
    class GuardedTcpServer;
    class Relay;
    friend class Front;
    void dispatch(const QHttpServerRequest& request, QHttpServerResponder&& responder);
    // count_tokens (Messages only): the prompt is rendered and counted, nothing generated.
    void complete(const QHttpServerRequest& request, QHttpServerResponder&& responder, Endpoint endpoint,
                  bool count_tokens = false);
    void on_start(Exchange& x);
    void on_text(Exchange& x, const std::string& text);
    void on_done(const std::shared_ptr<Exchange>& x, const eg::app::ServerJob::Outcome& outcome);
    void start_stream(Exchange& x);
    void finish_message(Exchange& x, const eg::app::ServerJob::Outcome& out, const ParsedReply& parsed);
    int retry_after_s() const;

    eg::app::EngineWorker& worker_;
    ServerOptions options_;
    std::unique_ptr<Front> front_;
    QTcpServer* tcp_ = nullptr;  // owned by front_
    std::shared_ptr<Relay> relay_;
    quint16 port_ = 0;
    QString model_id_;
    ServerCounters counters_;
    uint64_t next_id_ = 1;
    std::string key_digest_;  // SHA-256 of the API key
    std::map<uint64_t, std::shared_ptr<Exchange>> live_;  // requests queued or running
    double mean_request_s_ = 0;  // of finished requests, for Retry-After
};

}  // namespace eg::server
