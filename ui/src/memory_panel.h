// The memory panel's view-model: budget sliders (VRAM, Engram DRAM and, for
// a mixture-of-experts model, the experts' DRAM) and the context length, a
// preview of the plan they would give — computed by the planner here, on the
// GUI thread, without touching the engine — and Apply, which asks the engine
// to re-place the running model. While a model runs it samples the engine's
// live figures at 4 Hz: bytes per tier by category, Engram hit rates,
// bytes/s, stall and lead, the hottest rows, the expert tier's hit rate next
// to the best possible and its busiest experts, and tokens/s over the last
// minutes. Budgets are remembered per model.
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QPointF>
#include <QSettings>
#include <QStringList>
#include <QTimer>
#include <QVariantList>
#include <QVariantMap>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/extension.h"
#include "plan/apply.h"
#include "plan/live.h"

namespace eg::ui {

// nlohmann::json as QVariant (objects become QVariantMap, arrays
// QVariantList), walked directly: the planner's and the live figures' one
// JSON form (plan/live.h, the CLI's --stats-json) is what QML reads.
QVariant json_to_variant(const nlohmann::json& j);

class MemoryPanel : public QObject {
    Q_OBJECT
    Q_PROPERTY(bool ready READ ready NOTIFY placementChanged)
    Q_PROPERTY(QString modelPath READ modelPath NOTIFY placementChanged)
    Q_PROPERTY(bool hasEngram READ hasEngram NOTIFY placementChanged)
    Q_PROPERTY(bool vramAvailable READ vramAvailable NOTIFY placementChanged)
    Q_PROPERTY(QString vramUnavailableReason READ vramUnavailableReason NOTIFY placementChanged)
    Q_PROPERTY(double vramMax READ vramMax NOTIFY placementChanged)
    Q_PROPERTY(double vramBudget READ vramBudget WRITE setVramBudget NOTIFY budgetsChanged)
    Q_PROPERTY(QVariantList gpus READ gpus NOTIFY placementChanged)
    Q_PROPERTY(QString gpuNote READ gpuNote NOTIFY placementChanged)
    Q_PROPERTY(QString engramUnavailableReason READ engramUnavailableReason NOTIFY placementChanged)
    Q_PROPERTY(double engramMax READ engramMax NOTIFY placementChanged)
    Q_PROPERTY(double engramTableBytes READ engramTableBytes NOTIFY placementChanged)
    Q_PROPERTY(double engramBudget READ engramBudget WRITE setEngramBudget NOTIFY budgetsChanged)
    Q_PROPERTY(bool hasExperts READ hasExperts NOTIFY placementChanged)
    Q_PROPERTY(double expertBytes READ expertBytes NOTIFY placementChanged)
    Q_PROPERTY(double expertMax READ expertMax NOTIFY placementChanged)
    Q_PROPERTY(double expertBudget READ expertBudget WRITE setExpertBudget NOTIFY budgetsChanged)
    Q_PROPERTY(int contextLength READ contextLength WRITE setContextLength NOTIFY budgetsChanged)
    Q_PROPERTY(int contextMax READ contextMax NOTIFY placementChanged)
    Q_PROPERTY(QVariantMap preview READ preview NOTIFY previewChanged)
    Q_PROPERTY(QString placementSummary READ placementSummary NOTIFY previewChanged)
    Q_PROPERTY(QStringList changes READ changes NOTIFY previewChanged)
    Q_PROPERTY(QVariantMap current READ current NOTIFY placementChanged)
    Q_PROPERTY(bool dirty READ dirty NOTIFY previewChanged)
    Q_PROPERTY(bool applying READ applying NOTIFY applyingChanged)
    Q_PROPERTY(QStringList notes READ notes NOTIFY placementChanged)
    Q_PROPERTY(QString error READ error NOTIFY errorChanged)
    Q_PROPERTY(QVariantMap live READ live NOTIFY sampled)
    Q_PROPERTY(QVariantMap rates READ rates NOTIFY sampled)
    Q_PROPERTY(QVariantList prefillSeries READ prefillSeries NOTIFY sampled)
    Q_PROPERTY(QVariantList decodeSeries READ decodeSeries NOTIFY sampled)
    Q_PROPERTY(double now READ now NOTIFY sampled)
    Q_PROPERTY(double seriesSpan READ seriesSpan CONSTANT)
    Q_PROPERTY(QVariantList heat READ heat NOTIFY heatChanged)
    Q_PROPERTY(int heatRows READ heatRows CONSTANT)
    Q_PROPERTY(QVariantList expertHeat READ expertHeat NOTIFY sampled)
    Q_PROPERTY(bool visible READ visible WRITE setVisible NOTIFY visibleChanged)

public:
    static constexpr int kSampleIntervalMs = 250;  // 4 Hz
    static constexpr double kSeriesSpanS = 180;    // the chart's last three minutes
    static constexpr int kHeatRows = 512;          // hottest rows in the heat strip
    static constexpr int kHeatBins = 32;

    using LiveSource = std::function<std::optional<eg::LiveFigures>()>;
    using HeatSource = std::function<std::vector<eg::ModelExtension::HotRow>(int n)>;

    // prefs: where budgets are remembered per model (may be null).
    explicit MemoryPanel(QSettings* prefs, QObject* parent = nullptr);

    // Where live figures come from (EngineWorker::live / hottest); thread-safe callables.
    void setSources(LiveSource live, HeatSource heat);
    // Options from the command line, parsed there, for this run only:
    // assume_gpu (plan for a GPU this machine does not have) and the
    // budgets, overriding what is remembered.
    void setOverrides(const eg::PlacementRequest& o) { overrides_ = o; }

    // The placement to load `path` with: the remembered budgets and context
    // for this model, then the overrides.
    eg::PlacementRequest placementFor(const QString& path) const;

    bool ready() const { return run_ != nullptr; }
    QString modelPath() const { return path_; }
    bool hasEngram() const;
    bool vramAvailable() const;
    QString vramUnavailableReason() const;
    double vramMax() const;
    double vramBudget() const { return vram_budget_; }
    void setVramBudget(double bytes);
    // The GPUs the plugin found: {device, name, vramTotal, vramFree,
    // computeCapability}, as probed when the model was placed.
    QVariantList gpus() const;
    // What runs them (the GPU plugin's line) and, with several, that a model
    // uses the first only for now; empty without a GPU.
    QString gpuNote() const;
    QString engramUnavailableReason() const;
    double engramMax() const;
    double engramTableBytes() const;
    double engramBudget() const { return engram_budget_; }
    void setEngramBudget(double bytes);
    // A mixture-of-experts model (ModelInfo::n_expert > 0): its experts have
    // their own DRAM budget, the rest read from the file on demand.
    bool hasExperts() const;
    double expertBytes() const;  // all the experts' bytes: what "%" refers to
    double expertMax() const;    // at most what DRAM can hold
    double expertBudget() const { return expert_budget_; }
    void setExpertBudget(double bytes);
    int contextLength() const { return n_ctx_; }
    void setContextLength(int n);
    int contextMax() const;
    QVariantMap preview() const { return preview_; }
    // The preview in plain words: where the layers run ("All 30 layers run
    // on the processor; no graphics card was found.") and the expected speed.
    QString placementSummary() const;
    QStringList changes() const { return changes_; }
    QVariantMap current() const { return current_; }
    bool dirty() const;
    bool applying() const { return applying_; }
    QStringList notes() const { return notes_; }
    QString error() const { return error_; }
    QVariantMap live() const { return live_; }
    QVariantMap rates() const { return rates_; }
    QVariantList prefillSeries() const { return points(prefill_); }
    QVariantList decodeSeries() const { return points(decode_); }
    double now() const { return clock_.elapsed() / 1000.0; }
    double seriesSpan() const { return kSeriesSpanS; }
    QVariantList heat() const { return heat_; }
    int heatRows() const { return kHeatRows; }
    // The live figures' busiest experts, busiest first: {layer, expert, uses,
    // level (uses over the busiest's), resident}; empty without an expert tier.
    QVariantList expertHeat() const { return expert_heat_; }
    bool visible() const { return visible_; }
    void setVisible(bool v);

    // "1.5 GiB", "312 MiB" (the planner's wording).
    Q_INVOKABLE QString formatBytes(double bytes) const;
    // The budget the sliders would apply, as the engine thread gets it.
    eg::PlacementRequest request() const;
    // "2G", "512M", "1.5GiB", "5%" (of `whole`) in bytes: the budget fields'
    // edge. -1 when it is none of these, and `error` says so, naming `what`.
    Q_INVOKABLE double parseBudget(const QString& text, double whole, const QString& what);
    // Asks the engine to re-place the model under the sliders' budgets and
    // remembers them for this model.
    Q_INVOKABLE void apply();
    // Sliders back to the applied placement.
    Q_INVOKABLE void revert();

public slots:
    void onPlaced(const eg::PlacementReport& report);
    void onPlacementFailed(const QString& error);
    void onLoadFailed(const QString& error);
    // One sample of the live figures (the timer calls it every 250 ms).
    void sample();
    void refreshHeat();

signals:
    void applyRequested(const eg::PlacementRequest& placement);
    void placementChanged();
    void budgetsChanged();
    void previewChanged();
    void applyingChanged();
    void errorChanged();
    void sampled();
    void heatChanged();
    void visibleChanged();

private:
    void updatePreview();
    void setError(const QString& e);
    QString settingsKey(const QString& path) const;
    static QVariantList points(const QList<QPointF>& s);

    QSettings* prefs_;
    eg::PlacementRequest overrides_;
    LiveSource live_source_;
    HeatSource heat_source_;
    eg::PlannedRunPtr run_;
    QString path_;
    eg::PlacementRequest applied_;
    double vram_budget_ = 0, engram_budget_ = 0, expert_budget_ = 0;
    int n_ctx_ = 0;
    eg::Placement preview_plan_;
    QVariantMap preview_, current_, live_, rates_;
    QStringList changes_, notes_;
    QString error_;
    bool applying_ = false;
    bool visible_ = false;
    QTimer timer_;
    QElapsedTimer clock_;
    QList<QPointF> prefill_, decode_;  // (seconds since start, tokens/s)
    std::optional<eg::LiveFigures> last_;  // the previous sample
    double last_t_ = 0;
    int ticks_ = 0;
    QVariantList heat_, expert_heat_;
};

}  // namespace eg::ui

