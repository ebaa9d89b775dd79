#include "server/api_server.h"

#include <QAbstractHttpServer>
#include <QCryptographicHash>
#include <QDateTime>
#include <QElapsedTimer>
#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QPointer>
#include <QRandomGenerator>
#include <QTcpServer>
#include <QTcpSocket>

#include <cmath>
#include <mutex>

#include "core/log.h"
#include "server/anthropic_api.h"

namespace eg::server {

using json = nlohmann::ordered_json;
using HttpStatus = QHttpServerResponder::StatusCode;

namespace {

QByteArray dump(const json& j) {
    // Replies carry model text: invalid UTF-8 is replaced, never thrown over.
    const std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
    return QByteArray(s.data(), (qsizetype)s.size());
}

void send_json(QHttpServerResponder& r, int status, const json& body, const QByteArray& extra_key = {},
               const QByteArray& extra_value = {}) {
    const QByteArray b = dump(body);
    r.writeStatusLine(static_cast<HttpStatus>(status));
    r.writeHeader("Content-Type", "application/json");
    r.writeHeader("Content-Length", QByteArray::number(b.size()));
    if (!extra_key.isEmpty()) r.writeHeader(extra_key, extra_value);
    r.writeBody(b);
}

// Which API a request speaks, by its path: errors answer in its shape.
enum class Api { OpenAI, Anthropic };
Api api_of(QStringView path) {
    return path == QLatin1String("/v1/messages") || path.startsWith(QLatin1String("/v1/messages/")) ? Api::Anthropic
                                                                                                  : Api::OpenAI;
}
Api api_of(Endpoint e) { return e == Endpoint::Messages ? Api::Anthropic : Api::OpenAI; }
json error_body(const ApiError& e, Api api) { return api == Api::Anthropic ? anthropic_error_json(e) : error_json(e); }

void send_error(QHttpServerResponder& r, const ApiError& e, Api api, const QByteArray& extra_key = {},
                const QByteArray& extra_value = {}) {
    send_json(r, e.http_status, error_body(e, api), extra_key, extra_value);
}

std::string random_id(const char* prefix) {
    return prefix + QByteArray::number(QRandomGenerator::global()->generate64(), 16).toStdString();
}

std::string digest(std::string_view s) {
    const QByteArray d = QCryptographicHash::hash(QByteArrayView(s.data(), (qsizetype)s.size()),
                                                  QCryptographicHash::Sha256);
    return d.toStdString();
}

// Equal digests, compared in time that does not depend on where they differ.
bool same_digest(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < a.size(); ++i) diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

const char* method_name(QHttpServerRequest::Method m) {
    switch (m) {
        case QHttpServerRequest::Method::Get: return "GET";
        case QHttpServerRequest::Method::Post: return "POST";
        case QHttpServerRequest::Method::Put: return "PUT";
        case QHttpServerRequest::Method::Delete: return "DELETE";
        case QHttpServerRequest::Method::Head: return "HEAD";
        case QHttpServerRequest::Method::Options: return "OPTIONS";
        case QHttpServerRequest::Method::Patch: return "PATCH";
        default: return "?";
    }
}

}  // namespace

// Hands the engine thread's callbacks to the server's thread, and drops them
// once the server is gone (the engine may still be finishing a job).
class ApiServer::Relay {
public:
    explicit Relay(QObject* target) : target_(target) {}
    template <class F>
    void post(F&& f) {
        std::lock_guard lk(mu_);
        if (target_) QMetaObject::invokeMethod(target_, std::forward<F>(f), Qt::QueuedConnection);
    }
    void close() {
        std::lock_guard lk(mu_);
        target_ = nullptr;
    }

private:
    std::mutex mu_;
    QObject* target_;
};

// Qt HttpServer's request parsing and connection handling; every request
// goes to ApiServer::dispatch with a responder it may keep (streaming).
class ApiServer::Front : public QAbstractHttpServer {
public:
    explicit Front(ApiServer& s) : s_(s) {}

protected:
    bool handleRequest(const QHttpServerRequest& request, QTcpSocket* socket) override {
        s_.dispatch(request, makeResponder(request, socket));
        return true;
    }
    void missingHandler(const QHttpServerRequest& request, QTcpSocket* socket) override {
        QHttpServerResponder r = makeResponder(request, socket);
        send_error(r, ApiError{404, "Not found."}, api_of(request.url().path()));
    }

private:
    ApiServer& s_;
};

// Qt HttpServer 6.4 reads a whole body before a handler sees it. This
// listener looks at each request's head first: a Content-Length past the
// cap is answered 413 and the connection closed, without reading the body.
class ApiServer::GuardedTcpServer : public QTcpServer {
public:
    GuardedTcpServer(size_t max_body_bytes, QObject* parent) : QTcpServer(parent), max_body_(max_body_bytes) {}

protected:
    void incomingConnection(qintptr fd) override {
        auto* s = new QTcpSocket(this);
        if (!s->setSocketDescriptor(fd)) {
            delete s;
            return;
        }
        // Connected before Qt HttpServer's own slot, so it runs first.
        connect(s, &QTcpSocket::readyRead, s, [this, s] { guard(s); });
        addPendingConnection(s);
    }

private:
    void guard(QTcpSocket* s) {
        if (s->property("eg_refused").toBool()) {
            s->readAll();  // the rest of a refused body: dropped unparsed
            return;
        }
        const QByteArray head = s->peek(16 * 1024);
        const qsizetype end = head.indexOf("\r\n\r\n");
        const QByteArray lower = (end >= 0 ? head.left(end) : head).toLower();
        const qsizetype at = lower.indexOf("\r\ncontent-length:");
        if (at < 0) return;
        const qsizetype eol = lower.indexOf("\r\n", at + 2);
        if (eol < 0) return;
        bool ok = false;
        const qulonglong n = lower.mid(at + 17, eol - at - 17).trimmed().toULongLong(&ok);
        if (!ok || n <= max_body_) return;
        s->setProperty("eg_refused", true);
        s->readAll();
        const Api api = lower.startsWith("post /v1/messages") ? Api::Anthropic : Api::OpenAI;
        const QByteArray body = dump(error_body(ApiError{413,
                                                         "The request body is " + std::to_string(n) +
                                                             " bytes; this server takes at most " +
                                                             std::to_string(max_body_) + ".",
                                                         "invalid_request_error", "", "request_too_large"},
                                                api));
        s->write("HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\nConnection: close\r\n"
                 "Content-Length: " +
                 QByteArray::number(body.size()) + "\r\n\r\n" + body);
        s->disconnectFromHost();
    }
    size_t max_body_;
};

// One completion request between its arrival and its last byte.
struct ApiServer::Exchange {
    uint64_t n = 0;
    Endpoint endpoint = Endpoint::ChatCompletions;
    ReplyIds ids;
    bool stream = false, include_usage = false;
    bool count_tokens = false;  // /v1/messages/count_tokens: answers {"input_tokens"}
    std::unique_ptr<QHttpServerResponder> responder;
    QPointer<QTcpSocket> socket;
    QMetaObject::Connection on_disconnect;
    std::shared_ptr<eg::app::ServerJob> job;
    bool started = false, headers_sent = false, gone = false;
    size_t blocks = 0;        // Anthropic: content blocks opened so far
    bool text_open = false;   // Anthropic: a text block is open (the last)
    std::string text;  // the whole reply (stream: false, or tools offered)
    json tools = json::array();  // offered: the reply is held until it can be parsed into calls
    QElapsedTimer since_arrival;

    bool connected() const { return !gone && socket && socket->state() == QAbstractSocket::ConnectedState; }
    void write_chunk(const QByteArray& data) {
        responder->writeBody(QByteArray::number(data.size(), 16) + "\r\n" + data + "\r\n");
    }
    void event(const json& j) { write_chunk("data: " + dump(j) + "\n\n"); }
    // Anthropic's events are named by their type.
    void named(const json& j) {
        write_chunk("event: " + QByteArray::fromStdString(j.value("type", "")) + "\ndata: " + dump(j) + "\n\n");
    }
    void open_text() {
        named(block_start_event(blocks++, text_block("")));
        text_open = true;
    }
    void close_text() {
        if (text_open) named(block_stop_event(blocks - 1));
        text_open = false;
    }
};

ApiServer::ApiServer(eg::app::EngineWorker& worker, ServerOptions options, QObject* parent)
    : QObject(parent), worker_(worker), options_(std::move(options)), relay_(std::make_shared<Relay>(this)) {
    counters_.queue_limit = options_.limits.queue_limit;
    if (!options_.api_key.empty()) key_digest_ = digest(options_.api_key);
}

ApiServer::~ApiServer() {
    relay_->close();
    for (auto& [n, x] : live_) x->job->cancel.store(true);
}

eg::Status ApiServer::listen() {
    const QHostAddress& a = options_.address;
    if (!a.isLoopback() && options_.api_key.empty())
        return eg::Error{"serving on " + a.toString().toStdString() +
                         " would open the model to other machines: give an API key (--api-key-file FILE), or "
                         "serve on 127.0.0.1"};
    front_ = std::make_unique<Front>(*this);
    auto* tcp = new GuardedTcpServer(options_.limits.max_body_bytes, front_.get());
    if (!tcp->listen(a, options_.port))
        return eg::Error{"cannot listen on " + a.toString().toStdString() + ":" + std::to_string(options_.port) + ": " +
                         tcp->errorString().toStdString()};
    front_->bind(tcp);
    tcp_ = tcp;
    port_ = tcp->serverPort();
    EG_LOG_INFO("OpenAI-compatible server listening on {}{}", baseUrl().toStdString(),
                options_.api_key.empty() ? "" : " (API key required)");
    return {};
}

QString ApiServer::baseUrl() const {
    QString host = options_.address.toString();
    if (options_.address.protocol() == QAbstractSocket::IPv6Protocol) host = QLatin1Char('[') + host + QLatin1Char(']');
    return QStringLiteral("http://%1:%2/v1").arg(host).arg(port_);
}

void ApiServer::onModelLoaded(const QString& name, const QString&) { model_id_ = name; }
void ApiServer::onModelUnloaded() { model_id_.clear(); }

int ApiServer::retry_after_s() const {
    // The time the queue ahead would take at the mean request's length.
    const double s = mean_request_s_ * (double)pending() / 1.0;
    return (int)std::clamp(std::ceil(s), 1.0, 60.0);
}

void ApiServer::dispatch(const QHttpServerRequest& request, QHttpServerResponder&& responder) {
    const QString path = request.url().path();
    const auto method = request.method();
    const Api api = api_of(path);
    try {
        if (path == QLatin1String("/health")) {
            if (method != QHttpServerRequest::Method::Get) {
                send_error(responder, ApiError{405, "Use GET /health."}, api);
                return;
            }
            if (model_id_.isEmpty()) {
                send_json(responder, 503, json{{"status", "loading"}});
                return;
            }
            send_json(responder, 200,
                      json{{"status", "ok"},
                           {"model", model_id_.toStdString()},
                           {"running", counters_.running},
                           {"waiting", counters_.waiting}});
            return;
        }
        if (!key_digest_.empty()) {
            // OpenAI's clients send "Authorization: Bearer KEY", Anthropic's "x-api-key: KEY".
            const QByteArray auth = request.value("Authorization");
            const QByteArray x_api_key = request.value("x-api-key");
            const bool given_key = !x_api_key.isEmpty() || auth.startsWith("Bearer ");
            const std::string given =
                (!x_api_key.isEmpty() ? x_api_key : given_key ? auth.mid(7) : QByteArray()).trimmed().toStdString();
            if (!given_key || !same_digest(digest(given), key_digest_)) {
                send_error(responder,
                           ApiError{401,
                                    given_key ? "Incorrect API key provided."
                                              : "You didn't provide an API key. Give it in an Authorization header: "
                                                "'Authorization: Bearer YOUR_KEY', or in an 'x-api-key' header.",
                                    "invalid_request_error", "", "invalid_api_key"},
                           api, "WWW-Authenticate", "Bearer");
                return;
            }
        }
        const bool get = method == QHttpServerRequest::Method::Get;
        const bool post = method == QHttpServerRequest::Method::Post;
        if (path == QLatin1String("/v1/models") && get) {
            send_json(responder, 200, models_json(model_id_.toStdString(), QDateTime::currentSecsSinceEpoch()));
        } else if (path.startsWith(QLatin1String("/v1/models/")) && get) {
            const QString id = path.mid(11);
            if (model_id_.isEmpty() || id != model_id_) {
                send_error(responder,
                           ApiError{404, "The model '" + id.toStdString() + "' does not exist.", "invalid_request_error",
                                    "model", "model_not_found"},
                           api);
            } else {
                send_json(responder, 200, models_json(model_id_.toStdString(), QDateTime::currentSecsSinceEpoch())["data"][0]);
            }
        } else if (path == QLatin1String("/v1/chat/completions") && post) {
            complete(request, std::move(responder), Endpoint::ChatCompletions);
        } else if (path == QLatin1String("/v1/completions") && post) {
            complete(request, std::move(responder), Endpoint::Completions);
        } else if (path == QLatin1String("/v1/messages") && post) {
            complete(request, std::move(responder), Endpoint::Messages);
        } else if (path == QLatin1String("/v1/messages/count_tokens") && post) {
            complete(request, std::move(responder), Endpoint::Messages, /*count_tokens=*/true);
        } else if (path == QLatin1String("/metrics") && get) {
            const std::string text = prometheus_text(counters_, model_id_.toStdString(), worker_.live());
            responder.write(QByteArray::fromStdString(text), "text/plain; version=0.0.4; charset=utf-8");
        } else {
            const bool known = path == QLatin1String("/v1/models") || path == QLatin1String("/v1/chat/completions") ||
                               path == QLatin1String("/v1/completions") || path == QLatin1String("/v1/messages") ||
                               path == QLatin1String("/v1/messages/count_tokens") ||
                               path == QLatin1String("/metrics");
            send_error(responder, ApiError{known ? 405 : 404,
                                           std::string(known ? "Method not allowed: " : "Unknown request URL: ") +
                                               method_name(method) + " " + path.toStdString() + ".",
                                           "invalid_request_error", "", known ? "method_not_allowed" : "unknown_url"},
                       api);
        }
    } catch (const std::exception& e) {
        // A bug of ours, not the client's: said as such, and the server goes on.
        EG_LOG_ERROR("server: {} {} failed: {}", method_name(method), path.toStdString(), e.what());
        send_error(responder, ApiError{500, std::string("Internal error: ") + e.what(), "server_error"}, api);
    }
}

void ApiServer::complete(const QHttpServerRequest& request, QHttpServerResponder&& responder, Endpoint endpoint,
                         bool count_tokens) {
    const int e = endpoint_index(endpoint);
    const Api api = api_of(endpoint);
    auto facts = worker_.modelFacts();
    if (model_id_.isEmpty() || !facts) {
        send_error(responder, ApiError{503, "No model is loaded yet.", "server_error", "", "model_not_loaded"}, api);
        return;
    }
    const QByteArray body = request.body();
    const std::string_view text(body.constData(), (size_t)body.size());
    CompletionRequest req;
    if (auto err = endpoint == Endpoint::Messages ? parse_messages_request(text, options_.limits, req, count_tokens)
                                                  : parse_request(endpoint, text, options_.limits, facts->n_vocab, req)) {
        counters_.requests[e][ServerCounters::ClientError]++;
        send_error(responder, *err, api);
        return;
    }
    if (QString::fromStdString(req.model) != model_id_) {
        counters_.requests[e][ServerCounters::ClientError]++;
        send_error(responder, ApiError{404,
                                       "The model '" + req.model + "' does not exist. This server serves '" +
                                           model_id_.toStdString() + "'.",
                                       "invalid_request_error", "model", "model_not_found"},
                   api);
        return;
    }
    if (pending() >= options_.limits.queue_limit) {
        counters_.requests[e][ServerCounters::Rejected]++;
        const int retry = retry_after_s();
        send_error(responder,
                   ApiError{429,
                            "The server is busy: " + std::to_string(pending()) +
                                " requests are waiting or running. Retry after " + std::to_string(retry) + " s.",
                            "rate_limit_exceeded", "", "queue_full"},
                   api, "Retry-After", QByteArray::number(retry));
        return;
    }

    auto x = std::make_shared<Exchange>();
    x->n = next_id_++;
    x->endpoint = endpoint;
    x->ids = ReplyIds{random_id(endpoint == Endpoint::ChatCompletions ? "chatcmpl-"
                                : endpoint == Endpoint::Completions   ? "cmpl-"
                                                                      : "msg_"),
                      QDateTime::currentSecsSinceEpoch(), req.model};
    x->stream = req.stream;
    x->count_tokens = count_tokens;
    x->include_usage = req.include_usage;
    x->responder = std::make_unique<QHttpServerResponder>(std::move(responder));
    x->socket = x->responder->socket();
    x->since_arrival.start();

    auto job = std::make_shared<eg::app::ServerJob>();
    job->chat = endpoint != Endpoint::Completions;
    job->count_only = count_tokens;
    job->messages = std::move(req.messages);
    job->prompt = std::move(req.prompt);
    job->stop_sequences = std::move(req.stop);
    job->json_reply = req.json_reply;
    job->json_schema = std::move(req.json_schema);
    if (req.tool_choice != ToolChoice::None) {
        job->tools = req.tools;
        job->template_messages = template_messages(req.raw_messages);
        x->tools = req.tools;
        if (req.tool_choice == ToolChoice::Required || req.tool_choice == ToolChoice::Named) {
            // A forced call is sampled as JSON of the call's shape: it always parses.
            job->json_reply = true;
            job->json_schema = forced_call_schema(req.tools, req.tool_name);
        }
    }
    eg::GenerateOptions& o = job->options;
    o.max_tokens = req.max_tokens;
    o.sampling.temperature = (float)req.temperature;
    o.sampling.top_p = (float)req.top_p;
    o.sampling.top_k = (int)req.top_k;  // OpenAI's sampling has neither top-k nor min-p; Anthropic's has top-k
    o.sampling.min_p = 0.0f;
    o.sampling.repeat_penalty = 1.0f;
    o.sampling.presence_penalty = (float)req.presence_penalty;
    o.sampling.frequency_penalty = (float)req.frequency_penalty;
    o.sampling.seed = req.seed ? *req.seed : QRandomGenerator::global()->generate64();
    o.sampling.logit_bias = std::move(req.logit_bias);
    x->job = job;

    // The engine thread's callbacks come back here, in order.
    std::weak_ptr<Exchange> wx = x;
    std::shared_ptr<Relay> relay = relay_;
    job->on_start = [this, relay, wx] {
        relay->post([this, wx] {
            if (auto p = wx.lock()) on_start(*p);
        });
    };
    job->on_text = [this, relay, wx](const std::string& text) {
        relay->post([this, wx, text] {
            if (auto p = wx.lock()) on_text(*p, text);
        });
    };
    job->on_done = [this, relay, wx](const eg::app::ServerJob::Outcome& outcome) {
        relay->post([this, wx, outcome] {
            if (auto p = wx.lock()) on_done(p, outcome);
        });
    };
    // A client that leaves stops its job: at once when it runs, before it
    // starts when it waits.
    if (x->socket)
        x->on_disconnect = connect(x->socket, &QAbstractSocket::disconnected, this, [wx] {
            if (auto p = wx.lock()) {
                p->gone = true;
                p->job->cancel.store(true);
                EG_LOG_INFO("server: request {} cancelled, its client disconnected", p->n);
            }
        });

    live_[x->n] = x;
    counters_.waiting++;
    EG_LOG_INFO("server: request {} ({}, {} tokens at most{}) queued behind {}", x->n,
                endpoint == Endpoint::ChatCompletions ? "chat"
                : endpoint == Endpoint::Completions   ? "completion"
                : count_tokens                        ? "count_tokens"
                                                      : "messages",
                o.max_tokens,
                x->stream ? ", streamed" : "", pending() - 1);
    eg::app::EngineWorker* w = &worker_;
    QMetaObject::invokeMethod(w, [w, job] { w->serve(job); }, Qt::QueuedConnection);
}

void ApiServer::on_start(Exchange& x) {
    x.started = true;
    counters_.waiting--;
    counters_.running++;
}

void ApiServer::start_stream(Exchange& x) {
    if (x.headers_sent) return;
    x.headers_sent = true;
    QHttpServerResponder& r = *x.responder;
    r.writeStatusLine(HttpStatus::Ok);
    r.writeHeader("Content-Type", "text/event-stream");
    r.writeHeader("Cache-Control", "no-cache");
    r.writeHeader("Transfer-Encoding", "chunked");
    if (x.endpoint == Endpoint::Messages) {
        // The prompt's length is not known yet: message_delta's usage says it.
        x.named(message_start_event(x.ids, 0));
        x.named(ping_event());
    } else if (x.endpoint == Endpoint::ChatCompletions) {
        const std::string role = "assistant";
        x.event(chunk_json(x.endpoint, x.ids, &role, "", "", x.include_usage));
    }
}

void ApiServer::on_text(Exchange& x, const std::string& text) {
    if (!x.stream || !x.tools.empty()) {
        x.text += text;
        return;
    }
    if (!x.connected()) return;
    start_stream(x);
    if (x.endpoint == Endpoint::Messages) {
        if (!x.text_open) x.open_text();
        x.named(text_delta_event(x.blocks - 1, text));
        return;
    }
    x.event(chunk_json(x.endpoint, x.ids, nullptr, text, "", x.include_usage));
}

void ApiServer::on_done(const std::shared_ptr<Exchange>& xp, const eg::app::ServerJob::Outcome& out) {
    Exchange& x = *xp;
    const int e = endpoint_index(x.endpoint);
    if (x.started) counters_.running--;
    else counters_.waiting--;
    live_.erase(x.n);
    if (x.on_disconnect) disconnect(x.on_disconnect);
    if (!x.count_tokens) counters_.prompt_tokens += (uint64_t)out.prompt_tokens;
    counters_.completion_tokens += (uint64_t)out.completion_tokens;
    if (out.completion_tokens > 0) {
        counters_.ttft_seconds_sum += out.stats.time_to_first_token_ms / 1000.0;
        counters_.ttft_count++;
    }
    const double took_s = (double)x.since_arrival.elapsed() / 1000.0;
    mean_request_s_ = mean_request_s_ == 0 ? took_s : 0.8 * mean_request_s_ + 0.2 * took_s;

    if (x.gone || out.cancelled) {
        counters_.requests[e][ServerCounters::Cancelled]++;
        EG_LOG_INFO("server: request {} ended after {} tokens: cancelled", x.n, out.completion_tokens);
        if (x.connected() && x.headers_sent) x.write_chunk({});
        return;
    }
    if (!out.error.empty()) {
        const ApiError err = out.client_error
                                 ? ApiError{400, out.error, "invalid_request_error", "messages", "context_length_exceeded"}
                                 : ApiError{500, out.error, "server_error"};
        counters_.requests[e][out.client_error ? ServerCounters::ClientError : ServerCounters::Failed]++;
        EG_LOG_INFO("server: request {} failed: {}", x.n, out.error);
        if (!x.connected()) return;
        if (!x.headers_sent) {
            send_error(*x.responder, err, api_of(x.endpoint));
        } else if (x.endpoint == Endpoint::Messages) {
            x.named(anthropic_error_json(err));
            x.write_chunk({});
        } else {
            x.event(error_json(err));
            x.write_chunk("data: [DONE]\n\n");
            x.write_chunk({});
        }
        return;
    }
    counters_.requests[e][ServerCounters::Completed]++;
    EG_LOG_INFO("server: request {} done: {} prompt + {} completion tokens, {}", x.n, out.prompt_tokens,
                out.completion_tokens, out.finish_reason);
    if (!x.connected()) return;
    if (x.count_tokens) {
        send_json(*x.responder, 200, json{{"input_tokens", out.prompt_tokens}});
        return;
    }
    const Usage usage{out.prompt_tokens, out.completion_tokens};
    // With tools offered, the whole reply is parsed: calls, or text.
    ParsedReply parsed;
    if (!x.tools.empty()) {
        parsed = parse_tool_calls(x.text, x.tools);
        EG_LOG_INFO("server: request {}: {} tool calls", x.n, parsed.calls.size());
    } else {
        parsed.content = x.text;
    }
    if (x.endpoint == Endpoint::Messages) {
        finish_message(x, out, parsed);
        return;
    }
    json calls = json::array();
    std::string finish = out.finish_reason;
    for (const ToolCall& c : parsed.calls)
        calls.push_back({{"id", random_id("call_")},
                         {"type", "function"},
                         {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    if (!calls.empty()) finish = "tool_calls";
    if (!x.stream) {
        json j = completion_json(x.endpoint, x.ids, calls.empty() ? x.text : parsed.content, finish, usage);
        if (!calls.empty()) {
            json& msg = j["choices"][0]["message"];
            if (parsed.content.empty()) msg["content"] = nullptr;
            msg["tool_calls"] = calls;
        }
        send_json(*x.responder, 200, j);
        return;
    }
    start_stream(x);
    if (!x.tools.empty()) {
        // The held reply: its text, then its calls (each whole, with its index).
        const std::string& text = calls.empty() ? x.text : parsed.content;
        if (!text.empty()) x.event(chunk_json(x.endpoint, x.ids, nullptr, text, "", x.include_usage));
        for (size_t i = 0; i < calls.size(); ++i) {
            json c = chunk_json(x.endpoint, x.ids, nullptr, "", "", x.include_usage);
            json call = calls[i];
            call["index"] = i;
            c["choices"][0]["delta"]["tool_calls"] = json::array({call});
            x.event(c);
        }
    }
    x.event(chunk_json(x.endpoint, x.ids, nullptr, "", finish, x.include_usage));
    if (x.include_usage) x.event(usage_chunk_json(x.endpoint, x.ids, usage));
    x.write_chunk("data: [DONE]\n\n");
    x.write_chunk({});  // the last chunk of the body
}

// Anthropic's ending: the whole message, or the stream's last blocks (a
// held reply's text and tool_use blocks, each tool's input as one
// input_json_delta), message_delta with the stop reason and usage, and
// message_stop.
void ApiServer::finish_message(Exchange& x, const eg::app::ServerJob::Outcome& out, const ParsedReply& parsed) {
    const Usage usage{out.prompt_tokens, out.completion_tokens};
    const bool calls = !parsed.calls.empty();
    const std::string reason = anthropic_stop_reason(out.finish_reason, out.stop_sequence, calls);
    std::vector<std::string> ids;
    for (size_t i = 0; i < parsed.calls.size(); ++i) ids.push_back(random_id("toolu_"));
    if (!x.stream) {
        json content = json::array();
        if (!calls || !parsed.content.empty()) content.push_back(text_block(parsed.content));
        for (size_t i = 0; i < parsed.calls.size(); ++i) content.push_back(tool_use_block(ids[i], parsed.calls[i]));
        send_json(*x.responder, 200, message_json(x.ids, content, reason, out.stop_sequence, usage));
        return;
    }
    start_stream(x);
    if (!x.tools.empty()) {
        if (!calls || !parsed.content.empty()) {
            x.open_text();
            if (!parsed.content.empty()) x.named(text_delta_event(x.blocks - 1, parsed.content));
        }
        x.close_text();
        for (size_t i = 0; i < parsed.calls.size(); ++i) {
            const size_t at = x.blocks++;
            x.named(block_start_event(at, tool_use_block(ids[i], parsed.calls[i], /*empty_input=*/true)));
            x.named(input_json_delta_event(at, parsed.calls[i].arguments));
            x.named(block_stop_event(at));
        }
    } else {
        if (x.blocks == 0) x.open_text();  // an empty reply is still one (empty) text block
        x.close_text();
    }
    x.named(message_delta_event(reason, out.stop_sequence, usage));
    x.named(message_stop_event());
    x.write_chunk({});  // the last chunk of the body
}

}  // namespace eg::server
