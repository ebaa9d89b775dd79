#include "memory_panel.h"

#include <QFileInfo>
#include <QRegularExpression>

#include <algorithm>
#include <cmath>

#include "backend/gpu.h"
#include "format.h"
#include "plan/planner.h"
#include "plan/probe.h"

namespace eg::ui {

QVariant json_to_variant(const nlohmann::json& j) {
    switch (j.type()) {
    case nlohmann::json::value_t::object: {
        QVariantMap m;
        for (auto it = j.begin(); it != j.end(); ++it) m.insert(QString::fromStdString(it.key()), json_to_variant(*it));
        return m;
    }
    case nlohmann::json::value_t::array: {
        QVariantList l;
        l.reserve((qsizetype)j.size());
        for (const auto& e : j) l.push_back(json_to_variant(e));
        return l;
    }
    case nlohmann::json::value_t::string: return QString::fromStdString(j.get<std::string>());
    case nlohmann::json::value_t::boolean: return j.get<bool>();
    // Numbers as double, as QML's numbers are (byte counts stay exact up to 2^53).
    case nlohmann::json::value_t::number_integer: return (double)j.get<int64_t>();
    case nlohmann::json::value_t::number_unsigned: return (double)j.get<uint64_t>();
    case nlohmann::json::value_t::number_float: return j.get<double>();
    default: return QVariant::fromValue(nullptr);
    }
}

namespace {

// Share of Engram row reads the plan serves from memory (VRAM cache or DRAM),
// weighted by table size.
double memory_hit_rate(const eg::Placement& p) {
    double w = 0, h = 0;
    for (const auto& t : p.engram) {
        w += (double)t.table_bytes;
        h += (double)t.table_bytes * (t.vram_hit_rate + t.dram_hit_rate);
    }
    return w > 0 ? h / w : 1.0;
}

QString pct(double x) { return QString::number(std::lround(x * 100)) + QLatin1Char('%'); }

// A remembered budget, as to_string() wrote it; none when absent or unreadable.
std::optional<eg::ByteBudget> budget_from(const QVariant& v) {
    if (!v.isValid()) return std::nullopt;
    auto b = eg::parse_byte_budget(v.toString().toStdString(), "remembered budget");
    return b ? std::optional(b.value()) : std::nullopt;
}

}  // namespace

MemoryPanel::MemoryPanel(QSettings* prefs, QObject* parent) : QObject(parent), prefs_(prefs) {
    clock_.start();
    timer_.setInterval(kSampleIntervalMs);
    timer_.setTimerType(Qt::CoarseTimer);
    connect(&timer_, &QTimer::timeout, this, &MemoryPanel::sample);
}

void MemoryPanel::setSources(LiveSource live, HeatSource heat) {
    live_source_ = std::move(live);
    heat_source_ = std::move(heat);
    if (live_source_) timer_.start();
    else timer_.stop();
}

QString MemoryPanel::settingsKey(const QString& path) const {
    QString name = QFileInfo(path).fileName();
    name.replace(QRegularExpression(QStringLiteral("[^A-Za-z0-9._-]")), QStringLiteral("_"));
    return QStringLiteral("memory/") + name;
}

eg::PlacementRequest MemoryPanel::placementFor(const QString& path) const {
    eg::PlacementRequest r;
    if (prefs_) {
        const QString k = settingsKey(path) + QLatin1Char('/');
        r.vram_budget = budget_from(prefs_->value(k + QStringLiteral("vram_budget")));
        r.engram_dram_budget = budget_from(prefs_->value(k + QStringLiteral("engram_dram_budget")));
        r.expert_dram_budget = budget_from(prefs_->value(k + QStringLiteral("expert_dram_budget")));
        r.n_ctx = prefs_->value(k + QStringLiteral("n_ctx"), 0).toLongLong();
    }
    if (overrides_.vram_budget) r.vram_budget = overrides_.vram_budget;
    if (overrides_.engram_dram_budget) r.engram_dram_budget = overrides_.engram_dram_budget;
    if (overrides_.expert_dram_budget) r.expert_dram_budget = overrides_.expert_dram_budget;
    if (overrides_.n_ctx > 0) r.n_ctx = overrides_.n_ctx;
    if (overrides_.assume_gpu) r.assume_gpu = overrides_.assume_gpu;
    return r;
}

bool MemoryPanel::hasEngram() const { return run_ && !run_->model.engram_tables.empty(); }

bool MemoryPanel::vramAvailable() const { return run_ && !run_->hardware.gpus.empty(); }

QString MemoryPanel::vramUnavailableReason() const {
    if (!run_ || vramAvailable()) return {};
    for (const std::string& n : run_->hardware.notes)
        if (n.rfind("no GPU: ", 0) == 0)
            return tr("No usable GPU: %1. Every block runs on the CPU.").arg(QString::fromStdString(n.substr(8)));
    return tr("No usable GPU. Every block runs on the CPU.");
}

QString MemoryPanel::placementSummary() const {
    if (!run_) return {};
    const int n = preview_.value(QStringLiteral("blocks")).toList().size();
    const int on_gpu = preview_.value(QStringLiteral("n_gpu_blocks")).toInt();
    const QString gpu = run_->hardware.gpus.empty() ? QString() : QString::fromStdString(run_->hardware.gpus[0].name);
    QString where;
    if (run_->hardware.gpus.empty())
        where = tr("All %1 layers run on the processor; no graphics card was found.").arg(n);
    else if (on_gpu == 0)
        where = tr("All %1 layers run on the processor; this VRAM budget leaves none on the graphics card (%2).")
                    .arg(n)
                    .arg(gpu);
    else if (on_gpu == n)
        where = tr("All %1 layers run on the graphics card (%2).").arg(n).arg(gpu);
    else
        where = tr("%1 of %2 layers run on the graphics card (%3), the other %4 on the processor.")
                    .arg(on_gpu)
                    .arg(n)
                    .arg(gpu)
                    .arg(n - on_gpu);
    const double tps = preview_.value(QStringLiteral("predicted")).toMap().value(QStringLiteral("decode_tokens_per_s")).toDouble();
    if (tps > 0) where += QLatin1Char(' ') + tr("Expected speed: about %1 tokens/s.").arg(tps, 0, 'f', tps < 10 ? 1 : 0);
    return where;
}

QVariantList MemoryPanel::gpus() const {
    QVariantList out;
    if (!run_) return out;
    for (size_t i = 0; i < run_->hardware.gpus.size(); ++i) {
        const eg::GpuHardware& g = run_->hardware.gpus[i];
        out << QVariantMap{{QStringLiteral("device"), QStringLiteral("cuda:%1").arg(i)},
                           {QStringLiteral("name"), QString::fromStdString(g.name)},
                           {QStringLiteral("vramTotal"), (double)g.vram_total_bytes},
                           {QStringLiteral("vramFree"), (double)g.vram_free_bytes},
                           {QStringLiteral("computeCapability"),
                            g.cc_major ? QStringLiteral("%1.%2").arg(g.cc_major).arg(g.cc_minor) : QString()}};
    }
    return out;
}

QString MemoryPanel::gpuNote() const {
    if (!run_ || run_->hardware.gpus.empty()) return {};
    QStringList parts;
    const eg::GpuPluginStatus& plugin = eg::gpu_plugin();
    if (run_->hardware.gpus[0].assumed)
        parts << tr("Planning for an assumed GPU (--assume-gpu); blocks run on the CPU.");
    else if (plugin.loaded)
        parts << tr("GPU backend: %1.").arg(QString::fromStdString(plugin.describe));
    if (run_->hardware.gpus.size() > 1)
        parts << tr("%1 GPUs found: a model runs on the first (cuda:0) for now; using several at once is a later "
                    "step.")
                     .arg(run_->hardware.gpus.size());
    return parts.join(QLatin1Char(' '));
}

double MemoryPanel::vramMax() const { return vramAvailable() ? (double)run_->hardware.gpus[0].vram_free_bytes : 0.0; }

QString MemoryPanel::engramUnavailableReason() const {
    if (!run_ || hasEngram()) return {};
    return tr("This model has no Engram tables: its token table is part of the weights.");
}

double MemoryPanel::engramTableBytes() const { return run_ ? (double)run_->model.engram_table_bytes() : 0.0; }

double MemoryPanel::engramMax() const {
    if (!run_) return 0;
    // Free memory was read with the current tables resident: they count as free here.
    const double avail = (double)run_->hardware.dram_free_bytes + (double)run_->placement.dram.engram_bytes;
    return std::min(engramTableBytes(), avail);
}

bool MemoryPanel::hasExperts() const { return run_ && run_->model.n_expert > 0; }

double MemoryPanel::expertBytes() const { return hasExperts() ? (double)run_->model.expert_bytes() : 0.0; }

double MemoryPanel::expertMax() const {
    if (!hasExperts()) return 0;
    // As for the Engram rows: the experts DRAM holds now count as free.
    const double avail = (double)run_->hardware.dram_free_bytes + (double)run_->placement.dram.expert_bytes;
    return std::min(expertBytes(), avail);
}

// The experts' DRAM budget a plan was made under, in bytes (its default is "all").
static double applied_expert_budget(const eg::PlannedRun& run) {
    return (double)std::min<uint64_t>(run.budgets.expert_dram_bytes, run.model.expert_bytes());
}

int MemoryPanel::contextMax() const {
    if (!run_) return 4096;
    return (int)std::max<int64_t>(run_->model.n_ctx_train > 0 ? run_->model.n_ctx_train : 4096, 256);
}

void MemoryPanel::setVramBudget(double bytes) {
    bytes = std::clamp(std::round(bytes), 0.0, vramMax());
    if (bytes == vram_budget_) return;
    vram_budget_ = bytes;
    emit budgetsChanged();
    updatePreview();
}

void MemoryPanel::setEngramBudget(double bytes) {
    bytes = std::clamp(std::round(bytes), 0.0, std::max(engramMax(), 0.0));
    if (bytes == engram_budget_) return;
    engram_budget_ = bytes;
    emit budgetsChanged();
    updatePreview();
}

void MemoryPanel::setExpertBudget(double bytes) {
    bytes = std::clamp(std::round(bytes), 0.0, std::max(expertMax(), 0.0));
    if (bytes == expert_budget_) return;
    expert_budget_ = bytes;
    emit budgetsChanged();
    updatePreview();
}

void MemoryPanel::setContextLength(int n) {
    n = std::clamp(n, 256, contextMax());
    if (n == n_ctx_) return;
    n_ctx_ = n;
    emit budgetsChanged();
    updatePreview();
}

bool MemoryPanel::dirty() const {
    if (!run_) return false;
    const eg::Budgets& b = run_->budgets;
    return (uint64_t)vram_budget_ != b.vram_bytes || (uint64_t)engram_budget_ != b.engram_dram_bytes ||
           (hasExperts() && expert_budget_ != applied_expert_budget(*run_)) || n_ctx_ != b.n_ctx;
}

QString MemoryPanel::formatBytes(double bytes) const {
    return format_bytes(bytes > 0 ? (qint64)bytes : 0);
}

double MemoryPanel::parseBudget(const QString& text, double whole, const QString& what) {
    auto b = eg::parse_byte_budget(text.trimmed().toStdString(), what.toStdString());
    if (!b) {
        setError(QString::fromStdString(b.message()) + QLatin1Char('.'));
        return -1.0;
    }
    setError({});
    return (double)b->resolve(whole > 0 ? (uint64_t)whole : 0);
}

void MemoryPanel::updatePreview() {
    if (!run_) return;
    eg::Budgets b = run_->budgets;
    b.vram_bytes = (uint64_t)vram_budget_;
    b.engram_dram_bytes = (uint64_t)engram_budget_;
    if (hasExperts()) b.expert_dram_bytes = (uint64_t)expert_budget_;
    b.n_ctx = n_ctx_;
    // The planner is pure and cheap: the preview never touches the engine.
    preview_plan_ = eg::plan(run_->model, run_->hardware, b);
    preview_ = json_to_variant(eg::to_json(preview_plan_)).toMap();

    const eg::Placement& a = run_->placement;
    const eg::Placement& p = preview_plan_;
    QStringList c;
    const auto bytes = [this](uint64_t x) { return formatBytes((double)x); };
    if (p.n_gpu_blocks != a.n_gpu_blocks)
        c << tr("Blocks on the GPU: %1 → %2 of %3").arg(a.n_gpu_blocks).arg(p.n_gpu_blocks).arg(p.blocks.size());
    if (p.output_device != a.output_device)
        c << tr("Output head: %1 → %2").arg(QString::fromStdString(a.output_device), QString::fromStdString(p.output_device));
    if (p.vram.bytes() != a.vram.bytes()) c << tr("VRAM used: %1 → %2").arg(bytes(a.vram.bytes()), bytes(p.vram.bytes()));
    if (p.dram.bytes() != a.dram.bytes()) c << tr("DRAM used: %1 → %2").arg(bytes(a.dram.bytes()), bytes(p.dram.bytes()));
    if (hasEngram() && (p.dram.engram_bytes != a.dram.engram_bytes || p.vram.engram_bytes != a.vram.engram_bytes)) {
        c << tr("Engram rows in DRAM: %1 → %2; reads served from memory %3 → %4 (predicted)")
                 .arg(bytes(a.dram.engram_bytes), bytes(p.dram.engram_bytes), pct(memory_hit_rate(a)),
                      pct(memory_hit_rate(p)));
    }
    if (hasExperts() && (p.experts.dram_bytes != a.experts.dram_bytes || p.experts.ssd_bytes != a.experts.ssd_bytes)) {
        c << tr("Experts in DRAM: %1 → %2 of %3; expert uses served from DRAM at least %4 → %5 (predicted)")
                 .arg(bytes(a.experts.dram_bytes), bytes(p.experts.dram_bytes), bytes(p.experts.total_bytes),
                      pct(a.experts.dram_hit_rate), pct(p.experts.dram_hit_rate));
        c << tr("Apply makes a new session with the experts' cache; the conversation continues.");
    }
    if (b.n_ctx != run_->budgets.n_ctx)
        c << tr("Context: %1 → %2 tokens (KV cache %3 → %4)")
                 .arg(run_->budgets.n_ctx)
                 .arg(b.n_ctx)
                 .arg(bytes(a.vram.kv_bytes + a.dram.kv_bytes), bytes(p.vram.kv_bytes + p.dram.kv_bytes));
    const double t0 = a.predicted.decode_tokens_per_s, t1 = p.predicted.decode_tokens_per_s;
    if (std::abs(t1 - t0) > 0.05)
        c << tr("Predicted decode: %1 → %2 tok/s (%3%4%)")
                 .arg(t0, 0, 'f', 1)
                 .arg(t1, 0, 'f', 1)
                 .arg(t1 >= t0 ? QStringLiteral("+") : QString())
                 .arg(t0 > 0 ? (t1 / t0 - 1) * 100 : 0.0, 0, 'f', 0);
    if (hasEngram() && b.engram_dram_bytes != run_->budgets.engram_dram_bytes)
        c << tr("Apply reopens the Engram tables; the conversation continues.");
    if (c.isEmpty()) c << tr("No change from the running placement.");
    changes_ = c;
    emit previewChanged();
}

eg::PlacementRequest MemoryPanel::request() const {
    eg::PlacementRequest r;
    if (vramAvailable()) r.vram_budget = eg::ByteBudget::exactly((uint64_t)vram_budget_);
    r.engram_dram_budget = hasEngram() ? eg::ByteBudget::exactly((uint64_t)engram_budget_) : applied_.engram_dram_budget;
    r.expert_dram_budget =
        hasExperts() ? std::optional(eg::ByteBudget::exactly((uint64_t)expert_budget_)) : applied_.expert_dram_budget;
    r.n_ctx = n_ctx_;
    r.assume_gpu = overrides_.assume_gpu;
    return r;
}

void MemoryPanel::apply() {
    if (!run_ || applying_) return;
    const eg::PlacementRequest r = request();
    // The user's choice wins over the command line from now on, and is remembered.
    overrides_.vram_budget.reset();
    overrides_.engram_dram_budget.reset();
    if (hasExperts()) overrides_.expert_dram_budget.reset();
    if (prefs_) {
        const QString k = settingsKey(path_) + QLatin1Char('/');
        if (r.vram_budget) prefs_->setValue(k + QStringLiteral("vram_budget"), QString::fromStdString(r.vram_budget->to_string()));
        if (hasEngram())
            prefs_->setValue(k + QStringLiteral("engram_dram_budget"),
                             QString::fromStdString(r.engram_dram_budget->to_string()));
        if (hasExperts())
            prefs_->setValue(k + QStringLiteral("expert_dram_budget"),
                             QString::fromStdString(r.expert_dram_budget->to_string()));
        prefs_->setValue(k + QStringLiteral("n_ctx"), n_ctx_);
        prefs_->sync();
    }
    setError({});
    applying_ = true;
    emit applyingChanged();
    emit applyRequested(r);
}

void MemoryPanel::revert() {
    if (!run_) return;
    vram_budget_ = (double)run_->budgets.vram_bytes;
    engram_budget_ = (double)run_->budgets.engram_dram_bytes;
    expert_budget_ = hasExperts() ? applied_expert_budget(*run_) : 0.0;
    n_ctx_ = (int)run_->budgets.n_ctx;
    emit budgetsChanged();
    updatePreview();
}

void MemoryPanel::onPlaced(const eg::PlacementReport& report) {
    run_ = report.run;
    path_ = QString::fromStdString(report.path);
    applied_ = report.applied;
    notes_.clear();
    for (const std::string& n : report.notes) notes_ << QString::fromStdString(n);
    const auto text = [](const std::optional<eg::ByteBudget>& b) {
        return b ? QString::fromStdString(b->to_string()) : QString();
    };
    // What QML and the tests read; the panel itself keeps the typed report.
    current_ = {{QStringLiteral("path"), path_},
                {QStringLiteral("plan"), json_to_variant(eg::to_json(run_->placement))},
                {QStringLiteral("hardware"), json_to_variant(eg::to_json(run_->hardware))},
                {QStringLiteral("measured"), json_to_variant(report.measured)},
                {QStringLiteral("notes"), notes_},
                {QStringLiteral("settings"),
                 QVariantMap{{QStringLiteral("vram_budget"), text(applied_.vram_budget)},
                             {QStringLiteral("engram_dram_budget"), text(applied_.engram_dram_budget)},
                             {QStringLiteral("expert_dram_budget"), text(applied_.expert_dram_budget)},
                             {QStringLiteral("n_ctx"), (qint64)applied_.n_ctx},
                             {QStringLiteral("assume_gpu"), applied_.assume_gpu.has_value()}}}};
    if (applying_) {
        applying_ = false;
        emit applyingChanged();
    }
    setError({});
    emit placementChanged();
    revert();
    refreshHeat();
}

void MemoryPanel::onPlacementFailed(const QString& error) {
    if (applying_) {
        applying_ = false;
        emit applyingChanged();
    }
    setError(error);
}

void MemoryPanel::onLoadFailed(const QString& error) {
    run_.reset();
    current_.clear();
    onPlacementFailed(error);
    emit placementChanged();
}

void MemoryPanel::setError(const QString& e) {
    if (e == error_) return;
    error_ = e;
    emit errorChanged();
}

void MemoryPanel::setVisible(bool v) {
    if (v == visible_) return;
    visible_ = v;
    emit visibleChanged();
    if (v) refreshHeat();
}

QVariantList MemoryPanel::points(const QList<QPointF>& s) {
    QVariantList out;
    out.reserve(s.size());
    for (const QPointF& p : s) out.push_back(p);
    return out;
}

void MemoryPanel::sample() {
    if (!live_source_) return;
    const std::optional<eg::LiveFigures> l = live_source_();
    if (!l) return;
    const double t = now();
    const double dt = t - last_t_;
    if (last_) {
        // Tokens/s over the time each phase ran since the last sample.
        const auto rate = [](uint64_t tok, uint64_t ns, uint64_t tok0, uint64_t ns0) {
            return ns > ns0 && tok > tok0 ? (double)(tok - tok0) * 1e9 / (double)(ns - ns0) : -1.0;
        };
        const eg::ThroughputCounters::Snapshot &a = last_->throughput, &b = l->throughput;
        if (const double r = rate(b.prefill_tokens, b.prefill_ns, a.prefill_tokens, a.prefill_ns); r > 0)
            prefill_.push_back({t, r});
        if (const double r = rate(b.decode_tokens, b.decode_ns, a.decode_tokens, a.decode_ns); r > 0)
            decode_.push_back({t, r});
    }
    while (!prefill_.isEmpty() && prefill_.front().x() < t - kSeriesSpanS) prefill_.pop_front();
    while (!decode_.isEmpty() && decode_.front().x() < t - kSeriesSpanS) decode_.pop_front();

    // Engram bytes/s per tier; a reopened store starts its counts again.
    QVariantMap r;
    if (dt > 0 && run_ && l->engram) {
        double rows = 0;
        for (const auto& e : run_->model.engram_tables) rows += (double)e.rows;
        const double row_bytes = rows > 0 ? (double)run_->model.engram_table_bytes() / rows : 0.0;
        const auto d = [&](const char* tier, uint64_t eg::TierStats::*field) {
            const eg::TierStats* now_t = l->engram_tier(tier);
            const eg::TierStats* was_t = last_ ? last_->engram_tier(tier) : nullptr;
            const double now_v = now_t ? (double)(now_t->*field) : 0.0, was = was_t ? (double)(was_t->*field) : 0.0;
            return now_v >= was ? now_v - was : now_v;
        };
        const double hits = d("dram", &eg::TierStats::hits), misses = d("dram", &eg::TierStats::misses);
        r[QStringLiteral("dram_bytes_per_s")] = hits * row_bytes / dt;
        r[QStringLiteral("ssd_bytes_per_s")] = d("ssd", &eg::TierStats::bytes_read) / dt;
        r[QStringLiteral("lookups_per_s")] = (hits + misses) / dt;
        r[QStringLiteral("recent_dram_hit_rate")] = hits + misses > 0 ? QVariant(hits / (hits + misses)) : QVariant();
    }
    rates_ = r;
    live_ = json_to_variant(eg::to_json(*l)).toMap();
    // The busiest experts for the heat strip, from the typed figures.
    QVariantList xh;
    if (l->experts && !l->experts->hottest.empty()) {
        const double top = std::max<double>(1.0, (double)l->experts->hottest.front().uses);
        for (const eg::ExpertTier::Heat& h : l->experts->hottest)
            xh.push_back(QVariantMap{{QStringLiteral("layer"), (qint64)h.layer},
                                     {QStringLiteral("expert"), (qint64)h.expert},
                                     {QStringLiteral("uses"), (double)h.uses},
                                     {QStringLiteral("level"), (double)h.uses / top},
                                     {QStringLiteral("resident"), h.resident}});
    }
    expert_heat_ = xh;
    last_ = l;
    last_t_ = t;
    emit sampled();
    if (visible_ && ++ticks_ % 4 == 0) refreshHeat();  // 1 Hz: it walks the row counts
}

void MemoryPanel::refreshHeat() {
    QVariantList out;
    const std::vector<eg::ModelExtension::HotRow> rows =
        heat_source_ && hasEngram() ? heat_source_(kHeatRows) : std::vector<eg::ModelExtension::HotRow>{};
    if (!rows.empty()) {
        const double top = std::max(1.0, (double)rows.front().count);
        const int n_rows = (int)rows.size();
        const int per = std::max(1, (n_rows + kHeatBins - 1) / kHeatBins);
        for (int i = 0; i < n_rows; i += per) {
            double sum = 0, resident = 0;
            const int n = std::min(per, n_rows - i);
            for (int k = i; k < i + n; ++k) {
                sum += rows[k].count;
                resident += rows[k].resident ? 1 : 0;
            }
            out.push_back(QVariantMap{{QStringLiteral("level"), sum / n / top},
                                      {QStringLiteral("count"), sum / n},
                                      {QStringLiteral("resident"), resident / n},
                                      {QStringLiteral("first_rank"), i + 1}});
        }
    }
    heat_ = out;
    emit heatChanged();
}

}  // namespace eg::ui
