// Remote engines in the window (QML `remoteModels`): the engines the user
// added through "Add remote engine…" (library/remote_engines.h), their
// models beside the installed ones in the model picker (ModelPickerList),
// and the chat with a remote model — loaded, streamed, stopped — through the
// same ChatController signals the local engine answers (the app routes a
// request by the model's reference, see eg::app::connect_worker). While a
// remote model is in use and the memory panel is open, the engine's
// /metrics are read every few seconds and shown instead of local tiers.
// Nothing connects anywhere until the user adds an engine or picks one of
// its models.
#pragma once

#include <QAbstractListModel>
#include <QElapsedTimer>
#include <QHash>
#include <QPointer>
#include <QStringList>
#include <QTimer>
#include <QVariantList>
#include <QVariantMap>

#include <memory>

#include "library/remote_engine.h"
#include "library/remote_engines.h"
#include "runtime/generation_settings.h"

namespace eg::ui {

class RemoteModels : public QObject {
    Q_OBJECT
    // The "Add remote engine…" dialog: a probe lists the engine's models before it is added.
    Q_PROPERTY(bool probing READ probing NOTIFY probeChanged)
    Q_PROPERTY(QString probeError READ probeError NOTIFY probeChanged)
    Q_PROPERTY(QStringList probeModels READ probeModels NOTIFY probeChanged)
    Q_PROPERTY(QString probeUrl READ probeUrl NOTIFY probeChanged)
    // [{id, url, label, models (list), hasKey}]
    Q_PROPERTY(QVariantList engines READ engines NOTIFY enginesChanged)
    Q_PROPERTY(QString listError READ listError NOTIFY enginesChanged)
    // The model in use is a remote one: the memory panel shows its engine.
    Q_PROPERTY(bool active READ active NOTIFY activeChanged)
    Q_PROPERTY(QString engineName READ engineName NOTIFY metricsChanged)  // "vLLM", ... or "OpenAI-compatible server"
    Q_PROPERTY(QString engineUrl READ engineUrl NOTIFY activeChanged)
    Q_PROPERTY(QString modelId READ modelId NOTIFY activeChanged)
    // {running, waiting, kvCacheUsage (0..1), tokensPerS, generatedTokens,
    //  promptTokens} — a key is absent when the engine does not publish it.
    Q_PROPERTY(QVariantMap metrics READ metrics NOTIFY metricsChanged)
    // Why there are no figures ("… answered 404 …"), or "" while there are.
    Q_PROPERTY(QString metricsNote READ metricsNote NOTIFY metricsChanged)
    Q_PROPERTY(QString metricsUrl READ metricsUrl NOTIFY activeChanged)
    // Our own measure of the last remote reply: {ttftMs, tokensPerS, tokens}.
    Q_PROPERTY(QVariantMap lastReply READ lastReply NOTIFY lastReplyChanged)
public:
    explicit RemoteModels(const QString& data_dir, QObject* parent = nullptr);
    ~RemoteModels() override;

    bool probing() const { return probing_; }
    QString probeError() const { return probe_error_; }
    QStringList probeModels() const { return probe_models_; }
    QString probeUrl() const { return probe_url_.toString(); }
    QVariantList engines() const;
    QString listError() const { return list_error_; }
    bool active() const { return !active_ref_.isEmpty(); }
    QString engineName() const;
    QString engineUrl() const;
    QString modelId() const { return active_model_; }
    QVariantMap metrics() const { return metrics_; }
    QString metricsNote() const { return metrics_note_; }
    QString metricsUrl() const;
    QVariantMap lastReply() const { return last_reply_; }

    const eg::library::RemoteEngineList& list() const { return list_; }

    // Lists the models at `url` (as typed) with `api_key` (may be empty).
    Q_INVOKABLE void probe(const QString& url, const QString& api_key);
    // Adds the engine the last probe reached (its key with it) and returns
    // the reference of its model `model` (the first listed when empty) for
    // chat.loadModel; "" with probeError set when it cannot.
    Q_INVOKABLE QString addProbed(const QString& model = {});
    Q_INVOKABLE void clearProbe();
    // Forgets an engine and its key. Refused (false, listError) for the engine in use.
    Q_INVOKABLE bool removeEngine(const QString& id);
    // The memory panel is shown (metrics are read only then).
    Q_INVOKABLE void setWatching(bool on);

    // --- the chat's engine, for the app's routing (GUI thread) ------------
    static bool handles(const QString& model_ref) { return eg::library::is_remote_model_ref(model_ref); }
    // Checks that the engine still lists the model -> loaded or loadFailed.
    void load(const QString& model_ref);
    // A local model was loaded: no remote model is in use any more.
    void deactivate();
    void generate(qint64 request_id, const eg::ReplyRequest& request);
    void stop(qint64 request_id);

signals:
    void probeChanged();
    void enginesChanged();
    void activeChanged();
    void metricsChanged();
    void lastReplyChanged();
    // The engines or their models changed: the picker's rows follow.
    void modelsChanged();

    void loaded(const QString& name, const QString& model_ref);
    void loadFailed(const QString& error);
    void pieces(qint64 request_id, const QString& text);
    void finished(qint64 request_id, const eg::ReplyStats& stats);
    void failed(qint64 request_id, const QString& error);

private:
    eg::library::RemoteEngine* client(const QString& engine_id, QString* error);
    void read_metrics();
    void on_metrics(const QByteArray& text);

    eg::library::RemoteEngineList list_;
    QString list_error_;
    // The probe: a throwaway client.
    std::unique_ptr<eg::library::RemoteEngine> prober_;
    bool probing_ = false;
    QString probe_error_;
    QStringList probe_models_;
    QUrl probe_url_;
    QString probe_key_;

    QHash<QString, eg::library::RemoteEngine*> clients_;  // by engine id, owned (children)
    QString active_ref_, active_engine_, active_model_;
    QString loading_ref_;
    QHash<qint64, qint64> remote_of_;  // request id -> the client's stream id
    QHash<qint64, qint64> request_of_;  // and back

    bool watching_ = false;
    QTimer poll_;
    QVariantMap metrics_;
    QString metrics_note_, metrics_engine_;
    double prev_generated_ = -1;
    QElapsedTimer prev_at_;
    QVariantMap last_reply_;
};

// The model picker's rows: the installed models (any list model with
// name/path/sizeText roles) followed by every remote engine's models.
class ModelPickerList : public QAbstractListModel {
    Q_OBJECT
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
public:
    enum Role { NameRole = Qt::UserRole + 1, PathRole, SizeTextRole, RemoteRole };
    ModelPickerList(QAbstractItemModel& installed, RemoteModels& remote, QObject* parent = nullptr);
    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;
signals:
    void countChanged();

private:
    struct Row {
        QString name, path, size_text;
        bool remote = false;
    };
    void rebuild();
    QAbstractItemModel& installed_;
    RemoteModels& remote_;
    QList<Row> rows_;
};

}  // namespace eg::ui
