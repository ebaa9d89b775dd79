// Schema history of the conversation store: v1 (conversations + messages),
// v2 (reply stats, finished flag, per-conversation settings), v3 (FTS5 search
// over message text and titles, kept in sync by triggers), v4 (messages form
// a tree: an edit or a regenerated reply is a new branch; the conversation
// names the last message of the branch on screen). A new store runs
// every step from v1, so fresh and migrated files have the same schema.
#include "store/migrations.h"
#include "store/result_qt.h"

#include <QSqlError>
#include <QSqlQuery>
#include <QStringList>

namespace eg::store::migrations {
namespace {

// Times are INTEGER milliseconds since the Unix epoch (UTC).
const char* const kToV1[] = {
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "INSERT INTO schema_version (version) VALUES (0)",
    "CREATE TABLE conversations ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " title TEXT NOT NULL DEFAULT '',"
    " system_prompt TEXT NOT NULL DEFAULT '',"
    " model TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL)",
    "CREATE TABLE messages ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
    " role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),"
    " content TEXT NOT NULL DEFAULT '',"
    " model TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL)",
    "CREATE INDEX messages_by_conversation ON messages (conversation_id, id)",
};

const char* const kToV2[] = {
    "ALTER TABLE conversations ADD COLUMN settings_json TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE messages ADD COLUMN prompt_tokens INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE messages ADD COLUMN completion_tokens INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE messages ADD COLUMN tokens_per_s REAL NOT NULL DEFAULT 0",
    "ALTER TABLE messages ADD COLUMN ttft_ms REAL NOT NULL DEFAULT 0",
    "ALTER TABLE messages ADD COLUMN finished INTEGER NOT NULL DEFAULT 1",
    "CREATE INDEX conversations_by_activity ON conversations (updated_at DESC, id DESC)",
};

// External-content FTS5 tables: the text lives once, in messages/conversations;
// the triggers keep the index equal to it (including cascade deletes, which
// fire the messages' delete trigger).
const char* const kToV3[] = {
    "CREATE VIRTUAL TABLE messages_fts USING fts5("
    " content, content='messages', content_rowid='id',"
    " tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN"
    " INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN"
    " INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content); END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN"
    " INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);"
    " INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content); END",
    "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')",
    "CREATE VIRTUAL TABLE conversations_fts USING fts5("
    " title, content='conversations', content_rowid='id',"
    " tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN"
    " INSERT INTO conversations_fts (rowid, title) VALUES (new.id, new.title); END",
    "CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN"
    " INSERT INTO conversations_fts (conversations_fts, rowid, title) VALUES ('delete', old.id, old.title); END",
    "CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations BEGIN"
    " INSERT INTO conversations_fts (conversations_fts, rowid, title) VALUES ('delete', old.id, old.title);"
    " INSERT INTO conversations_fts (rowid, title) VALUES (new.id, new.title); END",
    "INSERT INTO conversations_fts (conversations_fts) VALUES ('rebuild')",
};

// Each existing message's parent is the one before it: a chat becomes one
// branch, its last message the one on screen.
const char* const kToV4[] = {
    // No ON DELETE CASCADE: a chain of thousands of messages would nest
    // cascades past SQLite's limit; a subtree is deleted in one statement.
    "ALTER TABLE messages ADD COLUMN parent_id INTEGER REFERENCES messages(id)",
    "ALTER TABLE conversations ADD COLUMN leaf_id INTEGER NOT NULL DEFAULT 0",
    "UPDATE messages SET parent_id = (SELECT MAX(p.id) FROM messages p"
    " WHERE p.conversation_id = messages.conversation_id AND p.id < messages.id)",
    "UPDATE conversations SET leaf_id = COALESCE((SELECT MAX(m.id) FROM messages m"
    " WHERE m.conversation_id = conversations.id), 0)",
    "CREATE INDEX messages_by_parent ON messages (parent_id, id)",
};

struct Step {
    const char* const* sql;
    size_t count;
    const char* what;
};

template <size_t N>
constexpr Step step(const char* const (&sql)[N], const char* what) { return {sql, N, what}; }

// steps[i] takes the schema from version i to i + 1.
const Step kSteps[] = {
    step(kToV1, "create conversations and messages"),
    step(kToV2, "add reply stats and conversation settings"),
    step(kToV3, "add full-text search (SQLite FTS5)"),
    step(kToV4, "keep edits and regenerated replies as branches"),
};
constexpr int kLatest = int(sizeof kSteps / sizeof kSteps[0]);

bool exec(QSqlDatabase& db, const QString& sql, QString* error) {
    QSqlQuery q(db);
    if (q.exec(sql)) return true;
    *error = q.lastError().text();
    return false;
}

}  // namespace

eg::Result<int> read_version(QSqlDatabase& db) {
    QSqlQuery q(db);
    if (!q.exec(QStringLiteral("SELECT name FROM sqlite_master WHERE type = 'table'")))
        return to_error(QStringLiteral("cannot read the database: %1").arg(q.lastError().text()));
    QStringList tables;
    while (q.next()) tables << q.value(0).toString();
    if (tables.isEmpty()) return 0;
    if (!tables.contains(QStringLiteral("schema_version")))
        return to_error(QStringLiteral("not an Engram Desktop conversation store (it has tables but no schema_version)"));
    if (!q.exec(QStringLiteral("SELECT version FROM schema_version")) || !q.next())
        return to_error(QStringLiteral("cannot read the schema version: %1").arg(q.lastError().text()));
    bool ok = false;
    const int version = q.value(0).toInt(&ok);
    if (!ok || version < 0)
        return to_error(QStringLiteral("the schema version is not a valid number: '%1'").arg(q.value(0).toString()));
    return version;
}

eg::Status migrate(QSqlDatabase& db, int from, int to) {
    if (to > kLatest) return to_error(QStringLiteral("no migration step to schema version %1").arg(to));
    for (int v = from; v < to; ++v) {
        const Step& s = kSteps[v];
        QString why;
        bool ok = db.transaction();
        if (!ok) why = db.lastError().text();
        for (size_t i = 0; ok && i < s.count; ++i) ok = exec(db, QString::fromUtf8(s.sql[i]), &why);
        if (ok) {
            QSqlQuery q(db);
            q.prepare(QStringLiteral("UPDATE schema_version SET version = ?"));
            q.addBindValue(v + 1);
            ok = q.exec();
            if (!ok) why = q.lastError().text();
        }
        if (ok) {
            ok = db.commit();
            if (!ok) why = db.lastError().text();
        }
        if (!ok) {
            db.rollback();
            return to_error(QStringLiteral("migration of the conversation store from schema version %1 to %2 (%3) failed: %4")
                            .arg(v)
                            .arg(v + 1)
                            .arg(QString::fromUtf8(s.what), why));
        }
    }
    return {};
}

}  // namespace eg::store::migrations
