#include "engine_worker.h"

#include <QElapsedTimer>
#include <QFileInfo>
#include <QRandomGenerator>

#include <string>
#include <vector>

#include "core/log.h"
#include "engram_model.h"
#include "model/model.h"
#include "runtime/chat_session.h"
#include "runtime/generate.h"
#include "runtime/session.h"
#include "plan/apply.h"
#include "plan/live.h"
#include "plan/model_info.h"
#include "plan/probe.h"
#include "gguf/gguf.h"

namespace eg::app {

// A model, its session and the plan they follow: what a load or an apply
// produces and swaps in as one. Members go in reverse: chat, session, model.
struct EngineWorker::Loaded {
    QString path, name;
    QVariantMap settings;  // vram_budget, engram_dram_budget, n_ctx, assume_gpu as applied
    std::unique_ptr<eg::Model> model;
    std::unique_ptr<eg::Session> session;
    std::unique_ptr<eg::ChatSession> chat;  // used only to render the template
    eg::ui::PlannedRunPtr run;
    // Sizes at placement and after each reply (read by other threads under
    // live_mu_; the session itself is only touched on the engine thread).
    eg::SessionMemory memory;
    uint64_t state_bytes = 0;  // the extension's per-sequence state
    QStringList notes;
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

// The Engram DRAM budget when the user has not set one: all of the tables
// when they take at most half of the available memory, else that half.
std::string default_engram_budget(const std::string& path) {
    auto f = eg::GgufFile::open(path);
    if (!f) return "100%";
    auto info = eg::model_info(*f.value());
    uint64_t total = 0, avail = 0;
    if (!info || !eg::read_meminfo(&total, &avail)) return "100%";
    const uint64_t tables = info->engram_table_bytes();
    return tables <= avail / 2 ? std::string("100%") : std::to_string(avail / 2);
}

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

Result<std::unique_ptr<EngineWorker::Loaded>> EngineWorker::place(const QString& path, const QVariantMap& placement,
                                                                  const eg::Model* existing) {
    auto l = std::make_unique<Loaded>();
    l->path = path;
    l->name = QFileInfo(path).completeBaseName();
    const std::string file = path.toStdString();
    std::string engram = placement.value(QStringLiteral("engram_dram_budget")).toString().trimmed().toStdString();
    if (engram.empty()) engram = default_engram_budget(file);
    const eg::Model* m = existing;
    if (!m) {
        // Engram models get their modules and the tiered store under the budget.
        auto opt = eg::engram::make_options(engram, "wtinylfu", true, true, true);
        if (!opt) return opt.error();
        auto lm = eg::engram::load_model(file, opt.value());
        if (!lm) return lm.error();
        l->model = std::move(lm.value());
        m = l->model.get();
        emit loadProgress(0.6);
    }
    eg::PlanRequest r;
    r.vram_budget = placement.value(QStringLiteral("vram_budget")).toString().trimmed().toStdString();
    r.engram_dram_budget = engram;
    r.n_ctx = placement.value(QStringLiteral("n_ctx")).toLongLong();
    r.assume_gpu = placement.value(QStringLiteral("assume_gpu")).toString().trimmed().toStdString();
    auto placed = eg::place_session(*m, r, eg::SessionOptions{});
    if (!placed) return placed.error();
    l->session = std::move(placed->session);
    l->session->set_counters(&counters_);
    for (const std::string& n : placed->notes) l->notes << QString::fromStdString(n);
    l->measured = std::move(placed->measured);
    auto c = eg::ChatSession::create(*l->session);
    if (!c) return c.error();
    l->chat = std::move(c.value());
    l->measure();
    const eg::Budgets& b = placed->run.budgets;
    l->settings = {{QStringLiteral("vram_budget"), QString::fromStdString(r.vram_budget)},
                   {QStringLiteral("engram_dram_budget"), QString::fromStdString(engram)},
                   {QStringLiteral("n_ctx"), (qint64)b.n_ctx},
                   {QStringLiteral("assume_gpu"), QString::fromStdString(r.assume_gpu)}};
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
    QVariantMap info;
    info[QStringLiteral("path")] = c.path;
    info[QStringLiteral("plan")] = eg::ui::json_to_variant(eg::to_json(c.run->placement));
    info[QStringLiteral("hardware")] = eg::ui::json_to_variant(eg::to_json(c.run->hardware));
    info[QStringLiteral("measured")] = eg::ui::json_to_variant(c.measured);
    info[QStringLiteral("notes")] = c.notes;
    info[QStringLiteral("settings")] = c.settings;
    EG_LOG_INFO("model {} placed: {} of {} blocks on the GPU, context {}, {} threads, predicted {:.1f} tok/s decode",
                c.name.toStdString(), c.run->placement.n_gpu_blocks, c.run->placement.blocks.size(),
                c.session->n_ctx(), c.session->n_threads(), c.run->placement.predicted.decode_tokens_per_s);
    emit placed(info, c.run);
}

void EngineWorker::loadModel(const QString& path) { loadModelWith(path, {}); }

void EngineWorker::loadModelWith(const QString& path, const QVariantMap& placement) {
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

void EngineWorker::applyPlacement(const QVariantMap& placement) {
    if (!cur_) {
        emit placementFailed(tr("No model is loaded."));
        return;
    }
    const QString path = cur_->path;
    const QVariantMap previous = cur_->settings;
    QString engram = placement.value(QStringLiteral("engram_dram_budget")).toString().trimmed();
    if (engram.isEmpty()) engram = previous.value(QStringLiteral("engram_dram_budget")).toString();
    const bool reopen = cur_->model->extension() != nullptr &&
                        engram != previous.value(QStringLiteral("engram_dram_budget")).toString();
    EG_LOG_INFO("re-placing {}: VRAM budget '{}', Engram DRAM budget '{}', context {}{}", path.toStdString(),
                placement.value(QStringLiteral("vram_budget")).toString().toStdString(), engram.toStdString(),
                placement.value(QStringLiteral("n_ctx")).toLongLong(), reopen ? " (the Engram tables reopen)" : "");
    QVariantMap want = placement;
    want[QStringLiteral("engram_dram_budget")] = engram;
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

namespace {

// The live object (plan/live.h): sizes `mem`, the extension's stats `es`
// (nullptr: none), the counters and the plan.
QVariantMap live_variant(const eg::SessionMemory& mem, const eg::ExtensionStats* es, const eg::PlannedRun& run,
                         const eg::ThroughputCounters& counters) {
    return eg::ui::json_to_variant(eg::live_json(eg::measure_memory(mem, es, run), es, counters.snapshot(), run.placement))
        .toMap();
}

}  // namespace

QVariantMap EngineWorker::live() const {
    std::lock_guard lk(live_mu_);
    if (!cur_) return {};
    const eg::ModelExtension* x = cur_->model->extension();
    const eg::ExtensionStats es = x ? x->stats() : eg::ExtensionStats{};
    // The sizes cached on the engine thread; the Engram rows resident now.
    eg::SessionMemory mem = cur_->memory;
    mem.extension_bytes = cur_->state_bytes + dram_resident(es);
    return live_variant(mem, x ? &es : nullptr, *cur_->run, counters_);
}

QVariantMap EngineWorker::engineStats() const {
    if (!cur_) return {};
    const eg::ModelExtension* x = cur_->model->extension();
    const eg::ExtensionStats es = x ? x->stats() : eg::ExtensionStats{};
    return live_variant(cur_->session->memory(), x ? &es : nullptr, *cur_->run, counters_);
}

QVariantList EngineWorker::hottest(int n) const {
    std::lock_guard lk(live_mu_);
    QVariantList out;
    if (!cur_ || n <= 0) return out;
    const eg::ModelExtension* x = cur_->model->extension();
    if (!x) return out;
    for (const auto& h : x->hottest((size_t)n))
        out.push_back(QVariantMap{{QStringLiteral("count"), (qint64)h.count}, {QStringLiteral("resident"), h.resident}});
    return out;
}

namespace {

eg::GenerateOptions options_from(const QVariantMap& s) {
    eg::GenerateOptions o;
    eg::SamplerParams& p = o.sampling;
    p.temperature = s.value(QStringLiteral("temperature"), p.temperature).toFloat();
    p.top_p = s.value(QStringLiteral("top_p"), p.top_p).toFloat();
    p.top_k = s.value(QStringLiteral("top_k"), p.top_k).toInt();
    p.min_p = s.value(QStringLiteral("min_p"), p.min_p).toFloat();
    p.repeat_penalty = s.value(QStringLiteral("repeat_penalty"), p.repeat_penalty).toFloat();
    const qint64 seed = s.value(QStringLiteral("seed"), -1).toLongLong();
    p.seed = seed >= 0 ? (uint64_t)seed : QRandomGenerator::global()->generate64();
    o.max_tokens = s.value(QStringLiteral("max_tokens"), 512).toLongLong();
    return o;
}

}  // namespace

void EngineWorker::generate(qint64 request_id, const QVariantList& messages, const QVariantMap& settings) {
    if (!cur_) {
        emit failed(request_id, tr("No model is loaded."));
        return;
    }
    eg::Session& session = *cur_->session;
    eg::ChatSession& chat = *cur_->chat;
    QVariantMap stats;
    if (request_id <= stop_through_id_.load()) {
        // Stopped before it started: an empty, stopped reply.
        stats[QStringLiteral("stop_reason")] = QString::fromLatin1(eg::stop_reason_name(eg::StopReason::Stopped));
        emit finished(request_id, stats);
        return;
    }
    stop_.store(false);
    // A stop for this request may have landed between the check and the reset.
    if (request_id <= stop_through_id_.load()) stop_.store(true);

    std::vector<eg::ChatMessage> msgs;
    const QString system = settings.value(QStringLiteral("system_prompt")).toString();
    if (!system.trimmed().isEmpty()) msgs.push_back({"system", system.toStdString()});
    for (const QVariant& v : messages) {
        const QVariantMap m = v.toMap();
        msgs.push_back({m.value(QStringLiteral("role")).toString().toStdString(),
                        m.value(QStringLiteral("content")).toString().toStdString()});
    }

    eg::GenerateOptions opt = options_from(settings);
    opt.stop = &stop_;

    // The engine's one trimming rule: room for the reply, the oldest turns
    // after the system prompt left out when the prompt does not fit.
    auto fitted = chat.fit(msgs, opt.max_tokens);
    if (!fitted) {
        emit failed(request_id, QString::fromStdString(fitted.message()));
        return;
    }
    const std::vector<int32_t>& prompt = fitted.value().tokens;
    if (fitted.value().dropped_turns > 0) emit trimmed(request_id, (int)fitted.value().dropped_turns, session.n_ctx());

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
    const eg::GenerationStats& st = r.value().stats;
    stats[QStringLiteral("prompt_tokens")] = (qint64)prompt.size();
    stats[QStringLiteral("prefilled_tokens")] = (qint64)st.prompt_tokens;
    stats[QStringLiteral("reused_tokens")] = (qint64)st.reused_tokens;
    stats[QStringLiteral("completion_tokens")] = (qint64)st.generated_tokens;
    stats[QStringLiteral("tokens_per_s")] = st.generate_tokens_per_s();
    stats[QStringLiteral("ttft_ms")] = st.time_to_first_token_ms;
    stats[QStringLiteral("stop_reason")] = QString::fromLatin1(eg::stop_reason_name(r.value().stop_reason));
    stats[QStringLiteral("model")] = cur_->name;
    emit finished(request_id, stats);
}

}  // namespace eg::app
