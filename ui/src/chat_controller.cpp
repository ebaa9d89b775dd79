#include "chat_controller.h"

#include <QClipboard>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QGuiApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSaveFile>
#include <QSettings>
#include <QStandardPaths>
#include <QUrl>

#include "core/log.h"
#include "library/remote_engines.h"
#include "settings_map.h"
#include "typed_path.h"
#include "store/chat_store.h"

namespace eg::ui {

namespace {

constexpr int kSaveIntervalMs = 1000;  // a crash loses at most this much of a streaming reply
const QString kDefaultsGroup = QStringLiteral("defaults");
const QString kSystemPromptKey = QStringLiteral("defaults/system_prompt");

eg::Status write_file(const QString& path, const QByteArray& data) {
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(data) != data.size() || !f.commit())
        return eg::Error{QObject::tr("Cannot write %1: %2").arg(path, f.errorString()).toStdString()};
    return {};
}

}  // namespace

ChatController::ChatController(eg::store::ChatStore& store, QSettings* prefs, QObject* parent)
    : QObject(parent), store_(store), prefs_(prefs) {
    settings_ = default_generation_settings();
}

ChatController::~ChatController() {
    if (busy_ && reply_.message_id > 0) check_saved(store_.update_message(reply_.message_id, reply_.text, true), {});
}

eg::GenerationSettings ChatController::default_generation_settings() const {
    eg::GenerationSettings s;
    if (prefs_) {
        QVariantMap saved;
        for (const QString& key : settings_to_map(s).keys()) {
            const QString k = kDefaultsGroup + u'/' + key;
            if (prefs_->contains(k)) saved[key] = prefs_->value(k);
        }
        s = settings_merged(s, saved);
    }
    s.system_prompt = defaultSystemPrompt().toStdString();
    return s;
}

QVariantMap ChatController::defaultSettings() const { return settings_to_map(default_generation_settings()); }

void ChatController::setDefaultSettings(const QVariantMap& s) {
    if (!prefs_) return;
    // Through the typed settings: only known keys, as numbers.
    const QVariantMap known = settings_to_map(settings_merged(default_generation_settings(), s));
    for (auto it = known.cbegin(); it != known.cend(); ++it)
        if (s.contains(it.key())) prefs_->setValue(kDefaultsGroup + u'/' + it.key(), it.value());
    emit defaultSettingsChanged();
}

QVariantMap ChatController::settings() const { return settings_to_map(settings_); }

QString ChatController::defaultSystemPrompt() const {
    return prefs_ ? prefs_->value(kSystemPromptKey).toString() : QString();
}

void ChatController::setDefaultSystemPrompt(const QString& text) {
    if (!prefs_) return;
    prefs_->setValue(kSystemPromptKey, text);
    emit defaultSettingsChanged();
}

void ChatController::setSystemPrompt(const QString& text) {
    if (text == systemPrompt()) return;
    settings_.system_prompt = text.toStdString();
    if (conversation_id_ > 0) check_saved(store_.set_system_prompt(conversation_id_, text), tr("the system prompt"));
    emit systemPromptChanged();
}

void ChatController::setSettings(const QVariantMap& s) {
    const eg::GenerationSettings merged = settings_merged(settings_, s);
    if (merged == settings_) return;
    settings_ = merged;
    if (conversation_id_ > 0) check_saved(store_.set_settings_json(conversation_id_, settings_json()), tr("the settings"));
    emit settingsChanged();
}

QString ChatController::settings_json() const {
    return QString::fromUtf8(QJsonDocument(QJsonObject::fromVariantMap(settings())).toJson(QJsonDocument::Compact));
}

QString ChatController::title_from(const QString& first_message) {
    const QString t = first_message.simplified();
    constexpr int kMax = 40;
    if (t.size() <= kMax) return t;
    // Cut at a word boundary when one is near the end.
    int cut = t.lastIndexOf(u' ', kMax);
    if (cut < kMax / 2) cut = kMax;
    return t.left(cut).trimmed() + QStringLiteral("…");
}

bool ChatController::check_saved(const eg::Status& s, const QString& what) {
    if (s) return true;
    EG_LOG_ERROR("conversation store: {}", s.message());
    if (!what.isEmpty()) set_error(tr("Cannot save %1: %2").arg(what, eg::error_text(s)));
    return false;
}

void ChatController::set_error(const QString& e) {
    if (e == last_error_) return;
    last_error_ = e;
    emit lastErrorChanged();
}

void ChatController::clearError() { set_error({}); }

void ChatController::set_notice(const QString& text) {
    notice_ = text;
    emit noticeChanged();  // also when the same text comes again: shown again
}

void ChatController::clearNotice() {
    if (notice_.isEmpty()) return;
    notice_.clear();
    emit noticeChanged();
}

QString ChatController::suggestedExportUrl(const QString& format) const {
    QString name = title_.isEmpty() ? tr("New chat") : title_;
    // Characters file systems or shells trip on become spaces; at most 60 left.
    name.replace(QRegularExpression(QStringLiteral(R"([/\\:*?"<>|\x00-\x1f]+)")), QStringLiteral(" "));
    name = name.simplified().left(60).trimmed();
    while (name.endsWith(QLatin1Char('.'))) name.chop(1);  // "Hello." + ".md" is not "Hello..md"
    if (name.isEmpty() || name.startsWith(QLatin1Char('.'))) name = QStringLiteral("chat") + name;
    QString dir = QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation);
    if (dir.isEmpty() || !QFileInfo(dir).isDir()) dir = QDir::homePath();
    const QString suffix = format == QLatin1String("json") ? QStringLiteral(".json") : QStringLiteral(".md");
    return QUrl::fromLocalFile(QDir(dir).filePath(name + suffix)).toString();
}

void ChatController::set_busy(bool b) {
    if (b == busy_) return;
    busy_ = b;
    emit busyChanged();
}

bool ChatController::can_start(const QString& what) {
    if (busy_) {
        set_error(tr("Wait for the current reply to finish (or stop it) before %1.").arg(what));
        return false;
    }
    if (!model_loaded_ && !loading_model_) {
        set_error(tr("No model is loaded. Pick a model first."));
        return false;
    }
    return true;
}

bool ChatController::ensure_conversation(const QString& first_text) {
    if (conversation_id_ > 0) return true;
    const QString title = title_from(first_text);
    const eg::Result<qint64> created = store_.create_conversation(title, systemPrompt(), settings_json());
    if (!check_saved(created, tr("the conversation"))) return false;
    const qint64 id = created.value();
    if (!model_name_.isEmpty()) check_saved(store_.set_conversation_model(id, model_name_), tr("the model's name"));
    conversation_id_ = id;
    title_ = title;
    emit currentConversationIdChanged();
    emit currentTitleChanged();
    return true;
}

MessageItem ChatController::item_for(qint64 id, const QString& role, const QString& content, bool streaming) const {
    MessageItem m;
    m.message_id = id;
    m.role = role;
    m.content = content;
    m.streaming = streaming;
    const QList<qint64> versions = store_.versions_of(id);
    m.versions = std::max<int>(1, (int)versions.size());
    m.version = std::max<int>(1, (int)versions.indexOf(id) + 1);
    return m;
}

bool ChatController::add_user_message(const QString& text, qint64 sibling) {
    eg::store::MessageRow row;
    row.conversation_id = conversation_id_;
    row.role = QStringLiteral("user");
    row.content = text;
    row.created_at = QDateTime::currentDateTimeUtc();
    row.finished = true;
    const eg::Result<qint64> added = sibling ? store_.add_version(row, sibling) : store_.add_message(row);
    if (!check_saved(added, tr("the message"))) return false;
    messages_.append(item_for(added.value(), row.role, text, false));
    return true;
}

void ChatController::send(const QString& text) {
    const QString t = text.trimmed();
    if (t.isEmpty() || !can_start(tr("sending"))) return;
    clearError();
    if (!ensure_conversation(t) || !add_user_message(t)) return;
    start_reply();
}

void ChatController::start_reply(qint64 sibling) {
    eg::ReplyRequest request;
    request.settings = settings_;
    for (const MessageItem& m : messages_.items()) request.messages.push_back({m.role.toStdString(), m.content.toStdString()});

    eg::store::MessageRow row;
    row.conversation_id = conversation_id_;
    row.role = QStringLiteral("assistant");
    row.model = model_name_;
    row.created_at = QDateTime::currentDateTimeUtc();
    row.finished = false;
    const eg::Result<qint64> added = sibling ? store_.add_version(row, sibling) : store_.add_message(row);
    if (!check_saved(added, tr("the reply"))) return;
    const qint64 id = added.value();
    reply_ = Reply{};
    reply_.request_id = next_request_id_++;
    reply_.conversation_id = conversation_id_;
    reply_.message_id = id;
    reply_.since_save.start();
    messages_.append(item_for(id, row.role, {}, true));
    set_busy(true);
    emit conversationsChanged();

    emit generateRequested(reply_.request_id, request);
}

int ChatController::reply_row() const {
    if (!busy_ || reply_.conversation_id != conversation_id_) return -1;
    return messages_.row_of(reply_.message_id);
}

void ChatController::onTrimmed(qint64 request_id, const QString& notice) {
    if (!busy_ || request_id != reply_.request_id || notice.isEmpty()) return;
    messages_.set_notice(reply_row(), notice);
}

void ChatController::onPieces(qint64 request_id, const QString& text) {
    if (!busy_ || request_id != reply_.request_id) return;
    reply_.text += text;
    reply_.dirty = true;
    messages_.append_content(reply_row(), text);
    if (reply_.since_save.elapsed() >= kSaveIntervalMs) {
        check_saved(store_.update_message(reply_.message_id, reply_.text, false), tr("the reply"));
        reply_.dirty = false;
        reply_.since_save.start();
    }
}

void ChatController::onFinished(qint64 request_id, const eg::ReplyStats& stats) {
    if (!busy_ || request_id != reply_.request_id) return;
    const int completion = (int)stats.generation.generated_tokens;
    const double tps = stats.generation.generate_tokens_per_s();
    const double ttft = stats.generation.time_to_first_token_ms;
    check_saved(store_.update_message(reply_.message_id, reply_.text, true, (int)stats.prompt_tokens, completion, tps, ttft),
                tr("the reply"));
    QString line = MessageListModel::stats_text(completion, tps, ttft);
    if (stats.stop_reason == eg::StopReason::Stopped)
        line += (line.isEmpty() ? QString() : QStringLiteral(" · ")) + tr("stopped");
    messages_.finish(reply_row(), line);
    end_reply();
}

void ChatController::onFailed(qint64 request_id, const QString& error) {
    if (!busy_ || request_id != reply_.request_id) return;
    set_error(error);
    const int row = reply_row();
    if (reply_.text.isEmpty()) {
        // Nothing to keep: the reply goes. When it was a regenerated version
        // (the newest of its place), the one before it is shown again.
        const QList<qint64> versions = store_.versions_of(reply_.message_id);
        check_saved(store_.delete_messages_from(reply_.conversation_id, reply_.message_id), tr("the reply"));
        const bool previous = versions.size() > 1 &&
                              check_saved(store_.show_branch(reply_.conversation_id, versions[versions.size() - 2]),
                                          tr("the reply"));
        if (previous && reply_.conversation_id == conversation_id_) load_conversation(conversation_id_);
        else if (!previous && row >= 0) messages_.remove_from(row);
    } else {
        check_saved(store_.update_message(reply_.message_id, reply_.text, true), tr("the reply"));
        messages_.finish(row, tr("failed"));
    }
    end_reply();
}

void ChatController::end_reply() {
    const qint64 id = reply_.message_id;
    reply_ = Reply{};
    set_busy(false);
    emit conversationsChanged();
    emit replyFinished(id);
}

void ChatController::stop() {
    if (busy_) emit stopRequested(reply_.request_id);
}

void ChatController::regenerate() {
    if (!can_start(tr("regenerating"))) return;
    const auto& items = messages_.items();
    if (items.isEmpty()) return;
    clearError();
    const int last = (int)items.size() - 1;
    // The new reply is a version beside the last one, which stays.
    qint64 sibling = 0;
    if (items[last].role == QLatin1String("assistant")) {
        sibling = items[last].message_id;
        messages_.remove_from(last);
    }
    if (messages_.items().isEmpty() || messages_.items().last().role != QLatin1String("user")) return;
    start_reply(sibling);
}

void ChatController::editAndResend(int row, const QString& text) {
    const auto& items = messages_.items();
    if (row < 0 || row >= items.size() || items[row].role != QLatin1String("user")) {
        set_error(tr("Only a message of yours can be edited."));
        return;
    }
    const QString t = text.trimmed();
    if (t.isEmpty() || !can_start(tr("resending"))) return;
    clearError();
    const qint64 edited = items[row].message_id;
    // Editing the first message re-titles the conversation, unless the user
    // renamed it (its title is no longer the one taken from that message).
    if (row == 0 && title_ == title_from(items[0].content)) {
        const QString title = title_from(t);
        if (check_saved(store_.rename_conversation(conversation_id_, title), tr("the title"))) {
            title_ = title;
            emit currentTitleChanged();
            emit conversationsChanged();
        }
    }
    // The edit is a new version of the message; the old one and its replies stay.
    messages_.remove_from(row);
    if (add_user_message(t, edited)) start_reply();
}

void ChatController::showVersion(int row, int delta) {
    const auto& items = messages_.items();
    if (row < 0 || row >= items.size() || delta == 0) return;
    if (busy_ && reply_.conversation_id == conversation_id_) {
        set_error(tr("Wait for the reply to finish (or stop it) before switching versions."));
        return;
    }
    const QList<qint64> versions = store_.versions_of(items[row].message_id);
    const int at = (int)versions.indexOf(items[row].message_id) + delta;
    if (at < 0 || at >= versions.size()) return;
    if (!check_saved(store_.show_branch(conversation_id_, versions[at]), tr("the version"))) return;
    load_conversation(conversation_id_);
}

void ChatController::newConversation() {
    stop();  // a running reply still finishes into the store
    conversation_id_ = 0;
    title_.clear();
    messages_.clear();
    settings_ = default_generation_settings();
    emit currentConversationIdChanged();
    emit currentTitleChanged();
    emit systemPromptChanged();
    emit settingsChanged();
}

void ChatController::selectConversation(qint64 id) {
    if (id <= 0) return newConversation();
    if (!store_.conversation(id)) {
        set_error(tr("That conversation no longer exists."));
        return;
    }
    load_conversation(id);
}

void ChatController::load_conversation(qint64 id) {
    const auto conv = store_.conversation(id);
    if (!conv) return;
    QList<MessageItem> items;
    for (const eg::store::MessageRow& r : store_.messages(id)) {
        MessageItem m;
        m.message_id = r.id;
        m.role = r.role;
        m.content = r.content;
        m.version = r.version;
        m.versions = r.versions;
        m.stats_text = MessageListModel::stats_text(r.completion_tokens, r.tokens_per_s, r.ttft_ms);
        if (!r.finished && !(busy_ && r.id == reply_.message_id)) m.stats_text = tr("interrupted");
        items.push_back(std::move(m));
    }
    const bool changed = id != conversation_id_;
    conversation_id_ = id;
    title_ = conv->title;
    // A reply streaming into this conversation keeps streaming on screen.
    if (busy_ && reply_.conversation_id == id) {
        for (MessageItem& m : items)
            if (m.message_id == reply_.message_id) {
                m.content = reply_.text;
                m.streaming = true;
            }
    }
    messages_.set_items(std::move(items));
    // Saved settings over today's defaults: a key added since falls back to its default.
    settings_ = settings_merged(default_generation_settings(),
                                QJsonDocument::fromJson(conv->settings_json.toUtf8()).object().toVariantMap());
    settings_.system_prompt = conv->system_prompt.toStdString();
    if (changed) emit currentConversationIdChanged();
    emit currentTitleChanged();
    emit systemPromptChanged();
    emit settingsChanged();
}

void ChatController::onConversationRemoved(qint64 id) {
    if (id == conversation_id_) newConversation();
}

void ChatController::onConversationRenamed(qint64 id, const QString& title) {
    if (id != conversation_id_) return;
    title_ = title;
    emit currentTitleChanged();
}

void ChatController::loadModel(const QString& path) {
    // A remote engine's model (library/remote_engines.h) goes as it is.
    const QString p = eg::library::is_remote_model_ref(path) ? path : local_path_from_typed(path);
    if (p.isEmpty()) {
        set_error(tr("Not a local file: %1").arg(path));
        return;
    }
    loading_model_ = true;
    load_progress_ = 0;
    emit loadingModelChanged();
    emit loadProgressChanged();
    emit loadModelRequested(p);
}

void ChatController::onLoadProgress(double fraction) {
    load_progress_ = fraction;
    emit loadProgressChanged();
}

void ChatController::onModelLoaded(const QString& name, const QString& path) {
    model_loaded_ = true;
    model_name_ = name;
    model_path_ = path;
    loading_model_ = false;
    // A start opens the last local model: a remote one would connect before the user asks.
    if (prefs_ && !eg::library::is_remote_model_ref(path)) prefs_->setValue(QStringLiteral("model/last_path"), path);
    emit modelChanged();
    emit loadingModelChanged();
}

void ChatController::onLoadFailed(const QString& error) {
    // The worker unloads before it loads: no model is usable now.
    model_loaded_ = false;
    model_name_.clear();
    model_path_.clear();
    loading_model_ = false;
    set_error(tr("Cannot load the model: %1").arg(error));
    emit modelChanged();
    emit loadingModelChanged();
}

void ChatController::onSwitchFailed(const QString& error) {
    // Nothing was unloaded: the model in use stays.
    loading_model_ = false;
    set_error(tr("Cannot use that model: %1").arg(error));
    emit modelChanged();  // the picker shows the model in use again
    emit loadingModelChanged();
}

void ChatController::copyText(const QString& text) {
    QClipboard* c = QGuiApplication::clipboard();
    if (!c) return set_error(tr("There is no clipboard to copy to."));
    c->setText(text);
    set_notice(tr("Copied to the clipboard"));
}

QString ChatController::conversation_markdown() const {
    QString md = QStringLiteral("# %1\n\n").arg(title_.isEmpty() ? tr("New chat") : title_);
    if (const QString sp = systemPrompt().trimmed(); !sp.isEmpty()) md += QStringLiteral("> **System:** %1\n\n").arg(sp);
    for (const MessageItem& m : messages_.items()) {
        const QString who = m.role == QLatin1String("user")        ? tr("You")
                            : m.role == QLatin1String("assistant") ? tr("Assistant")
                                                                   : m.role;
        md += QStringLiteral("### %1\n\n%2\n\n").arg(who, m.content.trimmed());
        if (!m.stats_text.isEmpty()) md += QStringLiteral("*%1*\n\n").arg(m.stats_text);
    }
    return md;
}

QByteArray ChatController::conversation_json() const {
    QJsonObject o;
    QJsonArray msgs;
    if (const auto conv = store_.conversation(conversation_id_)) {
        o[QStringLiteral("title")] = conv->title;
        o[QStringLiteral("model")] = conv->model;
        o[QStringLiteral("created_at")] = conv->created_at.toString(Qt::ISODateWithMs);
        o[QStringLiteral("updated_at")] = conv->updated_at.toString(Qt::ISODateWithMs);
        for (const eg::store::MessageRow& r : store_.messages(conversation_id_)) {
            msgs.push_back(QJsonObject{{QStringLiteral("role"), r.role},
                                       {QStringLiteral("content"), r.content},
                                       {QStringLiteral("model"), r.model},
                                       {QStringLiteral("created_at"), r.created_at.toString(Qt::ISODateWithMs)},
                                       {QStringLiteral("prompt_tokens"), r.prompt_tokens},
                                       {QStringLiteral("completion_tokens"), r.completion_tokens},
                                       {QStringLiteral("tokens_per_s"), r.tokens_per_s},
                                       {QStringLiteral("ttft_ms"), r.ttft_ms},
                                       {QStringLiteral("finished"), r.finished}});
        }
    } else {
        o[QStringLiteral("title")] = title_;
    }
    o[QStringLiteral("system_prompt")] = systemPrompt();
    o[QStringLiteral("settings")] = QJsonObject::fromVariantMap(settings());
    o[QStringLiteral("messages")] = msgs;
    return QJsonDocument(o).toJson(QJsonDocument::Indented);
}

bool ChatController::exportMarkdown(const QString& file_url) {
    const QString path = local_path_from_typed(file_url);
    if (path.isEmpty()) return set_error(tr("Not a local file: %1").arg(file_url)), false;
    const eg::Status w = write_file(path, conversation_markdown().toUtf8());
    if (!w) set_error(eg::error_text(w));
    else set_notice(tr("Saved to %1").arg(QDir::toNativeSeparators(path)));
    return w.ok();
}

bool ChatController::exportJson(const QString& file_url) {
    const QString path = local_path_from_typed(file_url);
    if (path.isEmpty()) return set_error(tr("Not a local file: %1").arg(file_url)), false;
    const eg::Status w = write_file(path, conversation_json());
    if (!w) set_error(eg::error_text(w));
    else set_notice(tr("Saved to %1").arg(QDir::toNativeSeparators(path)));
    return w.ok();
}

}  // namespace eg::ui
