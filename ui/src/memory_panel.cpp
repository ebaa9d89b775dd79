#include "memory_panel.h"

#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>

#include <algorithm>
#include <cmath>
#include <initializer_list>

#include "plan/planner.h"
#include "plan/probe.h"

namespace eg::ui {

QVariant json_to_variant(const nlohmann::json& j) {
    // Through Qt's own JSON reader: one element of an array, so scalars work too.
    const QJsonDocument d = QJsonDocument::fromJson(QByteArray::fromStdString(nlohmann::json::array({j}).dump()));
    return d.array().at(0).toVariant();
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

// m["a"]["b"]... as a number (0 when absent).
double num(const QVariantMap& m, std::initializer_list<const char*> path) {
    QVariant v = m;
    for (const char* k : path) v = v.toMap().value(QLatin1String(k));
    return v.toDouble();
}

}  // namespace

MemoryPanel::MemoryPanel(QSettings* prefs, QObject* parent) : QObject(parent), prefs_(prefs) {
    qRegisterMetaType<PlannedRunPtr>();  // crosses from the engine thread in EngineWorker::placed
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

QVariantMap MemoryPanel::settingsFor(const QString& path) const {
    QVariantMap s;
    if (prefs_) {
        const QString k = settingsKey(path);
        for (const char* key : {"vram_budget", "engram_dram_budget", "n_ctx"}) {
            const QVariant v = prefs_->value(k + QLatin1Char('/') + QLatin1String(key));
            if (v.isValid()) s[QLatin1String(key)] = v;
        }
    }
    for (auto it = overrides_.cbegin(); it != overrides_.cend(); ++it)
        if (!it.value().toString().isEmpty()) s[it.key()] = it.value();
    return s;
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
           n_ctx_ != b.n_ctx;
}

QString MemoryPanel::formatBytes(double bytes) const {
    return QString::fromStdString(eg::format_bytes(bytes > 0 ? (uint64_t)bytes : 0));
}

double MemoryPanel::parseBudget(const QString& text, double whole) const {
    auto b = eg::parse_byte_budget(text.trimmed().toStdString(), "budget");
    return b ? (double)b->resolve(whole > 0 ? (uint64_t)whole : 0) : -1.0;
}

void MemoryPanel::updatePreview() {
    if (!run_) return;
    eg::Budgets b = run_->budgets;
    b.vram_bytes = (uint64_t)vram_budget_;
    b.engram_dram_bytes = (uint64_t)engram_budget_;
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

void MemoryPanel::apply() {
    if (!run_ || applying_) return;
    QVariantMap s;
    s[QStringLiteral("vram_budget")] = vramAvailable() ? QString::number((qulonglong)vram_budget_) : QString();
    s[QStringLiteral("engram_dram_budget")] =
        hasEngram() ? QString::number((qulonglong)engram_budget_) : applied_settings_.value(QStringLiteral("engram_dram_budget")).toString();
    s[QStringLiteral("n_ctx")] = n_ctx_;
    s[QStringLiteral("assume_gpu")] = overrides_.value(QStringLiteral("assume_gpu")).toString();
    // The user's choice wins over the command line from now on, and is remembered.
    overrides_.remove(QStringLiteral("vram_budget"));
    overrides_.remove(QStringLiteral("engram_dram_budget"));
    if (prefs_) {
        const QString k = settingsKey(path_);
        if (vramAvailable()) prefs_->setValue(k + QStringLiteral("/vram_budget"), s.value(QStringLiteral("vram_budget")));
        if (hasEngram())
            prefs_->setValue(k + QStringLiteral("/engram_dram_budget"), s.value(QStringLiteral("engram_dram_budget")));
        prefs_->setValue(k + QStringLiteral("/n_ctx"), n_ctx_);
        prefs_->sync();
    }
    setError({});
    applying_ = true;
    emit applyingChanged();
    emit applyRequested(s);
}

void MemoryPanel::revert() {
    if (!run_) return;
    vram_budget_ = (double)run_->budgets.vram_bytes;
    engram_budget_ = (double)run_->budgets.engram_dram_bytes;
    n_ctx_ = (int)run_->budgets.n_ctx;
    emit budgetsChanged();
    updatePreview();
}

void MemoryPanel::onPlaced(const QVariantMap& info, PlannedRunPtr run) {
    run_ = std::move(run);
    path_ = info.value(QStringLiteral("path")).toString();
    current_ = info;
    applied_settings_ = info.value(QStringLiteral("settings")).toMap();
    notes_ = info.value(QStringLiteral("notes")).toStringList();
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
    const QVariantMap l = live_source_();
    if (l.isEmpty()) return;
    const double t = now();
    const double dt = t - last_t_;
    // Tokens/s over the time each phase ran since the last sample.
    const auto rate = [&](const char* tokens, const char* ms) {
        const double dms = num(l, {"throughput", ms}) - num(last_, {"throughput", ms});
        const double dtok = num(l, {"throughput", tokens}) - num(last_, {"throughput", tokens});
        return dms > 0 && dtok > 0 ? dtok * 1000.0 / dms : -1.0;
    };
    if (!last_.isEmpty()) {
        if (const double r = rate("prefill_tokens", "prefill_ms"); r > 0) prefill_.push_back({t, r});
        if (const double r = rate("decode_tokens", "decode_ms"); r > 0) decode_.push_back({t, r});
    }
    while (!prefill_.isEmpty() && prefill_.front().x() < t - kSeriesSpanS) prefill_.pop_front();
    while (!decode_.isEmpty() && decode_.front().x() < t - kSeriesSpanS) decode_.pop_front();

    // Engram bytes/s per tier; a reopened store starts its counts again.
    QVariantMap r;
    const QVariant engram = l.value(QStringLiteral("engram"));
    if (dt > 0 && run_ && engram.isValid() && !engram.isNull()) {
        double rows = 0;
        for (const auto& e : run_->model.engram_tables) rows += (double)e.rows;
        const double row_bytes = rows > 0 ? (double)run_->model.engram_table_bytes() / rows : 0.0;
        const auto d = [&](const char* tier, const char* field) {
            const double now_v = num(l, {"engram", "tiers", tier, field});
            const double was = num(last_, {"engram", "tiers", tier, field});
            return now_v >= was ? now_v - was : now_v;
        };
        const double hits = d("dram", "hits"), misses = d("dram", "misses");
        r[QStringLiteral("dram_bytes_per_s")] = hits * row_bytes / dt;
        r[QStringLiteral("ssd_bytes_per_s")] = d("ssd", "bytes_read") / dt;
        r[QStringLiteral("lookups_per_s")] = (hits + misses) / dt;
        r[QStringLiteral("recent_dram_hit_rate")] = hits + misses > 0 ? QVariant(hits / (hits + misses)) : QVariant();
    }
    rates_ = r;
    live_ = l;
    last_ = l;
    last_t_ = t;
    emit sampled();
    if (visible_ && ++ticks_ % 4 == 0) refreshHeat();  // 1 Hz: it walks the row counts
}

void MemoryPanel::refreshHeat() {
    QVariantList out;
    const QVariantList rows = heat_source_ && hasEngram() ? heat_source_(kHeatRows) : QVariantList();
    if (!rows.isEmpty()) {
        const double top = std::max(1.0, rows.front().toMap().value(QStringLiteral("count")).toDouble());
        const int per = std::max(1, (int)((rows.size() + kHeatBins - 1) / kHeatBins));
        for (int i = 0; i < rows.size(); i += per) {
            double sum = 0, resident = 0;
            const int n = std::min(per, (int)rows.size() - i);
            for (int k = i; k < i + n; ++k) {
                const QVariantMap m = rows[k].toMap();
                sum += m.value(QStringLiteral("count")).toDouble();
                resident += m.value(QStringLiteral("resident")).toBool() ? 1 : 0;
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
