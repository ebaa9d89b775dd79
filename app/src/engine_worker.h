// The engine on its own thread: EngineWorker is moved to a QThread and owns
// the model and its Session. The GUI thread talks to it through queued
// signals/slots, except requestStop() (an atomic flag) and the memory
// panel's readers live() and hottest(), which take a short lock and never
// wait for a generation.
#pragma once

#include <QObject>
#include <QString>
#include <QVariantList>
#include <QVariantMap>

#include <atomic>
#include <memory>
#include <mutex>

#include "memory_panel.h"  // PlannedRunPtr
#include "runtime/session.h"
#include "runtime/throughput.h"

namespace eg {
class Model;
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

    // Thread-safe, cheap: the live memory/Engram/throughput object of the
    // running model (plan/live.h as a QVariantMap); empty without a model.
    QVariantMap live() const;
    // Thread-safe: the n most-read Engram rows, hottest first, as
    // [{count, resident}]; empty without an Engram model.
    QVariantList hottest(int n) const;
    // Placements made since start (loads and applies), for tests.
    int placements() const { return placements_.load(); }

    // Pieces are coalesced to at most one `pieces` signal per this interval (a frame).
    static constexpr int kPieceIntervalMs = 16;

public slots:
    void loadModel(const QString& path);
    // placement: vram_budget, engram_dram_budget (bytes or "25%"; "" = the
    // default), n_ctx (0 = the model's, at most 4096), assume_gpu.
    void loadModelWith(const QString& path, const QVariantMap& placement);
    // Re-places the loaded model under new budgets without a restart: a new
    // session (and, when the Engram DRAM budget changed, the Engram tables
    // reopened). The conversation is kept by the caller; its KV state is
    // rebuilt by the next reply. On failure the previous placement stays.
    void applyPlacement(const QVariantMap& placement);
    // messages: [{role, content}], oldest first, ending with the user's turn.
    // settings: temperature, top_p, top_k, min_p, repeat_penalty, max_tokens,
    // seed (< 0: random), system_prompt.
    void generate(qint64 request_id, const QVariantList& messages, const QVariantMap& settings);
    // The live object computed afresh from the session itself (on this
    // thread), for checking live() against.
    QVariantMap engineStats() const;

signals:
    void loadProgress(double fraction);
    void modelLoaded(const QString& name, const QString& path);
    void loadFailed(const QString& error);
    // After every load and apply: {path, plan, hardware, measured, notes,
    // settings:{vram_budget, engram_dram_budget, n_ctx, assume_gpu}} and the plan itself.
    void placed(const QVariantMap& info, eg::ui::PlannedRunPtr run);
    void placementFailed(const QString& error);
    // Before the reply's first piece, when the oldest turns of the
    // conversation were left out so that it fits the context.
    void trimmed(qint64 request_id, int dropped_turns, qint64 n_ctx);
    void pieces(qint64 request_id, const QString& text);
    // stats: prompt_tokens, prefilled_tokens, reused_tokens, completion_tokens,
    // tokens_per_s, ttft_ms, stop_reason ("end of generation", "max tokens",
    // "context full", "stopped").
    void finished(qint64 request_id, const QVariantMap& stats);
    void failed(qint64 request_id, const QString& error);

private:
    struct Loaded;  // a model, its session and plan, swapped as one
    void unload();
    // Places `existing` (when null: loads path first) under the budgets;
    // the new state, or an error that changed nothing.
    Result<std::unique_ptr<Loaded>> place(const QString& path, const QVariantMap& placement, const eg::Model* existing);
    void install(std::unique_ptr<Loaded> l);  // swaps under live_mu_, emits placed()

    std::unique_ptr<Loaded> cur_;
    mutable std::mutex live_mu_;  // guards cur_ against the readers on other threads
    eg::ThroughputCounters counters_;
    std::atomic<bool> stop_{false};
    std::atomic<qint64> stop_through_id_{-1};  // requests with id <= this are stopped
    std::atomic<int> placements_{0};
};

}  // namespace eg::app
