// The engine on its own thread: EngineWorker is moved to a QThread and owns
// the model and its Session. The GUI thread talks to it through queued
// signals/slots carrying the engine's own types (eg::ReplyRequest,
// eg::PlacementRequest, eg::PlacementReport, eg::ReplyStats), except
// requestStop() (an atomic flag) and the memory panel's readers live() and
// hottest(), which take a short lock and never wait for a generation.
#pragma once

#include <QObject>
#include <QString>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/extension.h"
#include "plan/apply.h"
#include "plan/live.h"
#include "runtime/generation_settings.h"
#include "runtime/session.h"
#include "runtime/throughput.h"

namespace eg {
class Model;
class ChatSession;
}  // namespace eg

namespace eg::app {

// One completion asked by the local OpenAI-compatible server
// (app/src/server): a chat (rendered by the model's template and fitted to
// the context by the engine's one rule) or a raw prompt, with stop
// sequences. The callbacks run on the engine thread; the server forwards
// them to its own. Setting `cancel` (a client went away) stops it within a
// token, or skips it when it has not started.
struct ServerJob {
    bool chat = true;
    std::vector<eg::ChatMessage> messages;  // chat
    std::string prompt;                     // raw completion
    eg::GenerateOptions options;            // options.stop is set by the worker to &cancel
    std::vector<std::string> stop_sequences;
    // For a template that reads `tools`: the messages as it wants them and
    // the tools (empty: none offered; `messages` above is then what renders).
    nlohmann::ordered_json template_messages;
    nlohmann::ordered_json tools = nlohmann::ordered_json::array();
    bool count_only = false;              // render and count the prompt, generate nothing (Anthropic's count_tokens)
    bool json_reply = false;              // the reply is constrained to JSON (runtime/json_constraint.h)
    nlohmann::ordered_json json_schema;   // null: any JSON object
    std::atomic<bool> cancel{false};

    struct Outcome {
        std::string error;             // "": none
        bool client_error = false;     // the request itself cannot be served (too long for the context)
        bool cancelled = false;        // `cancel` was set before the reply ended
        std::string finish_reason;     // "stop" or "length"
        std::string stop_sequence;     // the one of stop_sequences that ended the reply, if one did
        int64_t prompt_tokens = 0;     // the prompt as fitted
        int64_t completion_tokens = 0;
        eg::GenerationStats stats;
    };
    std::function<void()> on_start;                        // the engine took it up (not when cancelled first)
    std::function<void(const std::string& text)> on_text;  // reply text, stop sequences held back
    std::function<void(const Outcome&)> on_done;           // exactly once
};

class EngineWorker : public QObject {
    Q_OBJECT
public:
    explicit EngineWorker(QObject* parent = nullptr);
    ~EngineWorker() override;

    // Thread-safe. Stops request `request_id` (and every earlier one) within
    // one token, even when it has not started yet; -1 stops whatever runs now.
    void requestStop(qint64 request_id = -1);

    // Thread-safe, cheap: the live memory/Engram/throughput figures of the
    // running model; none without a model.
    std::optional<eg::LiveFigures> live() const;
    // Thread-safe: the n most-read Engram rows, hottest first; empty without
    // an Engram model.
    std::vector<eg::ModelExtension::HotRow> hottest(int n) const;
    // Thread-safe: what the server says about the loaded model; none without one.
    struct ModelFacts {
        QString name;         // the file's base name, the id clients ask for
        int32_t n_vocab = 0;
        int64_t n_ctx = 0;
    };
    std::optional<ModelFacts> modelFacts() const;
    // On the engine thread: the live figures computed afresh from the
    // session itself, for checking live() against.
    std::optional<eg::LiveFigures> engineStats() const;
    // Placements made since start (loads and applies), for tests.
    int placements() const { return placements_.load(); }

    // Pieces are coalesced to at most one `pieces` signal per this interval (a frame).
    static constexpr int kPieceIntervalMs = 16;

public slots:
    // Loads under the placement (what it leaves unset takes the default).
    void loadModel(const QString& path, const eg::PlacementRequest& placement = {});
    // Re-places the loaded model under new budgets without a restart: a new
    // session (its expert cache, for a MoE model, sized by the expert DRAM
    // budget; and, when the Engram DRAM budget's bytes changed, the Engram
    // tables reopened). The conversation is kept by the caller; its KV state
    // is rebuilt by the next reply. On failure the previous placement stays.
    void applyPlacement(const eg::PlacementRequest& placement);
    // One reply: the conversation, trimmed to fit the context by the engine's
    // rule (ChatSession::fit, said through trimmed()), then generated.
    void generate(qint64 request_id, const eg::ReplyRequest& request);
    // One request of the local server, in turn with the window's replies
    // (both arrive through this thread's event queue, first come first served).
    void serve(const std::shared_ptr<eg::app::ServerJob>& job);

signals:
    void loadProgress(double fraction);
    void modelLoaded(const QString& name, const QString& path);
    void loadFailed(const QString& error);
    // After every load and apply.
    void placed(const eg::PlacementReport& report);
    void placementFailed(const QString& error);
    // Before the reply's first piece, when the oldest turns of the
    // conversation were left out so that it fits the context.
    void trimmed(qint64 request_id, const QString& notice);  // the engine's words (eg::trimmed_notice)
    void pieces(qint64 request_id, const QString& text);
    void finished(qint64 request_id, const eg::ReplyStats& stats);
    void failed(qint64 request_id, const QString& error);

private:
    struct Loaded;  // a model, its session and plan, swapped as one
    void unload();
    // Places `existing` (when null: loads path first) under the budgets;
    // the new state, or an error that changed nothing.
    Result<std::unique_ptr<Loaded>> place(const QString& path, const eg::PlacementRequest& placement,
                                          const eg::Model* existing);
    void install(std::unique_ptr<Loaded> l);  // swaps under live_mu_, emits placed()

    std::unique_ptr<Loaded> cur_;
    mutable std::mutex live_mu_;  // guards cur_ against the readers on other threads
    eg::ThroughputCounters counters_;
    std::atomic<bool> stop_{false};
    std::atomic<qint64> stop_through_id_{-1};  // requests with id <= this are stopped
    std::atomic<int> placements_{0};
};

}  // namespace eg::app
