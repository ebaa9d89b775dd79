#include "engine_worker.h"

#include <QElapsedTimer>
#include <QFileInfo>
#include <QRandomGenerator>

#include <string>
#include <vector>

#include "core/log.h"
#include "engram_model.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "plan/model_info.h"
#include "runtime/chat_session.h"
#include "runtime/generate.h"
#include "runtime/json_constraint.h"
#include "runtime/stop_sequences.h"
#include "tokenizer/tokenizer.h"

namespace eg::app {

// A model, its session and the plan they follow: what a load or an apply
// produces and swaps in as one. Members go in reverse: chat, session, model.
struct EngineWorker::Loaded {
    QString path, name;
    eg::PlacementRequest applied;  // the request as applied (Engram budget set, n_ctx the plan's)
    std::unique_ptr<eg::Model> model;
    std::unique_ptr<eg::Session> session;
    std::unique_ptr<eg::ChatSession> chat;  // renders the template and fits the prompt
    eg::PlannedRunPtr run;
    // Sizes at placement and after each reply (read by other threads under
    // live_mu_; the session itself is only touched on the engine thread).
    eg::SessionMemory memory;
    uint64_t state_bytes = 0;  // the extension's per-sequence state
    std::vector<std::string> notes;
    nlohmann::json measured;

    // Sizes as the session holds them now (on the engine thread).
    void measure() {
        memory = session->memory();
        if (const eg::ModelExtension* x = session->model().extension())
            state_bytes = memory.extension_bytes - std::min(memory.extension_bytes, x->resident_bytes());
    }
};

namespace {

uint64_t dram_resident(const eg::ExtensionStats& es) {
    uint64_t n = 0;
    for (const auto& t : es.tiers)
        if (t.tier == "dram") n += t.bytes_resident;
    return n;
}

// An engine message as a sentence that another can follow.
QString sentence(const std::string& message) {
    QString s = QString::fromStdString(message).trimmed();
    if (!s.isEmpty() && !s.endsWith(QLatin1Char('.'))) s += QLatin1Char('.');
    return s;
}

// Reads the file's shape for the default Engram DRAM budget (plan/apply.h)
// and for comparing budgets in bytes.
Result<eg::ModelInfo> read_model_info(const std::string& path) {
    auto f = eg::GgufFile::open(path);
    if (!f) return f.error();
    return eg::model_info(*f.value());
}

std::string budget_text(const std::optional<eg::ByteBudget>& b) { return b ? b->to_string() : std::string("default"); }

}  // namespace

EngineWorker::EngineWorker(QObject* parent) : QObject(parent) {}

EngineWorker::~EngineWorker() { unload(); }

void EngineWorker::unload() {
    std::unique_ptr<Loaded> old;
    {
        std::lock_guard lk(live_mu_);
        old = std::move(cur_);
    }
    // Destroyed outside the lock: the Engram store saves its hot-row counts.
}

void EngineWorker::requestStop(qint64 request_id) {
    if (request_id >= 0) {
        qint64 cur = stop_through_id_.load();
        while (cur < request_id && !stop_through_id_.compare_exchange_weak(cur, request_id)) {
        }
    }
    stop_.store(true);
}

Result<std::unique_ptr<EngineWorker::Loaded>> EngineWorker::place(const QString& path,
                                                                  const eg::PlacementRequest& placement,
                                                                  const eg::Model* existing) {
    auto l = std::make_unique<Loaded>();
    l->path = path;
    l->name = QFileInfo(path).completeBaseName();
    const std::string file = path.toStdString();
    eg::PlanRequest r;
    static_cast<eg::PlacementRequest&>(r) = placement;
    if (!r.engram_dram_budget) {
        // The default is settled here, once: the store opens under it and the plan prices it.
        auto info = read_model_info(file);
        r.engram_dram_budget = info ? eg::default_engram_dram_budget(info.value()) : eg::ByteBudget::all();
    }
    const eg::Model* m = existing;
    if (!m) {
        // Engram models get their modules and the tiered store under the budget.
        auto opt = eg::engram::make_options(*r.engram_dram_budget, "wtinylfu", true, true, true);
        if (!opt) return opt.error();
        auto lm = eg::engram::load_model(file, opt.value());
        if (!lm) return lm.error();
        l->model = std::move(lm.value());
        m = l->model.get();
        emit loadProgress(0.6);
    }
    auto placed = eg::place_session(*m, r, eg::SessionOptions{});
    if (!placed) return placed.error();
    l->session = std::move(placed->session);
    l->session->set_counters(&counters_);
    l->notes = std::move(placed->notes);
    l->measured = std::move(placed->measured);
    auto c = eg::ChatSession::create(*l->session);
    if (!c) return c.error();
    l->chat = std::move(c.value());
    l->measure();
    l->applied = r;
    l->applied.n_ctx = placed->run.budgets.n_ctx;
    l->run = std::make_shared<const eg::PlannedRun>(std::move(placed->run));
    return l;
}

void EngineWorker::install(std::unique_ptr<Loaded> l) {
    std::unique_ptr<Loaded> old;
    {
        std::lock_guard lk(live_mu_);
        if (!l->model && cur_) l->model = std::move(cur_->model);  // re-placed on the same model
        old = std::move(cur_);
        cur_ = std::move(l);
    }
    old.reset();  // its session referred to the model that cur_ now owns
    placements_.fetch_add(1);
    const Loaded& c = *cur_;
    eg::PlacementReport report{c.path.toStdString(), c.run, c.applied, c.notes, c.measured};
    EG_LOG_INFO("model {} placed: {} of {} blocks on the GPU, context {}, {} threads, predicted {:.1f} tok/s decode",
                c.name.toStdString(), c.run->placement.n_gpu_blocks, c.run->placement.blocks.size(),
                c.session->n_ctx(), c.session->n_threads(), c.run->placement.predicted.decode_tokens_per_s);
    emit placed(report);
}

void EngineWorker::loadModel(const QString& path, const eg::PlacementRequest& placement) {
    emit loadProgress(0.0);
    EG_LOG_INFO("loading model {}", path.toStdString());
    QElapsedTimer t;
    t.start();
    unload();
    auto l = place(path, placement, nullptr);
    if (!l) {
        EG_LOG_ERROR("cannot load {}: {}", path.toStdString(), l.message());
        emit loadFailed(QString::fromStdString(l.message()));
        return;
    }
    emit loadProgress(0.9);
    const QString name = l.value()->name;
    EG_LOG_INFO("model {} loaded in {} ms", name.toStdString(), t.elapsed());
    install(std::move(l.value()));
    emit loadProgress(1.0);
    emit modelLoaded(name, path);
}

void EngineWorker::applyPlacement(const eg::PlacementRequest& placement) {
    if (!cur_) {
        emit placementFailed(tr("No model is loaded."));
        return;
    }
    const QString path = cur_->path;
    const eg::PlacementRequest previous = cur_->applied;
    eg::PlacementRequest want = placement;
    if (!want.engram_dram_budget) want.engram_dram_budget = previous.engram_dram_budget;
    if (!want.expert_dram_budget) want.expert_dram_budget = previous.expert_dram_budget;
    // The tables reopen only when the budget's bytes change: "100%" and the
    // tables' size in bytes are the same budget.
    const uint64_t tables = cur_->run->model.engram_table_bytes();
    const bool reopen = cur_->model->extension() != nullptr &&
                        want.engram_dram_budget->resolve(tables) != previous.engram_dram_budget->resolve(tables);
    // A MoE model's expert cache belongs to the session, which is made anew
    // below in any case: a changed budget (in bytes; none is the default the
    // planner takes) only opens the new session's tier at its size.
    const eg::ModelInfo& info = cur_->run->model;
    const uint64_t experts = info.expert_bytes();
    const auto expert_bytes = [&](const std::optional<eg::ByteBudget>& b) {
        return std::min((b ? *b : eg::default_expert_dram_budget(info)).resolve(experts), experts);
    };
    const bool experts_change =
        experts > 0 && expert_bytes(want.expert_dram_budget) != expert_bytes(previous.expert_dram_budget);
    EG_LOG_INFO("re-placing {}: VRAM budget {}, Engram DRAM budget {}, expert DRAM budget {}, context {}{}{}",
                path.toStdString(), budget_text(want.vram_budget), budget_text(want.engram_dram_budget),
                budget_text(want.expert_dram_budget), want.n_ctx, reopen ? " (the Engram tables reopen)" : "",
                experts_change ? " (the expert cache is resized)" : "");
    if (!reopen) {
        // A new session on the same model; the old one stays if this fails.
        auto l = place(path, want, cur_->model.get());
        if (!l) {
            emit placementFailed(sentence(l.message()) + tr(" The previous placement stays."));
            return;
        }
        install(std::move(l.value()));
        return;
    }
    // The Engram budget is the store's: the model reopens under it. The old
    // one goes first (its hot-row counts are saved and its DRAM freed, so a
    // large table is never held twice).
    unload();
    auto l = place(path, want, nullptr);
    if (l) {
        install(std::move(l.value()));
        return;
    }
    const QString why = sentence(l.message());
    auto back = place(path, previous, nullptr);
    if (back) {
        install(std::move(back.value()));
        emit placementFailed(why + tr(" The previous placement was restored."));
    } else {
        emit placementFailed(why + tr(" The model could not be reloaded either: %1").arg(sentence(back.message())));
        emit loadFailed(QString::fromStdString(back.message()));
    }
}

std::optional<eg::LiveFigures> EngineWorker::live() const {
    std::lock_guard lk(live_mu_);
    if (!cur_) return std::nullopt;
    const eg::ModelExtension* x = cur_->model->extension();
    const eg::ExtensionStats es = x ? x->stats() : eg::ExtensionStats{};
    // The sizes cached on the engine thread; the Engram rows resident now.
    eg::SessionMemory mem = cur_->memory;
    mem.extension_bytes = cur_->state_bytes + dram_resident(es);
    return eg::live_figures(mem, x ? &es : nullptr, counters_.snapshot(), *cur_->run, cur_->session->experts());
}

std::optional<eg::LiveFigures> EngineWorker::engineStats() const {
    if (!cur_) return std::nullopt;
    const eg::ModelExtension* x = cur_->model->extension();
    const eg::ExtensionStats es = x ? x->stats() : eg::ExtensionStats{};
    return eg::live_figures(cur_->session->memory(), x ? &es : nullptr, counters_.snapshot(), *cur_->run,
                            cur_->session->experts());
}

std::vector<eg::ModelExtension::HotRow> EngineWorker::hottest(int n) const {
    std::lock_guard lk(live_mu_);
    if (!cur_ || n <= 0) return {};
    const eg::ModelExtension* x = cur_->model->extension();
    return x ? x->hottest((size_t)n) : std::vector<eg::ModelExtension::HotRow>{};
}

void EngineWorker::generate(qint64 request_id, const eg::ReplyRequest& request) {
    if (!cur_) {
        emit failed(request_id, tr("No model is loaded."));
        return;
    }
    eg::Session& session = *cur_->session;
    eg::ChatSession& chat = *cur_->chat;
    eg::ReplyStats stats;
    if (request_id <= stop_through_id_.load()) {
        // Stopped before it started: an empty, stopped reply.
        stats.stop_reason = eg::StopReason::Stopped;
        emit finished(request_id, stats);
        return;
    }
    stop_.store(false);
    // A stop for this request may have landed between the check and the reset.
    if (request_id <= stop_through_id_.load()) stop_.store(true);

    std::vector<eg::ChatMessage> msgs = request.with_system_prompt();
    eg::GenerateOptions opt = request.settings.options(QRandomGenerator::global()->generate64());
    opt.stop = &stop_;

    // The engine's one trimming rule: room for the reply, the oldest turns
    // after the system prompt left out when the prompt does not fit.
    auto fitted = chat.fit(msgs, opt.max_tokens);
    if (!fitted) {
        emit failed(request_id, QString::fromStdString(fitted.message()));
        return;
    }
    const std::vector<int32_t>& prompt = fitted.value().tokens;
    if (fitted.value().dropped_turns > 0)
        emit trimmed(request_id,
                     QString::fromStdString(eg::trimmed_notice(fitted.value().dropped_turns, session.n_ctx())));

    // Pieces are gathered and sent at most once per frame; the first goes at once.
    std::string pending;
    QElapsedTimer since_emit;
    bool emitted_any = false;
    auto on_piece = [&](const std::string& piece) {
        pending += piece;
        if (!emitted_any || since_emit.elapsed() >= kPieceIntervalMs) {
            emit pieces(request_id, QString::fromUtf8(pending.data(), (qsizetype)pending.size()));
            pending.clear();
            since_emit.start();
            emitted_any = true;
        }
    };
    auto r = eg::generate(session, prompt, opt, on_piece);
    if (!pending.empty()) emit pieces(request_id, QString::fromUtf8(pending.data(), (qsizetype)pending.size()));
    if (!r) {
        EG_LOG_ERROR("generation failed: {}", r.message());
        emit failed(request_id, QString::fromStdString(r.message()));
        return;
    }
    {
        // The per-sequence state grew with the reply: the live view's sizes follow.
        std::lock_guard lk(live_mu_);
        cur_->measure();
    }
    stats.prompt_tokens = (int64_t)prompt.size();
    stats.generation = r.value().stats;
    stats.stop_reason = r.value().stop_reason;
    emit finished(request_id, stats);
}

std::optional<EngineWorker::ModelFacts> EngineWorker::modelFacts() const {
    std::lock_guard lk(live_mu_);
    if (!cur_) return std::nullopt;
    return ModelFacts{cur_->name, cur_->model->tokenizer().n_vocab(), cur_->session->n_ctx()};
}

void EngineWorker::serve(const std::shared_ptr<ServerJob>& job) {
    ServerJob::Outcome out;
    if (job->cancel.load()) {
        // The client left while this waited: the engine moves on at once.
        out.cancelled = true;
        job->on_done(out);
        return;
    }
    if (!cur_) {
        out.error = "No model is loaded.";
        job->on_done(out);
        return;
    }
    if (job->on_start) job->on_start();
    eg::Session& session = *cur_->session;
    std::vector<int32_t> prompt;
    if (job->chat && !job->tools.empty() && cur_->chat->template_takes_tools()) {
        // The model's template writes the tools and the calls itself.
        auto t = cur_->chat->render_tokens(
            nlohmann::ordered_json{{"messages", job->template_messages}, {"tools", job->tools}});
        const int64_t room = eg::reply_room(job->options.max_tokens, session.n_ctx());
        if (!t || (int64_t)t.value().size() + room > session.n_ctx()) {
            out.error = !t ? "the chat template cannot render these messages and tools: " + t.message()
                           : "the conversation and its tools are too long for the context: " +
                                 std::to_string(t.value().size()) + " tokens plus " + std::to_string(room) +
                                 " for the reply exceed " + std::to_string(session.n_ctx());
            out.client_error = true;
            job->on_done(out);
            return;
        }
        prompt = std::move(t.value());
    } else if (job->chat) {
        // The window's trimming rule: the oldest turns go when the prompt
        // and the reply's room do not fit.
        std::vector<eg::ChatMessage> msgs = job->messages;
        auto fitted = cur_->chat->fit(msgs, job->options.max_tokens);
        if (!fitted) {
            out.error = fitted.message();
            out.client_error = true;
            job->on_done(out);
            return;
        }
        prompt = std::move(fitted.value().tokens);
    } else {
        const eg::Tokenizer& tok = session.model().tokenizer();
        prompt = tok.encode(job->prompt, /*add_special=*/true, /*parse_special=*/true);
        const int64_t room = eg::reply_room(job->options.max_tokens, session.n_ctx());
        if ((int64_t)prompt.size() + room > session.n_ctx()) {
            out.error = "the prompt is too long for the context: " + std::to_string(prompt.size()) + " tokens plus " +
                        std::to_string(room) + " for the reply exceed " + std::to_string(session.n_ctx());
            out.client_error = true;
            job->on_done(out);
            return;
        }
    }

    if (job->count_only) {
        out.prompt_tokens = (int64_t)prompt.size();
        out.finish_reason = "stop";
        job->on_done(out);
        return;
    }
    eg::GenerateOptions opt = job->options;
    opt.stop = &job->cancel;
    std::unique_ptr<eg::JsonConstraint> json;
    if (job->json_reply) {
        auto c = eg::JsonConstraint::create(session.model().tokenizer(), job->json_schema);
        if (!c) {
            out.error = c.message();
            out.client_error = true;
            job->on_done(out);
            return;
        }
        json = std::move(c.value());
        opt.constraint = json.get();
    }
    eg::StopSequences stops(job->stop_sequences);
    auto on_piece = [&](const std::string& piece) {
        if (stops.empty()) {
            job->on_text(piece);
            return;
        }
        const std::string text = stops.push(piece);
        if (!text.empty()) job->on_text(text);
        if (stops.matched()) job->cancel.store(true);  // ends the reply at the next token
    };
    auto r = eg::generate(session, prompt, opt, on_piece);
    if (!r) {
        EG_LOG_ERROR("server request failed: {}", r.message());
        out.error = r.message();
        job->on_done(out);
        return;
    }
    if (const std::string tail = stops.flush(); !tail.empty()) job->on_text(tail);
    {
        std::lock_guard lk(live_mu_);
        cur_->measure();
    }
    out.prompt_tokens = (int64_t)prompt.size();
    out.completion_tokens = r.value().stats.generated_tokens;
    out.stats = r.value().stats;
    if (stops.matched()) {
        out.finish_reason = "stop";
        out.stop_sequence = stops.matched_sequence();
    } else {
        switch (r.value().stop_reason) {
            case eg::StopReason::EndOfGeneration: out.finish_reason = "stop"; break;
            case eg::StopReason::MaxTokens:
            case eg::StopReason::ContextFull: out.finish_reason = "length"; break;
            case eg::StopReason::Stopped: out.cancelled = true; break;
        }
    }
    job->on_done(out);
}

}  // namespace eg::app
