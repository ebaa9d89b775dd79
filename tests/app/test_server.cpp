// The local OpenAI-compatible server (app/src/server), as its users meet it:
// the real `engram-desktop --serve` on a loopback port with the default
// model, driven by real clients — the official `openai` and `anthropic`
// Python packages (in the venv scripts/client-env.sh makes) and curl. Each claim is what a user
// of the API would check: the reply, its usage, its SSE framing, its errors,
// that a client who leaves frees the engine, that a full queue says when to
// come back, that an API key is enforced.
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryFile>
#include <QTemporaryDir>
#include <QtTest>

#include <memory>
#include <vector>

#include "test_env.h"

#ifndef EG_DESKTOP_PATH
#define EG_DESKTOP_PATH ""
#endif

namespace {

const QString kModelId = QStringLiteral("SmolLM2-135M-Instruct.Q4_1");
// SmolLM2's <|endoftext|>, <|im_start|>, <|im_end|>: banned, a reply runs to max_tokens.
const char* kNoEnd = "\"logit_bias\":{\"0\":-100,\"1\":-100,\"2\":-100}";

QString client_python() {
    return QString::fromStdString(eg_test::cache_dir()) + QStringLiteral("/clientenv/bin/python");
}

// One `engram-desktop --serve` on a free loopback port, with its own data dir.
class Server {
public:
    bool start(const QStringList& extra = {}, QString* why = nullptr) {
        QStringList args = {QStringLiteral("--serve"), QStringLiteral("--port"), QStringLiteral("0"),
                            QStringLiteral("--data-dir"), dir_.path(), QStringLiteral("--model"),
                            QString::fromStdString(eg_test::default_model_path())};
        args += extra;
        p_.setProcessChannelMode(QProcess::SeparateChannels);
        p_.start(QStringLiteral(EG_DESKTOP_PATH), args);
        if (!p_.waitForStarted(30000)) {
            if (why) *why = p_.errorString();
            return false;
        }
        // "listening on URL", then "serving MODEL at URL" once the model is in.
        QString out;
        static const QRegularExpression serving(QStringLiteral("serving \\S+ at (http://\\S+)"));
        while (p_.state() == QProcess::Running) {
            p_.waitForReadyRead(1000);
            out += QString::fromUtf8(p_.readAllStandardOutput());
            const auto m = serving.match(out);
            if (m.hasMatch()) {
                base_ = m.captured(1);
                return true;
            }
        }
        if (why) *why = out + QString::fromUtf8(p_.readAllStandardError());
        return false;
    }
    // Exit code of a server that was expected to refuse to start.
    int refusal(const QStringList& extra, QString* err) {
        QStringList args = {QStringLiteral("--serve"), QStringLiteral("--port"), QStringLiteral("0"),
                            QStringLiteral("--data-dir"), dir_.path()};
        p_.start(QStringLiteral(EG_DESKTOP_PATH), args + extra);
        if (!p_.waitForFinished(60000)) return -1;
        *err = QString::fromUtf8(p_.readAllStandardError());
        return p_.exitCode();
    }
    ~Server() {
        if (p_.state() != QProcess::NotRunning) {
            p_.terminate();
            if (!p_.waitForFinished(30000)) p_.kill();
            p_.waitForFinished(5000);
        }
    }
    QString base() const { return base_; }  // http://127.0.0.1:PORT/v1
    QString root() const { return base_.chopped(3); }
    QString dataDir() const { return dir_.path(); }

private:
    QTemporaryDir dir_;
    QProcess p_;
    QString base_;
};

struct Reply {
    int exit_code = -1;
    QByteArray out, err;
};

Reply run(const QString& program, const QStringList& args, int timeout_ms = 600000) {
    QProcess p;
    p.start(program, args);
    Reply r;
    if (!p.waitForFinished(timeout_ms)) {
        p.kill();
        p.waitForFinished(5000);
        return r;
    }
    r.exit_code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

// curl: -i puts the status line and headers before the body.
Reply curl(const QStringList& args) {
    return run(QStringLiteral("curl"), QStringList{QStringLiteral("-sS"), QStringLiteral("--max-time"),
                                                    QStringLiteral("600")} + args);
}
// The body goes through a file: a command line argument holds 128 KiB at most.
Reply post(const QString& url, const QByteArray& body, const QStringList& extra = {}) {
    QTemporaryFile f;
    if (!f.open()) return {};
    f.write(body);
    f.flush();
    return curl(QStringList{QStringLiteral("-i"), QStringLiteral("-H"), QStringLiteral("Content-Type: application/json"),
                            QStringLiteral("--data-binary"), QLatin1Char('@') + f.fileName(), url} + extra);
}

// The status code and body of an `curl -i` reply.
int status_of(const QByteArray& raw) {
    static const QRegularExpression re(QStringLiteral("^HTTP/1\\.1 (\\d{3})"));
    const auto m = re.match(QString::fromUtf8(raw));
    return m.hasMatch() ? m.captured(1).toInt() : -1;
}
QByteArray body_of(const QByteArray& raw) {
    const qsizetype at = raw.indexOf("\r\n\r\n");
    return at < 0 ? QByteArray() : raw.mid(at + 4);
}
QByteArray header_of(const QByteArray& raw, const QByteArray& name) {
    const qsizetype end = raw.indexOf("\r\n\r\n");
    for (const QByteArray& line : raw.left(end).split('\n')) {
        const qsizetype colon = line.indexOf(':');
        if (colon > 0 && line.left(colon).trimmed().toLower() == name.toLower()) return line.mid(colon + 1).trimmed();
    }
    return {};
}
QJsonObject json_of(const QByteArray& text) { return QJsonDocument::fromJson(text).object(); }

QJsonObject health(const Server& s) { return json_of(curl({s.root() + QStringLiteral("/health")}).out); }

// A Prometheus sample's value ("name{labels}" as written), -1 when absent.
double metric(const Server& s, const QString& sample) {
    const QString text = QString::fromUtf8(curl({s.root() + QStringLiteral("/metrics")}).out);
    for (const QString& line : text.split(QLatin1Char('\n')))
        if (line.startsWith(sample + QLatin1Char(' '))) return line.mid(sample.size() + 1).toDouble();
    return -1;
}

QByteArray chat_body(const QString& content, int max_tokens, bool stream, const char* extra = nullptr) {
    QByteArray b = "{\"model\":\"" + kModelId.toUtf8() + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" +
                   content.toUtf8() + "\"}],\"max_tokens\":" + QByteArray::number(max_tokens) +
                   ",\"temperature\":0" + (stream ? ",\"stream\":true" : "");
    if (extra) b += QByteArray(",") + extra;
    return b + "}";
}

QByteArray messages_body(const QString& content, int max_tokens, bool stream, const char* extra = nullptr) {
    QByteArray b = "{\"model\":\"" + kModelId.toUtf8() + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" +
                   content.toUtf8() + "\"}],\"max_tokens\":" + QByteArray::number(max_tokens) +
                   ",\"temperature\":0" + (stream ? ",\"stream\":true" : "");
    if (extra) b += QByteArray(",") + extra;
    return b + "}";
}

// Anthropic's error body: {"type":"error","error":{"type","message"}}; its error type.
QString anthropic_error_type(const QByteArray& raw) {
    const QJsonObject o = json_of(body_of(raw));
    if (o[QStringLiteral("type")].toString() != QStringLiteral("error") ||
        o[QStringLiteral("error")][QStringLiteral("message")].toString().isEmpty())
        return QStringLiteral("(not an Anthropic error: %1)").arg(QString::fromUtf8(body_of(raw).left(300)));
    return o[QStringLiteral("error")][QStringLiteral("type")].toString();
}

// A streaming curl left running: started, then read until its first event.
class OpenStream {
public:
    OpenStream(const QString& url, const QByteArray& body) {
        p_.start(QStringLiteral("curl"), {QStringLiteral("-sSN"), QStringLiteral("-H"),
                                          QStringLiteral("Content-Type: application/json"),
                                          QStringLiteral("--data-binary"), QString::fromUtf8(body), url});
    }
    bool waitForFirstEvent() {
        while (!seen_.contains("data: ")) {
            if (!p_.waitForReadyRead(600000)) return false;
            seen_ += p_.readAllStandardOutput();
        }
        return true;
    }
    void disconnect() {  // the client goes away mid-stream
        p_.kill();
        p_.waitForFinished(10000);
    }
    ~OpenStream() {
        if (p_.state() != QProcess::NotRunning) disconnect();
    }

private:
    QProcess p_;
    QByteArray seen_;
};

}  // namespace

class TestServer : public QObject {
    Q_OBJECT

private:
    std::unique_ptr<Server> server_;

private slots:
    void initTestCase() {
        if (!QFile::exists(QString::fromStdString(eg_test::default_model_path())))
            QSKIP("the default model is missing: run scripts/fetch-model.sh");
        if (QStandardPaths::findExecutable(QStringLiteral("curl")).isEmpty()) QSKIP("curl is not installed");
        server_ = std::make_unique<Server>();
        QString why;
        QVERIFY2(server_->start({}, &why), qPrintable(why));
        QVERIFY(server_->base().startsWith(QStringLiteral("http://127.0.0.1:")));
    }

    // The official openai client: a whole reply and the same reply streamed,
    // their usage, a stop sequence, a seed, the completions endpoint, errors.
    void openai_client_gets_replies_usage_stops_and_errors() {
        if (!QFile::exists(client_python()))
            QSKIP("the openai client's venv is missing: run scripts/client-env.sh (scripts/test.sh does)");
        const Reply r = run(client_python(), {QStringLiteral(EG_TESTS_DIR "/app/server/openai_checks.py"),
                                              server_->base(), kModelId});
        QVERIFY2(r.exit_code == 0, r.err.constData());
        const QJsonObject o = json_of(r.out);
        QVERIFY2(!o.isEmpty(), r.out.constData());

        const QJsonObject chat = o[QStringLiteral("chat")].toObject();
        QCOMPARE(chat[QStringLiteral("object")].toString(), QStringLiteral("chat.completion"));
        QCOMPARE(chat[QStringLiteral("model")].toString(), kModelId);
        QCOMPARE(chat[QStringLiteral("role")].toString(), QStringLiteral("assistant"));
        const QString content = chat[QStringLiteral("content")].toString();
        QVERIFY2(content.size() > 10, qPrintable(content));
        const QJsonObject usage = chat[QStringLiteral("usage")].toObject();
        QVERIFY(usage[QStringLiteral("prompt_tokens")].toInt() > 5);
        const int completion = usage[QStringLiteral("completion_tokens")].toInt();
        QVERIFY(completion >= 1 && completion <= 24);
        QCOMPARE(usage[QStringLiteral("total_tokens")].toInt(), usage[QStringLiteral("prompt_tokens")].toInt() + completion);
        // finish_reason says why it ended: the 24-token cap, or the model's end.
        QCOMPARE(chat[QStringLiteral("finish_reason")].toString(),
                 completion == 24 ? QStringLiteral("length") : QStringLiteral("stop"));

        // Streamed, greedy: the same text in pieces, the role first, usage last.
        const QJsonObject st = o[QStringLiteral("chat_stream")].toObject();
        QCOMPARE(st[QStringLiteral("content")].toString(), content);
        QVERIFY(st[QStringLiteral("pieces")].toInt() > 1);
        QCOMPARE(st[QStringLiteral("roles")].toArray(), QJsonArray{QStringLiteral("assistant")});
        QCOMPARE(st[QStringLiteral("finish_reason")].toString(), chat[QStringLiteral("finish_reason")].toString());
        QCOMPARE(st[QStringLiteral("usage")].toObject(), usage);
        QCOMPARE(st[QStringLiteral("last_chunk_choices")].toInt(), 0);  // the usage chunk has no choices

        // A stop sequence from the middle of that reply ends it just before.
        const QJsonObject stop = o[QStringLiteral("stop")].toObject();
        QCOMPARE(stop[QStringLiteral("content")].toString(), stop[QStringLiteral("expected")].toString());
        QVERIFY(!stop[QStringLiteral("content")].toString().contains(stop[QStringLiteral("stop")].toString()));
        QCOMPARE(stop[QStringLiteral("finish_reason")].toString(), QStringLiteral("stop"));

        const QJsonObject seed = o[QStringLiteral("seed")].toObject();
        QCOMPARE(seed[QStringLiteral("first")].toString(), seed[QStringLiteral("second")].toString());

        const QJsonObject comp = o[QStringLiteral("completion")].toObject();
        QCOMPARE(comp[QStringLiteral("object")].toString(), QStringLiteral("text_completion"));
        QVERIFY(!comp[QStringLiteral("text")].toString().isEmpty());
        QCOMPARE(comp[QStringLiteral("usage")].toObject()[QStringLiteral("completion_tokens")].toInt(), 8);

        // response_format json_schema: every reply parses and has the schema's shape.
        for (const QJsonValue v : o[QStringLiteral("json_schema")].toArray()) {
            const QJsonObject reply = v.toObject();
            const QString text = reply[QStringLiteral("text")].toString();
            QVERIFY2(reply[QStringLiteral("parsed")].isObject(), qPrintable(text));
            const QJsonObject p = reply[QStringLiteral("parsed")].toObject();
            QCOMPARE(p.keys(), (QStringList{QStringLiteral("age"), QStringLiteral("likes"), QStringLiteral("mood"),
                                            QStringLiteral("name")}));
            QVERIFY2(p[QStringLiteral("name")].isString() && p[QStringLiteral("likes")].isArray(), qPrintable(text));
            QVERIFY2(p[QStringLiteral("age")].isDouble() && p[QStringLiteral("age")].toDouble() == p[QStringLiteral("age")].toInt(),
                     qPrintable(text));
            QVERIFY2(p[QStringLiteral("mood")] == QStringLiteral("happy") || p[QStringLiteral("mood")] == QStringLiteral("sad"),
                     qPrintable(text));
            QCOMPARE(reply[QStringLiteral("finish_reason")].toString(), QStringLiteral("stop"));
        }
        QCOMPARE(o[QStringLiteral("json_schema")].toArray().size(), 3);

        // Tools: a forced call comes back as tool_calls whose arguments parse
        // as the function's parameters; streamed too; the tool's result is
        // read back (the follow-up's prompt holds it).
        const QJsonObject tools = o[QStringLiteral("tools")].toObject();
        QCOMPARE(tools[QStringLiteral("finish_reason")].toString(), QStringLiteral("tool_calls"));
        QVERIFY(tools[QStringLiteral("content")].isNull());
        const QJsonArray calls = tools[QStringLiteral("calls")].toArray();
        QCOMPARE(calls.size(), 1);
        QCOMPARE(calls[0][QStringLiteral("name")].toString(), QStringLiteral("get_weather"));
        QCOMPARE(calls[0][QStringLiteral("type")].toString(), QStringLiteral("function"));
        QVERIFY(calls[0][QStringLiteral("id")].toString().startsWith(QStringLiteral("call_")));
        const QJsonObject args =
            QJsonDocument::fromJson(calls[0][QStringLiteral("arguments")].toString().toUtf8()).object();
        QCOMPARE(args.keys(), QStringList{QStringLiteral("city")});
        QVERIFY(args[QStringLiteral("city")].isString());
        const QJsonArray streamed = tools[QStringLiteral("streamed")].toArray();
        QCOMPARE(streamed.size(), 1);
        QCOMPARE(streamed[0][QStringLiteral("name")].toString(), QStringLiteral("get_weather"));
        QVERIFY(QJsonDocument::fromJson(streamed[0][QStringLiteral("arguments")].toString().toUtf8()).isObject());
        QCOMPARE(tools[QStringLiteral("streamed_finish")].toString(), QStringLiteral("tool_calls"));
        const QJsonObject follow = tools[QStringLiteral("follow_up")].toObject();
        QVERIFY(!follow.isEmpty());
        QVERIFY(follow[QStringLiteral("prompt_tokens")].toInt() > tools[QStringLiteral("prompt_tokens")].toInt() + 15);
        QVERIFY(follow[QStringLiteral("finish_reason")].toString() == QStringLiteral("stop") ||
                follow[QStringLiteral("finish_reason")].toString() == QStringLiteral("length") ||
                follow[QStringLiteral("finish_reason")].toString() == QStringLiteral("tool_calls"));

        const QJsonObject wrong = o[QStringLiteral("wrong_model")].toObject();
        QCOMPARE(wrong[QStringLiteral("class")].toString(), QStringLiteral("NotFoundError"));
        QCOMPARE(wrong[QStringLiteral("status")].toInt(), 404);
        QCOMPARE(wrong[QStringLiteral("code")].toString(), QStringLiteral("model_not_found"));
        const QJsonObject temp = o[QStringLiteral("bad_temperature")].toObject();
        QCOMPARE(temp[QStringLiteral("status")].toInt(), 400);
        QCOMPARE(temp[QStringLiteral("param")].toString(), QStringLiteral("temperature"));
        QCOMPARE(o[QStringLiteral("models")].toArray(), QJsonArray{kModelId});
    }

    // The official anthropic client on POST /v1/messages: a whole reply and
    // the same streamed (events in order, usage at the end), a stop sequence,
    // top_k, a tool_use round trip with its tool_result, and errors.
    void anthropic_client_gets_messages_streams_stops_tools_and_errors() {
        if (!QFile::exists(client_python()))
            QSKIP("the client venv is missing: run scripts/client-env.sh (scripts/test.sh does)");
        const Reply r = run(client_python(), {QStringLiteral(EG_TESTS_DIR "/app/server/anthropic_checks.py"),
                                              server_->root(), kModelId});
        QVERIFY2(r.exit_code == 0, r.err.constData());
        const QJsonObject o = json_of(r.out);
        QVERIFY2(!o.isEmpty(), r.out.constData());

        const QJsonObject m = o[QStringLiteral("message")].toObject();
        QVERIFY(m[QStringLiteral("id")].toString().startsWith(QStringLiteral("msg_")));
        QCOMPARE(m[QStringLiteral("type")].toString(), QStringLiteral("message"));
        QCOMPARE(m[QStringLiteral("role")].toString(), QStringLiteral("assistant"));
        QCOMPARE(m[QStringLiteral("model")].toString(), kModelId);
        QCOMPARE(m[QStringLiteral("blocks")].toArray(), QJsonArray{QStringLiteral("text")});
        const QString text = m[QStringLiteral("text")].toString();
        QVERIFY2(text.size() > 10, qPrintable(text));
        const QJsonObject usage = m[QStringLiteral("usage")].toObject();
        QVERIFY(usage[QStringLiteral("input_tokens")].toInt() > 5);
        const int output = usage[QStringLiteral("output_tokens")].toInt();
        QVERIFY(output >= 1 && output <= 24);
        QCOMPARE(m[QStringLiteral("stop_reason")].toString(),
                 output == 24 ? QStringLiteral("max_tokens") : QStringLiteral("end_turn"));
        QVERIFY(m[QStringLiteral("stop_sequence")].isNull());

        // count_tokens counts the prompt the reply was made from; the tools' description adds to it.
        const QJsonObject count = o[QStringLiteral("count_tokens")].toObject();
        QCOMPARE(count[QStringLiteral("plain")].toInt(), usage[QStringLiteral("input_tokens")].toInt());
        QVERIFY(count[QStringLiteral("without_tools")].toInt() > 5);
        QVERIFY(count[QStringLiteral("with_tools")].toInt() > count[QStringLiteral("without_tools")].toInt() + 20);

        // Streamed: message_start, ping, one text block's start, deltas and
        // stop, message_delta, message_stop; the same text and usage.
        const QJsonObject st = o[QStringLiteral("stream")].toObject();
        QStringList events;
        for (const QJsonValue v : st[QStringLiteral("events")].toArray()) events << v.toString();
        QVERIFY2(events.size() >= 7, qPrintable(events.join(',')));
        QCOMPARE(events.mid(0, 2), (QStringList{QStringLiteral("message_start"), QStringLiteral("content_block_start")}));
        QCOMPARE(events.mid(events.size() - 3), (QStringList{QStringLiteral("content_block_stop"),
                                                             QStringLiteral("message_delta"), QStringLiteral("message_stop")}));
        for (int i = 2; i < events.size() - 3; ++i) QCOMPARE(events[i], QStringLiteral("content_block_delta"));
        QCOMPARE(st[QStringLiteral("text")].toString(), text);
        QVERIFY(st[QStringLiteral("pieces")].toInt() > 1);
        QCOMPARE(st[QStringLiteral("indexes")].toArray(), QJsonArray{0});
        QCOMPARE(st[QStringLiteral("stop_reason")].toString(), m[QStringLiteral("stop_reason")].toString());
        QCOMPARE(st[QStringLiteral("output_tokens")].toInt(), output);
        QCOMPARE(st[QStringLiteral("helper_text")].toString(), text);
        QCOMPARE(st[QStringLiteral("final_text")].toString(), text);
        QCOMPARE(st[QStringLiteral("final_stop_reason")].toString(), m[QStringLiteral("stop_reason")].toString());
        QCOMPARE(st[QStringLiteral("final_usage")].toObject(), usage);

        // stop_sequences: the reply ends just before, and names the one that matched.
        const QJsonObject stop = o[QStringLiteral("stop")].toObject();
        QCOMPARE(stop[QStringLiteral("text")].toString(), stop[QStringLiteral("expected")].toString());
        QCOMPARE(stop[QStringLiteral("stop_reason")].toString(), QStringLiteral("stop_sequence"));
        QCOMPARE(stop[QStringLiteral("stop_sequence")].toString(), stop[QStringLiteral("stop")].toString());

        QCOMPARE(o[QStringLiteral("top_k")][QStringLiteral("text")].toString(), text);

        // A forced call: one tool_use block, its input in the schema's shape,
        // and the tool_result read back.
        const QJsonObject tools = o[QStringLiteral("tools")].toObject();
        QCOMPARE(tools[QStringLiteral("stop_reason")].toString(), QStringLiteral("tool_use"));
        QCOMPARE(tools[QStringLiteral("blocks")].toArray(), QJsonArray{QStringLiteral("tool_use")});
        const QJsonArray calls = tools[QStringLiteral("calls")].toArray();
        QCOMPARE(calls.size(), 1);
        QVERIFY(calls[0][QStringLiteral("id")].toString().startsWith(QStringLiteral("toolu_")));
        QCOMPARE(calls[0][QStringLiteral("name")].toString(), QStringLiteral("get_weather"));
        const QJsonObject input = calls[0][QStringLiteral("input")].toObject();
        QCOMPARE(input.keys(), QStringList{QStringLiteral("city")});
        QVERIFY(input[QStringLiteral("city")].isString());
        const QJsonObject follow = tools[QStringLiteral("follow_up")].toObject();
        QVERIFY(!follow.isEmpty());
        QVERIFY(follow[QStringLiteral("input_tokens")].toInt() > tools[QStringLiteral("input_tokens")].toInt() + 10);
        const QString fr = follow[QStringLiteral("stop_reason")].toString();
        QVERIFY2(fr == QStringLiteral("end_turn") || fr == QStringLiteral("max_tokens") || fr == QStringLiteral("tool_use"),
                 qPrintable(fr));
        const QJsonObject streamed = tools[QStringLiteral("streamed")].toObject();
        QCOMPARE(streamed[QStringLiteral("started")].toArray(), QJsonArray{QStringLiteral("tool_use")});
        QVERIFY(streamed[QStringLiteral("input")].toObject()[QStringLiteral("city")].isString());
        QCOMPARE(streamed[QStringLiteral("stop_reason")].toString(), QStringLiteral("tool_use"));

        const QJsonObject wrong = o[QStringLiteral("wrong_model")].toObject();
        QCOMPARE(wrong[QStringLiteral("class")].toString(), QStringLiteral("NotFoundError"));
        QCOMPARE(wrong[QStringLiteral("status")].toInt(), 404);
        QCOMPARE(wrong[QStringLiteral("type")].toString(), QStringLiteral("error"));
        QCOMPARE(wrong[QStringLiteral("error_type")].toString(), QStringLiteral("not_found_error"));
        for (const char* key : {"bad_temperature", "image"}) {
            const QJsonObject e = o[QLatin1String(key)].toObject();
            QVERIFY2(e[QStringLiteral("class")].toString() == QStringLiteral("BadRequestError"), key);
            QCOMPARE(e[QStringLiteral("status")].toInt(), 400);
            QCOMPARE(e[QStringLiteral("error_type")].toString(), QStringLiteral("invalid_request_error"));
        }
    }

    // curl sees Anthropic's SSE framing on /v1/messages: each event an
    // "event: NAME" line, a "data: JSON" line whose type is NAME, and a blank
    // line; no [DONE].
    void messages_stream_is_framed_as_named_events() {
        const Reply r = post(server_->root() + QStringLiteral("/v1/messages"),
                             messages_body(QStringLiteral("Name a color."), 12, true),
                             {QStringLiteral("-H"), QStringLiteral("anthropic-version: 2023-06-01")});
        QCOMPARE(r.exit_code, 0);
        QCOMPARE(status_of(r.out), 200);
        QVERIFY(header_of(r.out, "Content-Type").startsWith("text/event-stream"));
        const QByteArray body = body_of(r.out);
        QVERIFY2(body.endsWith("\n\n") && !body.contains("[DONE]"), body.right(200).constData());
        QStringList names;
        QString text;
        int output_tokens = -1;
        const QList<QByteArray> blocks = body.chopped(2).split('\n');
        QVERIFY2(blocks.size() % 3 == 2, body.constData());  // event, data, blank ... event, data
        for (qsizetype i = 0; i < blocks.size(); i += 3) {
            QVERIFY2(blocks[i].startsWith("event: "), blocks[i].constData());
            QVERIFY2(blocks[i + 1].startsWith("data: "), blocks[i + 1].constData());
            if (i + 2 < blocks.size()) QVERIFY2(blocks[i + 2].isEmpty(), blocks[i + 2].constData());
            const QString name = QString::fromUtf8(blocks[i].mid(7));
            QJsonParseError err;
            const QJsonObject d = QJsonDocument::fromJson(blocks[i + 1].mid(6), &err).object();
            QVERIFY2(err.error == QJsonParseError::NoError, blocks[i + 1].constData());
            QCOMPARE(d[QStringLiteral("type")].toString(), name);
            names << name;
            if (name == QStringLiteral("content_block_delta")) {
                QCOMPARE(d[QStringLiteral("delta")][QStringLiteral("type")].toString(), QStringLiteral("text_delta"));
                text += d[QStringLiteral("delta")][QStringLiteral("text")].toString();
            }
            if (name == QStringLiteral("message_start")) {
                const QJsonObject msg = d[QStringLiteral("message")].toObject();
                QVERIFY(msg[QStringLiteral("id")].toString().startsWith(QStringLiteral("msg_")));
                QCOMPARE(msg[QStringLiteral("content")].toArray(), QJsonArray());
                QVERIFY(msg[QStringLiteral("stop_reason")].isNull());
            }
            if (name == QStringLiteral("message_delta")) {
                QVERIFY(!d[QStringLiteral("delta")][QStringLiteral("stop_reason")].toString().isEmpty());
                QVERIFY(d[QStringLiteral("usage")][QStringLiteral("input_tokens")].toInt() > 5);
                output_tokens = d[QStringLiteral("usage")][QStringLiteral("output_tokens")].toInt();
            }
        }
        QVERIFY(!text.isEmpty());
        QVERIFY(output_tokens >= 1 && output_tokens <= 12);
        QCOMPARE(names.first(), QStringLiteral("message_start"));
        QVERIFY(names.contains(QStringLiteral("ping")));
        QCOMPARE(names.count(QStringLiteral("content_block_start")), 1);
        QCOMPARE(names.count(QStringLiteral("content_block_stop")), 1);
        QVERIFY(names.indexOf(QStringLiteral("content_block_start")) < names.indexOf(QStringLiteral("content_block_delta")));
        QCOMPARE(names.mid(names.size() - 3), (QStringList{QStringLiteral("content_block_stop"),
                                                           QStringLiteral("message_delta"), QStringLiteral("message_stop")}));
    }

    // /v1/messages refuses in Anthropic's error shape with the matching HTTP
    // status, through the same checks and caps as the OpenAI endpoints.
    void messages_errors_have_anthropic_shape() {
        const QString url = server_->root() + QStringLiteral("/v1/messages");
        const double errors0 =
            metric(*server_, QStringLiteral("engram_requests_total{endpoint=\"messages\",outcome=\"client_error\"}"));
        QVERIFY(errors0 >= 0);
        struct Case {
            const char* what;
            QByteArray body;
            int status;
            const char* type;
        };
        const std::vector<Case> cases = {
            {"malformed JSON", "{\"model\": ", 400, "invalid_request_error"},
            {"no max_tokens", "{\"model\":\"" + kModelId.toUtf8() + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
             400, "invalid_request_error"},
            {"max_tokens past the cap", messages_body(QStringLiteral("hi"), 100000, false), 400, "invalid_request_error"},
            {"system role in messages",
             "{\"model\":\"" + kModelId.toUtf8() + "\",\"max_tokens\":4,\"messages\":[{\"role\":\"system\",\"content\":\"hi\"}]}",
             400, "invalid_request_error"},
            {"unknown field", messages_body(QStringLiteral("hi"), 4, false, "\"n\":2"), 400, "invalid_request_error"},
            {"tool_choice without tools", messages_body(QStringLiteral("hi"), 4, false, "\"tool_choice\":{\"type\":\"any\"}"),
             400, "invalid_request_error"},
            {"wrong model", "{\"model\":\"claude-none\",\"max_tokens\":4,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
             404, "not_found_error"},
            {"body past the cap", "{\"model\":\"" + QByteArray(2 << 20, 'x') + "\"}", 413, "request_too_large"},
        };
        for (const Case& c : cases) {
            const Reply r = post(url, c.body);
            QVERIFY2(r.exit_code == 0, c.what);
            QVERIFY2(status_of(r.out) == c.status,
                     qPrintable(QStringLiteral("%1: %2").arg(c.what, QString::fromUtf8(r.out.left(300)))));
            QVERIFY2(anthropic_error_type(r.out) == QLatin1String(c.type),
                     qPrintable(QStringLiteral("%1: %2").arg(c.what, anthropic_error_type(r.out))));
        }
        // All but the 413 (refused from its Content-Length, unread) count as client errors.
        QCOMPARE(metric(*server_, QStringLiteral("engram_requests_total{endpoint=\"messages\",outcome=\"client_error\"}")),
                 errors0 + 7);
        const Reply nf = curl({QStringLiteral("-i"), url + QStringLiteral("/batches")});
        QCOMPARE(status_of(nf.out), 404);
        QCOMPARE(anthropic_error_type(nf.out), QStringLiteral("not_found_error"));
        const Reply get = curl({QStringLiteral("-i"), url});
        QCOMPARE(status_of(get.out), 405);
        QCOMPARE(anthropic_error_type(get.out), QStringLiteral("invalid_request_error"));
        const Reply ok = post(url, messages_body(QStringLiteral("hi"), 4, false));
        QCOMPARE(status_of(ok.out), 200);
        QCOMPARE(json_of(body_of(ok.out))[QStringLiteral("type")].toString(), QStringLiteral("message"));
    }

    // curl sees well-formed server-sent events: every event one "data:" line
    // and a blank line, JSON chunks, then [DONE].
    void stream_is_framed_as_server_sent_events() {
        const Reply r = post(server_->base() + QStringLiteral("/chat/completions"),
                             chat_body(QStringLiteral("Name a color."), 12, true,
                                       "\"stream_options\":{\"include_usage\":true}"));
        QCOMPARE(r.exit_code, 0);
        QCOMPARE(status_of(r.out), 200);
        QVERIFY(header_of(r.out, "Content-Type").startsWith("text/event-stream"));
        const QByteArray body = body_of(r.out);
        QVERIFY2(body.endsWith("data: [DONE]\n\n"), body.right(200).constData());
        const QList<QByteArray> events = body.chopped(2).split('\n');
        // Events alternate "data: ..." and blank lines.
        QByteArrayList data;
        for (qsizetype i = 0; i < events.size(); ++i) {
            if (i % 2 == 1) {
                QVERIFY2(events[i].isEmpty(), events[i].constData());
                continue;
            }
            QVERIFY2(events[i].startsWith("data: "), events[i].constData());
            data.push_back(events[i].mid(6));
        }
        QCOMPARE(data.last(), QByteArray("[DONE]"));
        data.removeLast();
        QVERIFY(data.size() >= 4);  // role, text, finish, usage
        QString text;
        for (const QByteArray& d : data) {
            QJsonParseError err;
            const QJsonObject c = QJsonDocument::fromJson(d, &err).object();
            QVERIFY2(err.error == QJsonParseError::NoError, d.constData());
            QCOMPARE(c[QStringLiteral("object")].toString(), QStringLiteral("chat.completion.chunk"));
            for (const QJsonValue ch : c[QStringLiteral("choices")].toArray())
                text += ch[QStringLiteral("delta")][QStringLiteral("content")].toString();
        }
        QVERIFY(!text.isEmpty());
        const QJsonObject last = json_of(data.last());
        QVERIFY(last[QStringLiteral("choices")].toArray().isEmpty());
        QVERIFY(last[QStringLiteral("usage")][QStringLiteral("completion_tokens")].toInt() >= 1);
    }

    // /v1/completions streams text_completion chunks with usage last;
    // response_format json_object gives a reply that parses as an object;
    // tool_choice "none" leaves a reply as text.
    void completions_stream_json_object_and_tool_choice_none() {
        const Reply c = post(server_->base() + QStringLiteral("/completions"),
                             "{\"model\":\"" + kModelId.toUtf8() +
                                 "\",\"prompt\":\"Once upon a time\",\"max_tokens\":6,\"temperature\":0,"
                                 "\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
        QCOMPARE(status_of(c.out), 200);
        const QByteArray body = body_of(c.out);
        QVERIFY2(body.endsWith("data: [DONE]\n\n"), body.constData());
        QVERIFY(body.contains("\"object\":\"text_completion\""));
        QVERIFY(body.contains("\"usage\":{\"prompt_tokens\":"));
        QVERIFY(body.contains("\"completion_tokens\":6"));

        const Reply j = post(server_->base() + QStringLiteral("/chat/completions"),
                             "{\"model\":\"" + kModelId.toUtf8() +
                                 "\",\"messages\":[{\"role\":\"user\",\"content\":\"Give me a JSON object about a dog.\"}],"
                                 "\"max_tokens\":300,\"temperature\":1,\"seed\":5,\"response_format\":{\"type\":\"json_object\"}}");
        QCOMPARE(status_of(j.out), 200);
        const QJsonObject o = json_of(body_of(j.out));
        const QString content = o[QStringLiteral("choices")][0][QStringLiteral("message")][QStringLiteral("content")].toString();
        QJsonParseError err;
        const QJsonDocument parsed = QJsonDocument::fromJson(content.toUtf8(), &err);
        QVERIFY2(err.error == QJsonParseError::NoError && parsed.isObject(), qPrintable(content));
        QCOMPARE(o[QStringLiteral("choices")][0][QStringLiteral("finish_reason")].toString(), QStringLiteral("stop"));

        const Reply n = post(server_->base() + QStringLiteral("/chat/completions"),
                             chat_body(QStringLiteral("Weather in Paris?"), 8, false,
                                       "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}],"
                                       "\"tool_choice\":\"none\""));
        QCOMPARE(status_of(n.out), 200);
        const QJsonObject msg = json_of(body_of(n.out))[QStringLiteral("choices")][0][QStringLiteral("message")].toObject();
        QVERIFY(!msg.contains(QStringLiteral("tool_calls")));
        QVERIFY(!msg[QStringLiteral("content")].toString().isEmpty());
    }

    // Bad requests get a 4xx with OpenAI's error body, and the server goes on.
    void bad_requests_get_openai_errors_and_the_server_goes_on() {
        const QString url = server_->base() + QStringLiteral("/chat/completions");
        QByteArray many = "{\"model\":\"" + kModelId.toUtf8() + "\",\"messages\":[";
        for (int i = 0; i < 300; ++i) many += QByteArray(i ? "," : "") + "{\"role\":\"user\",\"content\":\"hi\"}";
        many += "]}";
        const QByteArray deep = QByteArray(100000, '[') + QByteArray(100000, ']');
        struct Case {
            const char* what;
            QByteArray body;
            int status;
            const char* code;  // the error's code, "" for any
        };
        const std::vector<Case> cases = {
            {"malformed JSON", "{\"model\": ", 400, "invalid_json"},
            {"not an object", "[1,2]", 400, ""},
            {"deeply nested", deep, 400, ""},
            {"wrong type", "{\"model\":\"" + kModelId.toUtf8() + "\",\"messages\":\"hi\"}", 400, "invalid_type"},
            {"unknown field", chat_body(QStringLiteral("hi"), 4, false, "\"colour\":\"blue\""), 400, "unknown_parameter"},
            {"unknown role", "{\"model\":\"" + kModelId.toUtf8() + "\",\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}",
             400, "invalid_value"},
            {"too many messages", many, 400, "too_many_messages"},
            {"max_tokens past the cap", chat_body(QStringLiteral("hi"), 100000, false), 400, "invalid_value"},
            {"body past the cap", "{\"model\":\"" + QByteArray(2 << 20, 'x') + "\"}", 413, "request_too_large"},
            {"no model field", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", 400, "missing_required_parameter"},
        };
        for (const Case& c : cases) {
            const Reply r = post(url, c.body);
            QVERIFY2(r.exit_code == 0, c.what);
            QVERIFY2(status_of(r.out) == c.status, qPrintable(QStringLiteral("%1: %2").arg(c.what, QString::fromUtf8(r.out.left(300)))));
            const QJsonObject err = json_of(body_of(r.out))[QStringLiteral("error")].toObject();
            QVERIFY2(!err[QStringLiteral("message")].toString().isEmpty(), c.what);
            QVERIFY2(err.contains(QStringLiteral("type")) && err.contains(QStringLiteral("param")), c.what);
            if (*c.code) QVERIFY2(err[QStringLiteral("code")].toString() == QLatin1String(c.code), c.what);
        }
        const Reply nf = curl({QStringLiteral("-i"), server_->root() + QStringLiteral("/v1/nothing")});
        QCOMPARE(status_of(nf.out), 404);
        QCOMPARE(health(*server_)[QStringLiteral("status")].toString(), QStringLiteral("ok"));
        const Reply ok = post(url, chat_body(QStringLiteral("hi"), 4, false));
        QCOMPARE(status_of(ok.out), 200);
    }

    // Eight clients at once; one leaves mid-stream. The seven others get their
    // whole replies, the one that left stopped generating long before its
    // max_tokens, and the engine is free afterwards.
    void eight_clients_one_leaves_the_others_complete() {
        const QString url = server_->base() + QStringLiteral("/chat/completions");
        const double cancelled0 = metric(*server_, QStringLiteral("engram_requests_total{endpoint=\"chat_completions\",outcome=\"cancelled\"}"));
        const double tokens0 = metric(*server_, QStringLiteral("engram_completion_tokens_total"));
        QVERIFY(cancelled0 >= 0 && tokens0 >= 0);

        // The leaver: a reply that could run 4000 tokens, the engine busy with it.
        OpenStream leaver(url, chat_body(QStringLiteral("Tell me a very long story."), 4000, true, kNoEnd));
        QVERIFY(leaver.waitForFirstEvent());
        // Seven more queue behind it, half of them streamed.
        std::vector<std::unique_ptr<QProcess>> others;
        for (int i = 0; i < 7; ++i) {
            auto p = std::make_unique<QProcess>();
            p->start(QStringLiteral("curl"),
                     {QStringLiteral("-sS"), QStringLiteral("-H"), QStringLiteral("Content-Type: application/json"),
                      QStringLiteral("--data-binary"),
                      QString::fromUtf8(chat_body(QStringLiteral("Count to %1.").arg(i + 3), 16, i % 2 == 1, kNoEnd)),
                      url});
            QVERIFY(p->waitForStarted());
            others.push_back(std::move(p));
        }
        // Wait (without timing anything) until all seven are queued, then leave.
        QTRY_COMPARE_WITH_TIMEOUT(health(*server_)[QStringLiteral("waiting")].toInt(), 7, 120000);
        leaver.disconnect();

        for (int i = 0; i < 7; ++i) {
            QVERIFY(others[i]->waitForFinished(600000));
            QCOMPARE(others[i]->exitCode(), 0);
            const QByteArray out = others[i]->readAllStandardOutput();
            if (i % 2 == 1) {
                QVERIFY2(out.endsWith("data: [DONE]\n\n"), out.right(200).constData());
                QVERIFY(out.contains("\"finish_reason\":\"length\""));
            } else {
                const QJsonObject o = json_of(out);
                QCOMPARE(o[QStringLiteral("usage")][QStringLiteral("completion_tokens")].toInt(), 16);
                QCOMPARE(o[QStringLiteral("choices")][0][QStringLiteral("finish_reason")].toString(), QStringLiteral("length"));
            }
        }
        // The engine is free: nothing running or waiting, and a new request is served.
        QTRY_COMPARE_WITH_TIMEOUT(health(*server_)[QStringLiteral("running")].toInt(), 0, 60000);
        QCOMPARE(health(*server_)[QStringLiteral("waiting")].toInt(), 0);
        QCOMPARE(metric(*server_, QStringLiteral("engram_requests_total{endpoint=\"chat_completions\",outcome=\"cancelled\"}")),
                 cancelled0 + 1);
        // Every token generated since: the seven's 7 x 16 and what the leaver
        // got before it left, far below its 4000.
        const double generated = metric(*server_, QStringLiteral("engram_completion_tokens_total")) - tokens0;
        QVERIFY2(generated < 7 * 16 + 2000, qPrintable(QString::number(generated)));
        const Reply after = post(url, chat_body(QStringLiteral("hi"), 4, false));
        QCOMPARE(status_of(after.out), 200);
    }

    // A full queue answers 429 with Retry-After, and takes requests again once
    // it has room.
    void full_queue_answers_429_with_retry_after() {
        Server s;
        QString why;
        QVERIFY2(s.start({QStringLiteral("--queue-limit"), QStringLiteral("2")}, &why), qPrintable(why));
        const QString url = s.base() + QStringLiteral("/chat/completions");
        OpenStream running(url, chat_body(QStringLiteral("A long story."), 4000, true, kNoEnd));
        QVERIFY(running.waitForFirstEvent());
        OpenStream waiting(url, chat_body(QStringLiteral("Another long story."), 4000, true, kNoEnd));
        QTRY_COMPARE_WITH_TIMEOUT(health(s)[QStringLiteral("waiting")].toInt(), 1, 120000);
        const Reply full = post(url, chat_body(QStringLiteral("hi"), 4, false));
        QCOMPARE(status_of(full.out), 429);
        QVERIFY(header_of(full.out, "Retry-After").toInt() >= 1);
        QCOMPARE(json_of(body_of(full.out))[QStringLiteral("error")][QStringLiteral("code")].toString(),
                 QStringLiteral("queue_full"));
        // Anthropic's endpoint shares the queue: the same 429, in its shape.
        const Reply full_messages = post(s.root() + QStringLiteral("/v1/messages"), messages_body(QStringLiteral("hi"), 4, false));
        QCOMPARE(status_of(full_messages.out), 429);
        QVERIFY(header_of(full_messages.out, "Retry-After").toInt() >= 1);
        QCOMPARE(anthropic_error_type(full_messages.out), QStringLiteral("rate_limit_error"));
        running.disconnect();
        waiting.disconnect();
        QTRY_COMPARE_WITH_TIMEOUT(health(s)[QStringLiteral("running")].toInt() + health(s)[QStringLiteral("waiting")].toInt(),
                                  0, 60000);
        QCOMPARE(status_of(post(url, chat_body(QStringLiteral("hi"), 4, false)).out), 200);
    }

    // With an API key, requests without it or with another are refused (401)
    // and with it served; off loopback the server does not start without one.
    void api_key_is_required_and_checked() {
        QTemporaryDir dir;
        const QString key_file = dir.filePath(QStringLiteral("key"));
        {
            QFile f(key_file);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("sk-local-test-key\n");
            f.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
        }
        Server s;
        QString why;
        QVERIFY2(s.start({QStringLiteral("--api-key-file"), key_file}, &why), qPrintable(why));
        const QString url = s.base() + QStringLiteral("/chat/completions");
        const QByteArray body = chat_body(QStringLiteral("hi"), 4, false);
        const Reply none = post(url, body);
        QCOMPARE(status_of(none.out), 401);
        QCOMPARE(json_of(body_of(none.out))[QStringLiteral("error")][QStringLiteral("code")].toString(),
                 QStringLiteral("invalid_api_key"));
        QCOMPARE(status_of(post(url, body, {QStringLiteral("-H"), QStringLiteral("Authorization: Bearer sk-wrong")}).out), 401);
        QCOMPARE(status_of(post(url, body, {QStringLiteral("-H"), QStringLiteral("Authorization: Bearer sk-local-test-key-and-more")}).out), 401);
        QCOMPARE(status_of(curl({QStringLiteral("-i"), s.base() + QStringLiteral("/models")}).out), 401);
        QCOMPARE(status_of(post(url, body, {QStringLiteral("-H"), QStringLiteral("Authorization: Bearer sk-local-test-key")}).out), 200);
        // Anthropic's clients send the key as x-api-key (and anthropic-version, accepted).
        const QString messages = s.root() + QStringLiteral("/v1/messages");
        const QByteArray mbody = messages_body(QStringLiteral("hi"), 4, false);
        const Reply no_key = post(messages, mbody);
        QCOMPARE(status_of(no_key.out), 401);
        QCOMPARE(anthropic_error_type(no_key.out), QStringLiteral("authentication_error"));
        const Reply wrong_key = post(messages, mbody, {QStringLiteral("-H"), QStringLiteral("x-api-key: sk-wrong")});
        QCOMPARE(status_of(wrong_key.out), 401);
        QCOMPARE(anthropic_error_type(wrong_key.out), QStringLiteral("authentication_error"));
        QCOMPARE(status_of(post(messages, mbody, {QStringLiteral("-H"), QStringLiteral("x-api-key: sk-local-test-key"),
                                                  QStringLiteral("-H"), QStringLiteral("anthropic-version: 2023-06-01")})
                               .out),
                 200);
        QCOMPARE(status_of(post(url, body, {QStringLiteral("-H"), QStringLiteral("x-api-key: sk-local-test-key")}).out), 200);

        Server open;
        QString err;
        QCOMPARE(open.refusal({QStringLiteral("--host"), QStringLiteral("0.0.0.0")}, &err), 2);
        QVERIFY2(err.contains(QStringLiteral("API key")), qPrintable(err));
    }
};

QTEST_GUILESS_MAIN(TestServer)
#include "test_server.moc"
