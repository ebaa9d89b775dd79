// ChatStore: the one source of truth for conversations and their messages,
// kept in SQLite (Qt SQL, QSQLITE) with WAL, versioned schema and FTS5 search.
#pragma once

#include <QDateTime>
#include <QList>
#include <QSqlDatabase>
#include <QString>

#include <optional>

#include "core/result.h"
#include "store/result_qt.h"

namespace eg::store {

struct ConversationRow {
    qint64 id = 0;
    QString title;
    QString system_prompt;
    QString settings_json;  // per-conversation sampling settings, opaque to the store
    QString model;
    QDateTime created_at, updated_at;  // UTC; updated_at = last message activity
};

struct MessageRow {
    qint64 id = 0;
    qint64 conversation_id = 0;
    QString role;  // system|user|assistant
    QString content;
    QString model;
    QDateTime created_at;  // UTC
    int prompt_tokens = 0;
    int completion_tokens = 0;
    double tokens_per_s = 0;
    double ttft_ms = 0;
    bool finished = true;  // false while an assistant reply is still streaming (or was cut by a crash)
    qint64 parent_id = 0;  // the message it answers or follows; 0 for the first of a branch
    // Filled by messages(): this message among the versions of its place in
    // the conversation (the messages with the same parent), 1-based, oldest first.
    int version = 1, versions = 1;
};

struct SearchHit {
    qint64 conversation_id = 0;
    qint64 message_id = 0;  // 0 when the conversation's title matched
    // Plain text around the match; each matched term is wrapped in
    // ChatStore::kMatchBegin / kMatchEnd (the text itself is not escaped).
    QString snippet;
};

// Everything runs in the calling thread on the store's own named connection;
// create and use a ChatStore in one thread only, and give two stores alive at
// the same time different connection names.
//
// Errors follow the convention of the whole codebase (core/result.h): what
// can fail returns eg::Status or eg::Result<T> whose message is a sentence
// naming the file or the row; readers return what they find and log a failed
// query (the store's file is ours: a read fails only when the disk does).
class ChatStore {
public:
    static constexpr int kSchemaVersion = 4;
    // Control characters, never part of chat text, so the UI can turn them
    // into highlighting without mistaking a real bracket for a match.
    static constexpr char16_t kMatchBegin = u'\x02';
    static constexpr char16_t kMatchEnd = u'\x03';

    explicit ChatStore(const QString& connection_name = QStringLiteral("engram"));
    ~ChatStore();
    ChatStore(const ChatStore&) = delete;
    ChatStore& operator=(const ChatStore&) = delete;

    // Creates the file or migrates it from any older schema; WAL, foreign keys
    // on. A file from a newer version is refused and left untouched.
    eg::Status open(const QString& db_path);
    bool is_open() const;
    void close();
    QString path() const;

    eg::Result<qint64> create_conversation(const QString& title, const QString& system_prompt = {},
                                           const QString& settings_json = {});  // the new id
    eg::Status rename_conversation(qint64 id, const QString& title);            // does not reorder
    eg::Status delete_conversation(qint64 id);                                  // messages go with it
    eg::Status set_system_prompt(qint64 id, const QString& text);
    eg::Status set_settings_json(qint64 id, const QString& json);
    eg::Status set_conversation_model(qint64 id, const QString& model);
    std::optional<ConversationRow> conversation(qint64 id) const;
    QList<ConversationRow> conversations() const;  // most recent activity first

    // Messages form a tree: editing a message or regenerating a reply adds a
    // version beside it (a new branch), and nothing is deleted. The
    // conversation shows one branch, from its first message to its "leaf".
    //
    // Appends m to the branch on screen (m.parent_id is ignored); the new id.
    // Touches the conversation's updated_at; the new message becomes the leaf.
    eg::Result<qint64> add_message(const MessageRow& m);
    // Adds m as a new version beside `sibling` (same parent): an edit or a
    // regenerated reply. It becomes the leaf.
    eg::Result<qint64> add_version(const MessageRow& m, qint64 sibling);
    // Shows the branch through message_id: the leaf becomes its newest
    // descendant (following the newest child at each step).
    eg::Status show_branch(qint64 conversation_id, qint64 message_id);
    // The versions of message_id's place (itself included), oldest first.
    QList<qint64> versions_of(qint64 message_id) const;
    // Each call is its own committed transaction, so a streaming reply saved
    // this way survives a crash up to the last call.
    eg::Status update_message(qint64 id, const QString& content, bool finished, int prompt_tokens = 0,
                              int completion_tokens = 0, double tokens_per_s = 0, double ttft_ms = 0);
    std::optional<MessageRow> message(qint64 id) const;
    // Deletes message_id and everything after it in every branch (its
    // subtree); the branch on screen then ends at its parent. An error if
    // the message is not in the conversation.
    eg::Status delete_messages_from(qint64 conversation_id, qint64 message_id);
    // The branch on screen, oldest first, each with its version and count.
    QList<MessageRow> messages(qint64 conversation_id) const;
    // Every message of every branch (oldest first): what export of all keeps.
    int message_count(qint64 conversation_id) const;

    // FTS5 over message text and conversation titles: every word of `text`
    // must occur (the last one as a prefix, for search-as-you-type). Title
    // hits come first, then messages by relevance. Any input is safe.
    eg::Result<QList<SearchHit>> search(const QString& text, int limit = 50) const;

    eg::Result<QString> integrity_check() const;  // PRAGMA integrity_check result ("ok")

private:
    // Inserts m after the leaf, or beside `sibling` when given; m becomes the leaf.
    eg::Result<qint64> insert_message(const MessageRow& m, std::optional<qint64> sibling);

    QString connection_name_;
    QString path_;
    QSqlDatabase db_;
};

// Turns free user text into an FTS5 MATCH expression that cannot be a syntax
// error: each word becomes a quoted string ("" inside quotes), the last one a
// prefix. Empty when nothing searchable is left.
QString fts5_query_from_user_text(const QString& text);

}  // namespace eg::store
