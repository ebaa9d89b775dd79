// The engine on its own thread: EngineWorker is moved to a QThread and owns
// the model and its Session. The GUI thread talks to it only through queued
// signals/slots, except requestStop(), which is an atomic flag.
#pragma once

#include <QObject>
#include <QString>
#include <QVariantList>
#include <QVariantMap>

#include <atomic>
#include <memory>

namespace eg {
class Model;
class Session;
class ChatSession;
}  // namespace eg

namespace eg::app {

class EngineWorker : public QObject {
    Q_OBJECT
public:
    explicit EngineWorker(QObject* parent = nullptr);
    ~EngineWorker() override;

    // Thread-safe. Stops request `request_id` (and every earlier one) within
    // one token, even when it has not started yet; -1 stops whatever runs now.
    void requestStop(qint64 request_id = -1);

    // Pieces are coalesced to at most one `pieces` signal per this interval (a frame).
    static constexpr int kPieceIntervalMs = 16;

public slots:
    void loadModel(const QString& path);
    // messages: [{role, content}], oldest first, ending with the user's turn.
    // settings: temperature, top_p, top_k, min_p, repeat_penalty, max_tokens,
    // seed (< 0: random), system_prompt, n_ctx (optional).
    void generate(qint64 request_id, const QVariantList& messages, const QVariantMap& settings);

signals:
    void loadProgress(double fraction);
    void modelLoaded(const QString& name, const QString& path);
    void loadFailed(const QString& error);
    void pieces(qint64 request_id, const QString& text);
    // stats: prompt_tokens, prefilled_tokens, reused_tokens, completion_tokens,
    // tokens_per_s, ttft_ms, stop_reason ("end of generation", "max tokens",
    // "context full", "stopped").
    void finished(qint64 request_id, const QVariantMap& stats);
    void failed(qint64 request_id, const QString& error);

private:
    void unload();

    std::unique_ptr<eg::Model> model_;
    std::unique_ptr<eg::Session> session_;  // refers to *model_: destroyed first
    std::unique_ptr<eg::ChatSession> chat_;  // used only to render the template
    QString model_name_;
    std::atomic<bool> stop_{false};
    std::atomic<qint64> stop_through_id_{-1};  // requests with id <= this are stopped
};

}  // namespace eg::app
