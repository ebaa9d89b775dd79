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

namespace eg::app {

EngineWorker::EngineWorker(QObject* parent) : QObject(parent) {}

EngineWorker::~EngineWorker() { unload(); }

void EngineWorker::unload() {
    chat_.reset();
    session_.reset();
    model_.reset();
    model_name_.clear();
}

void EngineWorker::requestStop(qint64 request_id) {
    if (request_id >= 0) {
        qint64 cur = stop_through_id_.load();
        while (cur < request_id && !stop_through_id_.compare_exchange_weak(cur, request_id)) {
        }
    }
    stop_.store(true);
}

void EngineWorker::loadModel(const QString& path) {
    emit loadProgress(0.0);
    EG_LOG_INFO("loading model {}", path.toStdString());
    QElapsedTimer t;
    t.start();
    unload();
    // Engram models get their modules and tiered store (default budgets until
    // the memory panel sets them).
    auto m = eg::engram::load_model(path.toStdString());
    if (!m) {
        EG_LOG_ERROR("cannot load {}: {}", path.toStdString(), m.message());
        emit loadFailed(QString::fromStdString(m.message()));
        return;
    }
    emit loadProgress(0.6);
    std::unique_ptr<eg::Model> model = std::move(m.value());
    auto s = eg::Session::create(*model, eg::SessionOptions{});
    if (!s) {
        emit loadFailed(QString::fromStdString(s.message()));
        return;
    }
    std::unique_ptr<eg::Session> session = std::move(s.value());
    emit loadProgress(0.9);
    auto c = eg::ChatSession::create(*session);
    if (!c) {
        emit loadFailed(QString::fromStdString(c.message()));
        return;
    }
    model_ = std::move(model);
    session_ = std::move(session);
    chat_ = std::move(c.value());
    model_name_ = QFileInfo(path).completeBaseName();
    EG_LOG_INFO("model {} loaded in {} ms (context {} tokens, {} threads)", model_name_.toStdString(), t.elapsed(),
                session_->n_ctx(), session_->n_threads());
    emit loadProgress(1.0);
    emit modelLoaded(model_name_, path);
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
    if (!session_) {
        emit failed(request_id, tr("No model is loaded."));
        return;
    }
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

    // Room for the reply (max_tokens, at most half the context); the oldest
    // turns after the system prompt are left out when the prompt does not fit.
    const int64_t n_ctx = session_->n_ctx();
    const int64_t reserve = std::min<int64_t>(opt.max_tokens > 0 ? opt.max_tokens : n_ctx / 4, n_ctx / 2);
    auto prompt = chat_->render_tokens(msgs);
    if (!prompt) {
        emit failed(request_id, QString::fromStdString(prompt.message()));
        return;
    }
    while ((int64_t)prompt.value().size() + reserve > n_ctx) {
        const size_t first = (!msgs.empty() && msgs.front().role == "system") ? 1 : 0;
        if (msgs.size() - first <= 1) {
            emit failed(request_id, tr("The message is too long for the context: %1 tokens plus %2 for the reply "
                                       "exceed %3.")
                                        .arg(prompt.value().size())
                                        .arg(reserve)
                                        .arg(n_ctx));
            return;
        }
        const size_t n = (first + 1 < msgs.size() - 1 && msgs[first + 1].role == "assistant") ? 2 : 1;
        msgs.erase(msgs.begin() + first, msgs.begin() + first + n);
        prompt = chat_->render_tokens(msgs);
        if (!prompt) {
            emit failed(request_id, QString::fromStdString(prompt.message()));
            return;
        }
    }

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
    auto r = eg::generate(*session_, prompt.value(), opt, on_piece);
    if (!pending.empty()) emit pieces(request_id, QString::fromUtf8(pending.data(), (qsizetype)pending.size()));
    if (!r) {
        EG_LOG_ERROR("generation failed: {}", r.message());
        emit failed(request_id, QString::fromStdString(r.message()));
        return;
    }
    const eg::GenerationStats& st = r.value().stats;
    stats[QStringLiteral("prompt_tokens")] = (qint64)prompt.value().size();
    stats[QStringLiteral("prefilled_tokens")] = (qint64)st.prompt_tokens;
    stats[QStringLiteral("reused_tokens")] = (qint64)st.reused_tokens;
    stats[QStringLiteral("completion_tokens")] = (qint64)st.generated_tokens;
    stats[QStringLiteral("tokens_per_s")] = st.generate_tokens_per_s();
    stats[QStringLiteral("ttft_ms")] = st.time_to_first_token_ms;
    stats[QStringLiteral("stop_reason")] = QString::fromLatin1(eg::stop_reason_name(r.value().stop_reason));
    stats[QStringLiteral("model")] = model_name_;
    emit finished(request_id, stats);
}

}  // namespace eg::app
