#include "remote_models.h"

#include "core/log.h"
#include "library/engine_metrics.h"

namespace eg::ui {

using eg::library::RemoteEngine;
using eg::library::RemoteEngineEntry;

namespace {
constexpr int kPollMs = 2000;
}  // namespace

RemoteModels::RemoteModels(const QString& data_dir, QObject* parent) : QObject(parent), list_(data_dir) {
    qRegisterMetaType<eg::ReplyStats>();
    if (const eg::Status loaded = list_.load(); !loaded) {
        list_error_ = QString::fromStdString(loaded.message());
        EG_LOG_WARN("{}", loaded.message());
    }
    poll_.setInterval(kPollMs);
    connect(&poll_, &QTimer::timeout, this, &RemoteModels::read_metrics);
}

RemoteModels::~RemoteModels() = default;

QVariantList RemoteModels::engines() const {
    QVariantList out;
    for (const RemoteEngineEntry& e : list_.engines())
        out.push_back(QVariantMap{{QStringLiteral("id"), e.id},
                                  {QStringLiteral("url"), e.base_url.toString()},
                                  {QStringLiteral("label"), e.label()},
                                  {QStringLiteral("models"), e.models},
                                  {QStringLiteral("hasKey"), e.has_key},
                                  {QStringLiteral("inUse"), e.id == active_engine_ && active()}});
    return out;
}

QString RemoteModels::engineName() const {
    if (!metrics_engine_.isEmpty()) return metrics_engine_;
    if (RemoteEngine* c = clients_.value(active_engine_))
        if (const QString owner = eg::library::engine_from_owner(c->ownedBy()); !owner.isEmpty()) return owner;
    return tr("OpenAI-compatible server");
}

QString RemoteModels::engineUrl() const {
    const RemoteEngineEntry* e = list_.find(active_engine_);
    return e ? e->base_url.toString() : QString();
}

QString RemoteModels::metricsUrl() const {
    RemoteEngine* c = clients_.value(active_engine_);
    return c ? c->metricsUrl().toString() : QString();
}

void RemoteModels::probe(const QString& url, const QString& api_key) {
    prober_.reset();
    probe_models_.clear();
    probe_error_.clear();
    const auto parsed = eg::library::parse_engine_url(url);
    if (!parsed) {
        probing_ = false;
        probe_error_ = QString::fromStdString(parsed.message());
        emit probeChanged();
        return;
    }
    probe_url_ = parsed.value();
    probe_key_ = api_key.trimmed();
    probing_ = true;
    emit probeChanged();
    prober_ = std::make_unique<RemoteEngine>(probe_url_, probe_key_);
    RemoteEngine* p = prober_.get();
    connect(p, &RemoteEngine::modelsListed, this, [this, p](const QStringList& ids) {
        if (p != prober_.get()) return;
        probing_ = false;
        probe_models_ = ids;
        emit probeChanged();
    });
    connect(p, &RemoteEngine::listFailed, this, [this, p](const QString& error) {
        if (p != prober_.get()) return;
        probing_ = false;
        probe_error_ = error;
        emit probeChanged();
    });
    p->listModels();
}

QString RemoteModels::addProbed(const QString& model) {
    if (probing_ || probe_models_.isEmpty()) {
        probe_error_ = tr("Connect to the engine first: its models are listed before it is added.");
        emit probeChanged();
        return {};
    }
    const QString chosen = model.isEmpty() ? probe_models_.first() : model;
    if (!probe_models_.contains(chosen)) {
        probe_error_ = tr("The engine does not list %1.").arg(chosen);
        emit probeChanged();
        return {};
    }
    const auto added = list_.add(probe_url_, probe_key_, probe_models_);
    if (!added) {
        probe_error_ = QString::fromStdString(added.message());
        emit probeChanged();
        return {};
    }
    // A client made with the old key (or none) is made again on next use.
    if (RemoteEngine* old = clients_.take(added->id)) old->deleteLater();
    clearProbe();
    list_error_.clear();
    emit enginesChanged();
    emit modelsChanged();
    return eg::library::remote_model_ref(added->id, chosen);
}

void RemoteModels::clearProbe() {
    prober_.reset();
    probing_ = false;
    probe_error_.clear();
    probe_models_.clear();
    probe_key_.clear();
    probe_url_.clear();
    emit probeChanged();
}

bool RemoteModels::removeEngine(const QString& id) {
    if (active() && id == active_engine_) {
        list_error_ = tr("A model of this engine is in use: pick another model before removing it.");
        emit enginesChanged();
        return false;
    }
    if (const eg::Status removed = list_.remove(id); !removed) {
        list_error_ = QString::fromStdString(removed.message());
        emit enginesChanged();
        return false;
    }
    if (RemoteEngine* c = clients_.take(id)) c->deleteLater();
    list_error_.clear();
    emit enginesChanged();
    emit modelsChanged();
    return true;
}

RemoteEngine* RemoteModels::client(const QString& engine_id, QString* error) {
    if (RemoteEngine* c = clients_.value(engine_id)) return c;
    const RemoteEngineEntry* e = list_.find(engine_id);
    if (!e) {
        *error = tr("That remote engine was removed.");
        return nullptr;
    }
    const auto key = list_.api_key(engine_id);
    if (!key) {
        *error = tr("The API key of %1 cannot be used: %2").arg(e->label(), QString::fromStdString(key.message()));
        return nullptr;
    }
    auto* c = new RemoteEngine(e->base_url, key.value(), this);
    clients_.insert(engine_id, c);
    connect(c, &RemoteEngine::modelsListed, this, [this, engine_id](const QStringList& ids) {
        if (loading_ref_.isEmpty()) return;
        const auto ref = eg::library::parse_remote_model_ref(loading_ref_);
        if (!ref || ref->engine_id != engine_id) return;
        const QString wanted = loading_ref_;
        loading_ref_.clear();
        if (const eg::Status s = list_.set_models(engine_id, ids); !s) EG_LOG_WARN("{}", s.message());
        emit modelsChanged();
        if (!ids.contains(ref->model)) {
            const RemoteEngineEntry* e = list_.find(engine_id);
            emit loadFailed(tr("The engine at %1 no longer lists %2; it lists %3.")
                                .arg(e ? e->base_url.toString() : engine_id, ref->model, ids.join(QStringLiteral(", "))));
            return;
        }
        active_ref_ = wanted;
        active_engine_ = engine_id;
        active_model_ = ref->model;
        metrics_.clear();
        metrics_note_.clear();
        metrics_engine_.clear();
        prev_generated_ = -1;
        EG_LOG_INFO("chatting with {} on the remote engine {}", active_model_.toStdString(), engineUrl().toStdString());
        emit activeChanged();
        emit metricsChanged();
        emit enginesChanged();
        setWatching(watching_);
        emit loaded(active_model_, active_ref_);
    });
    connect(c, &RemoteEngine::listFailed, this, [this, engine_id](const QString& error) {
        const auto ref = eg::library::parse_remote_model_ref(loading_ref_);
        if (!ref || ref->engine_id != engine_id) return;
        loading_ref_.clear();
        emit loadFailed(error);
    });
    connect(c, &RemoteEngine::pieces, this, [this](qint64 stream, const QString& text) {
        if (const qint64 request = request_of_.value(stream, -1); request >= 0) emit pieces(request, text);
    });
    connect(c, &RemoteEngine::finished, this, [this](qint64 stream, const eg::library::RemoteStats& rs) {
        const qint64 request = request_of_.take(stream);
        remote_of_.remove(request);
        eg::ReplyStats stats;
        stats.prompt_tokens = std::max<qint64>(0, rs.prompt_tokens);
        stats.generation.prompt_tokens = stats.prompt_tokens;
        stats.generation.generated_tokens = rs.completion_tokens;
        stats.generation.time_to_first_token_ms = rs.time_to_first_token_ms;
        if (rs.decode_tokens_per_s > 0 && rs.completion_tokens > 1)
            stats.generation.generate_ms = (double)(rs.completion_tokens - 1) * 1000.0 / rs.decode_tokens_per_s;
        stats.stop_reason = rs.stopped                                 ? eg::StopReason::Stopped
                            : rs.finish_reason == QLatin1String("length") ? eg::StopReason::MaxTokens
                                                                        : eg::StopReason::EndOfGeneration;
        last_reply_ = QVariantMap{{QStringLiteral("ttftMs"), rs.time_to_first_token_ms},
                                  {QStringLiteral("tokensPerS"), rs.decode_tokens_per_s},
                                  {QStringLiteral("tokens"), rs.completion_tokens}};
        emit lastReplyChanged();
        emit finished(request, stats);
    });
    connect(c, &RemoteEngine::failed, this, [this](qint64 stream, const QString& error) {
        const qint64 request = request_of_.take(stream);
        remote_of_.remove(request);
        emit failed(request, error);
    });
    connect(c, &RemoteEngine::metricsRead, this, [this, engine_id](const QByteArray& text) {
        if (engine_id == active_engine_) on_metrics(text);
    });
    connect(c, &RemoteEngine::metricsFailed, this, [this, engine_id](const QString& error) {
        if (engine_id != active_engine_) return;
        metrics_.clear();
        metrics_note_ = tr("No engine figures: %1").arg(error);
        emit metricsChanged();
    });
    return c;
}

void RemoteModels::load(const QString& model_ref) {
    const auto ref = eg::library::parse_remote_model_ref(model_ref);
    if (!ref) {
        emit loadFailed(QString::fromStdString(ref.message()));
        return;
    }
    QString error;
    RemoteEngine* c = client(ref->engine_id, &error);
    if (!c) {
        emit loadFailed(error);
        return;
    }
    loading_ref_ = model_ref;
    c->listModels();
}

void RemoteModels::deactivate() {
    loading_ref_.clear();
    if (!active()) return;
    active_ref_.clear();
    active_engine_.clear();
    active_model_.clear();
    poll_.stop();
    emit activeChanged();
    emit enginesChanged();
}

void RemoteModels::generate(qint64 request_id, const eg::ReplyRequest& request) {
    QString error = tr("No remote model is in use.");
    RemoteEngine* c = active() ? client(active_engine_, &error) : nullptr;
    if (!c) {
        emit failed(request_id, error);
        return;
    }
    const qint64 stream = c->chat(active_model_, request.messages, request.settings);
    remote_of_.insert(request_id, stream);
    request_of_.insert(stream, request_id);
}

void RemoteModels::stop(qint64 request_id) {
    const qint64 stream = remote_of_.value(request_id, -1);
    if (stream < 0) return;
    if (RemoteEngine* c = clients_.value(active_engine_)) c->stop(stream);
}

void RemoteModels::setWatching(bool on) {
    watching_ = on;
    if (watching_ && active()) {
        if (!poll_.isActive()) {
            poll_.start();
            read_metrics();
        }
    } else {
        poll_.stop();
    }
}

void RemoteModels::read_metrics() {
    QString error;
    if (RemoteEngine* c = active() ? client(active_engine_, &error) : nullptr) c->fetchMetrics();
}

void RemoteModels::on_metrics(const QByteArray& text) {
    const eg::library::ParsedMetrics parsed = eg::library::parse_prometheus_text(text);
    const eg::library::EngineFigures f = eg::library::engine_figures(parsed);
    metrics_engine_ = f.engine;
    QVariantMap m;
    auto put = [&m](const char* key, const std::optional<double>& v) {
        if (v) m.insert(QString::fromLatin1(key), *v);
    };
    put("running", f.running);
    put("waiting", f.waiting);
    put("kvCacheUsage", f.kv_cache_usage);
    put("generatedTokens", f.generated_tokens_total);
    put("promptTokens", f.prompt_tokens_total);
    std::optional<double> tps = f.tokens_per_s;
    // No gauge (vLLM): the counter's rate between two reads.
    if (f.generated_tokens_total) {
        if (!tps && prev_generated_ >= 0 && prev_at_.isValid() && prev_at_.elapsed() > 0)
            tps = std::max(0.0, (*f.generated_tokens_total - prev_generated_) * 1000.0 / (double)prev_at_.elapsed());
        prev_generated_ = *f.generated_tokens_total;
        prev_at_.start();
    }
    put("tokensPerS", tps);
    metrics_ = m;
    metrics_note_ = f.engine.isEmpty()
                        ? tr("The engine's metrics (%1 samples) name none of the figures of vLLM, SGLang, llama.cpp or "
                             "Engram Desktop.")
                              .arg(parsed.samples.size())
                        : QString();
    emit metricsChanged();
}

// --- ModelPickerList ---------------------------------------------------------

ModelPickerList::ModelPickerList(QAbstractItemModel& installed, RemoteModels& remote, QObject* parent)
    : QAbstractListModel(parent), installed_(installed), remote_(remote) {
    connect(&installed_, &QAbstractItemModel::modelReset, this, &ModelPickerList::rebuild);
    connect(&installed_, &QAbstractItemModel::layoutChanged, this, &ModelPickerList::rebuild);
    connect(&installed_, &QAbstractItemModel::rowsInserted, this, &ModelPickerList::rebuild);
    connect(&installed_, &QAbstractItemModel::rowsRemoved, this, &ModelPickerList::rebuild);
    // Only what the picker shows (not, say, which model is in use).
    connect(&installed_, &QAbstractItemModel::dataChanged, this,
            [this](const QModelIndex&, const QModelIndex&, const QList<int>& roles) {
                const QHash<int, QByteArray> names = installed_.roleNames();
                for (const char* shown : {"name", "path", "sizeText"})
                    if (roles.isEmpty() || roles.contains(names.key(shown, -1))) return rebuild();
            });
    connect(&remote_, &RemoteModels::modelsChanged, this, &ModelPickerList::rebuild);
    rebuild();
}

void ModelPickerList::rebuild() {
    const QHash<int, QByteArray> names = installed_.roleNames();
    const int name_role = names.key("name", -1), path_role = names.key("path", -1), size_role = names.key("sizeText", -1);
    QList<Row> rows;
    for (int r = 0; r < installed_.rowCount(); ++r) {
        const QModelIndex i = installed_.index(r, 0);
        rows.push_back({installed_.data(i, name_role).toString(), installed_.data(i, path_role).toString(),
                        installed_.data(i, size_role).toString(), false});
    }
    for (const RemoteEngineEntry& e : remote_.list().engines())
        for (const QString& m : e.models)
            rows.push_back({m, eg::library::remote_model_ref(e.id, m), tr("remote · %1").arg(e.label()), true});
    const bool count_changed = rows.size() != rows_.size();
    beginResetModel();
    rows_ = std::move(rows);
    endResetModel();
    if (count_changed) emit countChanged();
}

int ModelPickerList::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : (int)rows_.size(); }

QVariant ModelPickerList::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rows_.size()) return {};
    const Row& r = rows_[index.row()];
    switch (role) {
        case NameRole: return r.name;
        case PathRole: return r.path;
        case SizeTextRole: return r.size_text;
        case RemoteRole: return r.remote;
        default: return {};
    }
}

QHash<int, QByteArray> ModelPickerList::roleNames() const {
    return {{NameRole, "name"}, {PathRole, "path"}, {SizeTextRole, "sizeText"}, {RemoteRole, "remote"}};
}

}  // namespace eg::ui
