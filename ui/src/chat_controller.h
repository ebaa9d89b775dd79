// The chat pane's view-model (QML context property `chat`): sends messages,
// streams the reply into MessageListModel and keeps the store up to date.
// It never touches the engine: requests leave as signals (connected to
// EngineWorker by the app, see eg::app::connect_worker) and results come back
// through the on*() slots.
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QVariantMap>

#include "message_list_model.h"
#include "core/result.h"
#include "runtime/generation_settings.h"

class QSettings;

namespace eg::store {
class ChatStore;
}

namespace eg::ui {

class ChatController : public QObject {
    Q_OBJECT
    Q_PROPERTY(bool busy READ busy NOTIFY busyChanged)
    // The conversation a reply is being written into (0: none): the sidebar
    // marks it, and only its own pane shows Stop.
    Q_PROPERTY(qint64 replyingConversationId READ replyingConversationId NOTIFY busyChanged)
    Q_PROPERTY(bool modelLoaded READ modelLoaded NOTIFY modelChanged)
    Q_PROPERTY(QString modelName READ modelName NOTIFY modelChanged)
    Q_PROPERTY(QString modelPath READ modelPath NOTIFY modelChanged)
    Q_PROPERTY(bool loadingModel READ loadingModel NOTIFY loadingModelChanged)
    Q_PROPERTY(double loadProgress READ loadProgress NOTIFY loadProgressChanged)
    Q_PROPERTY(qint64 currentConversationId READ currentConversationId NOTIFY currentConversationIdChanged)
    Q_PROPERTY(QString currentTitle READ currentTitle NOTIFY currentTitleChanged)
    Q_PROPERTY(eg::ui::MessageListModel* messages READ messages CONSTANT)
    Q_PROPERTY(QString lastError READ lastError NOTIFY lastErrorChanged)
    // What an action that shows nothing else did ("Copied to the clipboard",
    // "Saved to ~/chat.md"): the window shows it for a moment.
    Q_PROPERTY(QString notice READ notice NOTIFY noticeChanged)
    Q_PROPERTY(QString systemPrompt READ systemPrompt WRITE setSystemPrompt NOTIFY systemPromptChanged)
    Q_PROPERTY(QVariantMap settings READ settings WRITE setSettings NOTIFY settingsChanged)
    Q_PROPERTY(QVariantMap defaultSettings READ defaultSettings WRITE setDefaultSettings NOTIFY defaultSettingsChanged)
    Q_PROPERTY(QString defaultSystemPrompt READ defaultSystemPrompt WRITE setDefaultSystemPrompt NOTIFY
                   defaultSettingsChanged)
public:
    // prefs: where defaults live (QSettings); may be null (built-in defaults).
    ChatController(eg::store::ChatStore& store, QSettings* prefs, QObject* parent = nullptr);
    // A reply still streaming (the app is quitting) is saved as it stands.
    ~ChatController() override;

    bool busy() const { return busy_; }
    bool modelLoaded() const { return model_loaded_; }
    QString modelName() const { return model_name_; }
    QString modelPath() const { return model_path_; }
    bool loadingModel() const { return loading_model_; }
    double loadProgress() const { return load_progress_; }
    qint64 currentConversationId() const { return conversation_id_; }
    qint64 replyingConversationId() const { return busy_ ? reply_.conversation_id : 0; }
    QString currentTitle() const { return title_; }
    MessageListModel* messages() { return &messages_; }
    QString lastError() const { return last_error_; }
    QString notice() const { return notice_; }
    QString systemPrompt() const { return QString::fromStdString(settings_.system_prompt); }
    void setSystemPrompt(const QString& text);
    // QML's view of generation_settings() (settings_map.h), without the system prompt.
    QVariantMap settings() const;
    void setSettings(const QVariantMap& s);  // known keys merged over the current ones, saved with the conversation
    QVariantMap defaultSettings() const;
    void setDefaultSettings(const QVariantMap& s);
    QString defaultSystemPrompt() const;
    void setDefaultSystemPrompt(const QString& text);

    // What the next reply is generated with: the conversation's settings and system prompt.
    const eg::GenerationSettings& generation_settings() const { return settings_; }
    // The built-in defaults (eg::GenerationSettings{}) with the user's saved defaults over them.
    eg::GenerationSettings default_generation_settings() const;

    static QString title_from(const QString& first_message);  // ~40 chars

    Q_INVOKABLE void send(const QString& text);
    Q_INVOKABLE void stop();
    Q_INVOKABLE void regenerate();
    // Edit and Regenerate keep what they replace: the new message is a
    // version beside the old one (store/chat_store.h), and showVersion moves
    // between them ("‹ 2/3 ›" under a message).
    Q_INVOKABLE void editAndResend(int row, const QString& text);
    // Shows the version `delta` (-1 previous, +1 next) of the message at row,
    // with the branch that follows it.
    Q_INVOKABLE void showVersion(int row, int delta);
    Q_INVOKABLE void newConversation();
    Q_INVOKABLE void selectConversation(qint64 id);
    Q_INVOKABLE void loadModel(const QString& path);
    Q_INVOKABLE void copyText(const QString& text);
    Q_INVOKABLE bool exportMarkdown(const QString& file_url);
    Q_INVOKABLE bool exportJson(const QString& file_url);
    Q_INVOKABLE void clearError();
    Q_INVOKABLE void clearNotice();
    // Where Export suggests saving: the documents folder, the conversation's
    // title made into a file name, the format's suffix (a file: URL).
    Q_INVOKABLE QString suggestedExportUrl(const QString& format) const;

    QString conversation_markdown() const;
    QByteArray conversation_json() const;

public slots:
    // From the engine worker.
    void onLoadProgress(double fraction);
    void onModelLoaded(const QString& name, const QString& path);
    void onLoadFailed(const QString& error);
    // A remote model could not be used (its engine is unreachable, no longer
    // lists it): unlike a failed local load, the model in use stays.
    void onSwitchFailed(const QString& error);
    // The oldest turns were left out of this reply's prompt: `notice` says so above the reply.
    void onTrimmed(qint64 request_id, const QString& notice);
    void onPieces(qint64 request_id, const QString& text);
    void onFinished(qint64 request_id, const eg::ReplyStats& stats);
    void onFailed(qint64 request_id, const QString& error);
    // From the sidebar.
    void onConversationRemoved(qint64 id);
    void onConversationRenamed(qint64 id, const QString& title);

signals:
    void busyChanged();
    void modelChanged();
    void loadingModelChanged();
    void loadProgressChanged();
    void currentConversationIdChanged();
    void currentTitleChanged();
    void lastErrorChanged();
    void noticeChanged();
    void systemPromptChanged();
    void settingsChanged();
    void defaultSettingsChanged();
    // Conversations were created or got new activity: the sidebar refreshes.
    void conversationsChanged();
    // A reply finished (or failed): statsText is set, the store is final.
    void replyFinished(qint64 message_id);

    // To the engine worker.
    void loadModelRequested(const QString& path);
    void generateRequested(qint64 request_id, const eg::ReplyRequest& request);
    // Connect with Qt::DirectConnection to EngineWorker::requestStop (thread-safe).
    void stopRequested(qint64 request_id);

private:
    struct Reply {
        qint64 request_id = 0;
        qint64 conversation_id = 0;
        qint64 message_id = 0;
        QString text;
        bool dirty = false;
        QElapsedTimer since_save;
    };
    void set_error(const QString& e);
    // A store write's outcome: true when it worked; else logged and, when
    // `what` names it ("the reply"), said in lastError.
    bool check_saved(const eg::Status& s, const QString& what);
    template <class T>
    bool check_saved(const eg::Result<T>& r, const QString& what) {
        return check_saved(r ? eg::Status() : eg::Status(r.error()), what);
    }
    void set_busy(bool b);
    bool can_start(const QString& what);
    bool ensure_conversation(const QString& first_text);
    // The new message goes after the branch on screen, or beside `sibling`
    // as its new version.
    bool add_user_message(const QString& text, qint64 sibling = 0);
    void start_reply(qint64 sibling = 0);
    // The model's row for a stored message, its versions counted.
    MessageItem item_for(qint64 id, const QString& role, const QString& content, bool streaming) const;
    void end_reply();
    int reply_row() const;  // row of the streaming reply in messages_, -1 if not shown
    void load_conversation(qint64 id);
    QString settings_json() const;

    eg::store::ChatStore& store_;
    QSettings* prefs_ = nullptr;
    MessageListModel messages_;
    bool busy_ = false;
    bool model_loaded_ = false;
    bool loading_model_ = false;
    double load_progress_ = 0;
    QString model_name_, model_path_;
    qint64 conversation_id_ = 0;  // 0: a new chat not yet saved (created on first send)
    QString title_;
    QString last_error_;
    QString notice_;
    void set_notice(const QString& text);
    eg::GenerationSettings settings_;  // the system prompt included
    qint64 next_request_id_ = 1;
    Reply reply_;  // valid while busy_
};

}  // namespace eg::ui
