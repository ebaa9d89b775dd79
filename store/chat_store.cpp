// ChatStore: conversations and messages in SQLite through Qt SQL. Every
// statement is prepared with bound values; every write is its own committed
// transaction (WAL, synchronous=NORMAL: a killed process loses nothing that
// was committed; a power cut may lose the last commits, never consistency).
#include "store/chat_store.h"

#include "store/migrations.h"

#include "core/log.h"

#include <QRegularExpression>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

namespace eg::store {
namespace {

qint64 to_ms(const QDateTime& t) { return t.isValid() ? t.toMSecsSinceEpoch() : QDateTime::currentMSecsSinceEpoch(); }
QDateTime from_ms(const QVariant& v) { return QDateTime::fromMSecsSinceEpoch(v.toLongLong(), Qt::UTC); }
// A null QString binds as SQL NULL; the text columns are NOT NULL, '' is meant.
QString not_null(const QString& s) { return s.isNull() ? QStringLiteral("") : s; }

const QString kConversationColumns = QStringLiteral(
    "id, title, system_prompt, settings_json, model, created_at, updated_at");
const QString kMessageColumns = QStringLiteral(
    "id, conversation_id, role, content, model, created_at, prompt_tokens, completion_tokens, "
    "tokens_per_s, ttft_ms, finished, parent_id");

ConversationRow conversation_from(const QSqlQuery& q) {
    ConversationRow r;
    r.id = q.value(0).toLongLong();
    r.title = q.value(1).toString();
    r.system_prompt = q.value(2).toString();
    r.settings_json = q.value(3).toString();
    r.model = q.value(4).toString();
    r.created_at = from_ms(q.value(5));
    r.updated_at = from_ms(q.value(6));
    return r;
}

MessageRow message_from(const QSqlQuery& q) {
    MessageRow r;
    r.id = q.value(0).toLongLong();
    r.conversation_id = q.value(1).toLongLong();
    r.role = q.value(2).toString();
    r.content = q.value(3).toString();
    r.model = q.value(4).toString();
    r.created_at = from_ms(q.value(5));
    r.prompt_tokens = q.value(6).toInt();
    r.completion_tokens = q.value(7).toInt();
    r.tokens_per_s = q.value(8).toDouble();
    r.ttft_ms = q.value(9).toDouble();
    r.finished = q.value(10).toInt() != 0;
    r.parent_id = q.value(11).isNull() ? 0 : q.value(11).toLongLong();
    return r;
}

// A message id as SQL: 0 (none) is NULL.
QVariant id_or_null(qint64 id) { return id ? QVariant(id) : QVariant(QMetaType(QMetaType::LongLong)); }

// SQL that yields the next activity time: now, but strictly after every
// conversation's last activity, so "most recent first" is exact even when two
// writes land in the same millisecond (the clock may be nudged by a few ms).
const QString kNextActivity = QStringLiteral(
    "MAX(:now, (SELECT COALESCE(MAX(updated_at), 0) + 1 FROM conversations))");

void log_failed_read(const char* what, const QSqlQuery& q) {
    EG_LOG_ERROR("conversation store: reading {} failed: {}", what, q.lastError().text().toStdString());
}

}  // namespace

QString fts5_query_from_user_text(const QString& text) {
    static const QRegularExpression kSpace(QStringLiteral("\\s+"));
    QStringList terms;
    for (const QString& word : text.split(kSpace, Qt::SkipEmptyParts)) {
        // A word of punctuation only has no token to match; leaving it out
        // keeps `"`, `(` or `*` typed alone from making the query empty.
        bool searchable = false;
        for (QChar c : word) searchable = searchable || c.isLetterOrNumber();
        if (!searchable) continue;
        QString quoted = word;
        quoted.replace(QLatin1Char('"'), QStringLiteral("\"\""));
        terms << QLatin1Char('"') + quoted + QLatin1Char('"');
    }
    if (terms.isEmpty()) return {};
    terms.last() += QLatin1Char('*');
    return terms.join(QLatin1Char(' '));
}

ChatStore::ChatStore(const QString& connection_name) : connection_name_(connection_name) {}

ChatStore::~ChatStore() { close(); }

void ChatStore::close() {
    if (!db_.isValid()) return;
    db_.close();
    db_ = QSqlDatabase();  // the last handle must be gone before removeDatabase
    QSqlDatabase::removeDatabase(connection_name_);
}

bool ChatStore::is_open() const { return db_.isValid() && db_.isOpen(); }

QString ChatStore::path() const { return path_; }

eg::Status ChatStore::open(const QString& db_path) {
    close();
    path_ = db_path;
    auto failed = [&](const QString& why) {
        close();
        return to_error(QStringLiteral("cannot open the conversation store %1: %2").arg(db_path, why));
    };
    db_ = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), connection_name_);
    if (!db_.isValid()) return failed(QStringLiteral("the Qt SQLite driver (QSQLITE) is not installed"));
    db_.setDatabaseName(db_path);
    db_.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=5000"));
    if (!db_.open()) return failed(db_.lastError().text());

    QSqlQuery q(db_);
    if (!q.exec(QStringLiteral("PRAGMA foreign_keys = ON")))
        return failed(q.lastError().text());

    // Read the version before anything writes: a newer file must stay as it is.
    const eg::Result<int> read = migrations::read_version(db_);
    if (!read) return failed(error_text(read));
    const int version = read.value();
    if (version > kSchemaVersion)
        return failed(QStringLiteral("it was written by a newer Engram Desktop (schema version %1, this "
                                     "version understands up to %2); the file was left untouched")
                          .arg(version)
                          .arg(kSchemaVersion));

    if (!q.exec(QStringLiteral("PRAGMA journal_mode = WAL")) || !q.next())
        return failed(QStringLiteral("cannot switch to WAL: %1").arg(q.lastError().text()));
    if (q.value(0).toString().compare(QStringLiteral("wal"), Qt::CaseInsensitive) != 0)
        return failed(QStringLiteral("SQLite refused WAL mode (journal mode is '%1')").arg(q.value(0).toString()));
    q.finish();
    if (!q.exec(QStringLiteral("PRAGMA synchronous = NORMAL"))) return failed(q.lastError().text());

    if (version < kSchemaVersion)
        if (eg::Status m = migrations::migrate(db_, version, kSchemaVersion); !m) return failed(error_text(m));
    return {};
}

eg::Result<qint64> ChatStore::create_conversation(const QString& title, const QString& system_prompt,
                                      const QString& settings_json) {
    QSqlQuery q(db_);
    q.prepare(QStringLiteral("INSERT INTO conversations (title, system_prompt, settings_json, created_at, "
                             "updated_at) VALUES (:title, :prompt, :settings, :created, ") +
              kNextActivity + QStringLiteral(")"));
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    q.bindValue(QStringLiteral(":title"), not_null(title));
    q.bindValue(QStringLiteral(":prompt"), not_null(system_prompt));
    q.bindValue(QStringLiteral(":settings"), not_null(settings_json));
    q.bindValue(QStringLiteral(":created"), now);
    q.bindValue(QStringLiteral(":now"), now);
    if (!q.exec()) return to_error(QStringLiteral("cannot create a conversation: %1").arg(q.lastError().text()));
    return q.lastInsertId().toLongLong();
}

namespace {
eg::Status set_column(const QSqlDatabase& db, const char* column, qint64 id, const QString& value) {
    QSqlQuery q(db);
    q.prepare(QStringLiteral("UPDATE conversations SET %1 = ? WHERE id = ?").arg(QLatin1String(column)));
    q.addBindValue(not_null(value));
    q.addBindValue(id);
    if (!q.exec())
        return to_error(QStringLiteral("cannot change the %1 of conversation %2: %3")
                        .arg(QLatin1String(column))
                        .arg(id)
                        .arg(q.lastError().text()));
    if (q.numRowsAffected() != 1) return to_error(QStringLiteral("no conversation with id %1").arg(id));
    return {};
}
}  // namespace

eg::Status ChatStore::rename_conversation(qint64 id, const QString& title) {
    return set_column(db_, "title", id, title);
}
eg::Status ChatStore::set_system_prompt(qint64 id, const QString& text) {
    return set_column(db_, "system_prompt", id, text);
}
eg::Status ChatStore::set_settings_json(qint64 id, const QString& json) {
    return set_column(db_, "settings_json", id, json);
}
eg::Status ChatStore::set_conversation_model(qint64 id, const QString& model) {
    return set_column(db_, "model", id, model);
}

eg::Status ChatStore::delete_conversation(qint64 id) {
    // Messages go by ON DELETE CASCADE (foreign keys are on for this connection).
    QSqlQuery q(db_);
    q.prepare(QStringLiteral("DELETE FROM conversations WHERE id = ?"));
    q.addBindValue(id);
    if (!q.exec()) return to_error(QStringLiteral("cannot delete conversation %1: %2").arg(id).arg(q.lastError().text()));
    if (q.numRowsAffected() != 1) return to_error(QStringLiteral("no conversation with id %1").arg(id));
    return {};
}

std::optional<ConversationRow> ChatStore::conversation(qint64 id) const {
    QSqlQuery q(db_);
    q.prepare(QStringLiteral("SELECT %1 FROM conversations WHERE id = ?").arg(kConversationColumns));
    q.addBindValue(id);
    if (!q.exec()) return log_failed_read("conversation", q), std::nullopt;
    if (!q.next()) return std::nullopt;
    return conversation_from(q);
}

QList<ConversationRow> ChatStore::conversations() const {
    QList<ConversationRow> rows;
    QSqlQuery q(db_);
    q.prepare(QStringLiteral("SELECT %1 FROM conversations ORDER BY updated_at DESC, id DESC").arg(kConversationColumns));
    if (!q.exec()) return log_failed_read("conversations", q), rows;
    while (q.next()) rows << conversation_from(q);
    return rows;
}

namespace {
// The conversation's leaf and a message's parent, read inside a transaction.
std::optional<qint64> leaf_of(const QSqlDatabase& db, qint64 conversation_id) {
    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT leaf_id FROM conversations WHERE id = ?"));
    q.addBindValue(conversation_id);
    if (!q.exec() || !q.next()) return std::nullopt;
    return q.value(0).toLongLong();
}
eg::Status set_leaf(const QSqlDatabase& db, qint64 conversation_id, qint64 leaf) {
    QSqlQuery q(db);
    q.prepare(QStringLiteral("UPDATE conversations SET leaf_id = ? WHERE id = ?"));
    q.addBindValue(leaf);
    q.addBindValue(conversation_id);
    if (!q.exec()) return to_error(q.lastError().text());
    return {};
}
}  // namespace

eg::Result<qint64> ChatStore::insert_message(const MessageRow& m, std::optional<qint64> sibling) {
    const QString what = QStringLiteral("cannot add a message to conversation %1: %2").arg(m.conversation_id);
    if (!db_.transaction()) return to_error(what.arg(db_.lastError().text()));
    auto failed = [&](const QString& why) -> eg::Error {
        db_.rollback();
        return to_error(what.arg(why));
    };
    const std::optional<qint64> leaf = leaf_of(db_, m.conversation_id);
    if (!leaf) return failed(QStringLiteral("no such conversation"));
    qint64 parent = *leaf;
    if (sibling) {
        const std::optional<MessageRow> s = message(*sibling);
        if (!s || s->conversation_id != m.conversation_id)
            return failed(QStringLiteral("message %1 is not in it").arg(*sibling));
        parent = s->parent_id;
    }
    QSqlQuery q(db_);
    q.prepare(QStringLiteral("INSERT INTO messages (conversation_id, role, content, model, created_at, "
                             "prompt_tokens, completion_tokens, tokens_per_s, ttft_ms, finished, parent_id) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    q.addBindValue(m.conversation_id);
    q.addBindValue(not_null(m.role));
    q.addBindValue(not_null(m.content));
    q.addBindValue(not_null(m.model));
    q.addBindValue(to_ms(m.created_at));
    q.addBindValue(m.prompt_tokens);
    q.addBindValue(m.completion_tokens);
    q.addBindValue(m.tokens_per_s);
    q.addBindValue(m.ttft_ms);
    q.addBindValue(m.finished ? 1 : 0);
    q.addBindValue(id_or_null(parent));
    if (!q.exec()) return failed(q.lastError().text());
    const qint64 id = q.lastInsertId().toLongLong();

    QSqlQuery touch(db_);
    touch.prepare(QStringLiteral("UPDATE conversations SET leaf_id = :leaf, updated_at = ") + kNextActivity +
                  QStringLiteral(" WHERE id = :id"));
    touch.bindValue(QStringLiteral(":leaf"), id);
    touch.bindValue(QStringLiteral(":now"), QDateTime::currentMSecsSinceEpoch());
    touch.bindValue(QStringLiteral(":id"), m.conversation_id);
    if (!touch.exec()) return failed(touch.lastError().text());
    if (!db_.commit()) return failed(db_.lastError().text());
    return id;
}

eg::Result<qint64> ChatStore::add_message(const MessageRow& m) { return insert_message(m, std::nullopt); }

eg::Result<qint64> ChatStore::add_version(const MessageRow& m, qint64 sibling) { return insert_message(m, sibling); }

eg::Status ChatStore::show_branch(qint64 conversation_id, qint64 message_id) {
    const std::optional<MessageRow> m = message(message_id);
    if (!m || m->conversation_id != conversation_id)
        return to_error(QStringLiteral("message %1 is not in conversation %2").arg(message_id).arg(conversation_id));
    // Down from it, the newest child each time.
    qint64 leaf = message_id;
    QSqlQuery q(db_);
    q.prepare(QStringLiteral("SELECT MAX(id) FROM messages WHERE parent_id = ?"));
    for (;;) {
        q.addBindValue(leaf);
        if (!q.exec() || !q.next())
            return to_error(QStringLiteral("cannot read the branch of message %1: %2").arg(message_id).arg(q.lastError().text()));
        if (q.value(0).isNull()) break;
        leaf = q.value(0).toLongLong();
    }
    if (eg::Status st = set_leaf(db_, conversation_id, leaf); !st)
        return to_error(QStringLiteral("cannot show the branch of message %1: %2").arg(message_id).arg(error_text(st)));
    return {};
}

QList<qint64> ChatStore::versions_of(qint64 message_id) const {
    QList<qint64> ids;
    QSqlQuery q(db_);
    q.prepare(QStringLiteral("SELECT s.id FROM messages s JOIN messages m ON m.id = ? "
                             "WHERE s.conversation_id = m.conversation_id AND s.parent_id IS m.parent_id ORDER BY s.id"));
    q.addBindValue(message_id);
    if (!q.exec()) return log_failed_read("versions", q), ids;
    while (q.next()) ids << q.value(0).toLongLong();
    return ids;
}

eg::Status ChatStore::update_message(qint64 id, const QString& content, bool finished, int prompt_tokens,
                                     int completion_tokens, double tokens_per_s, double ttft_ms) {
    QSqlQuery q(db_);
    q.prepare(QStringLiteral("UPDATE messages SET content = ?, finished = ?, prompt_tokens = ?, "
                             "completion_tokens = ?, tokens_per_s = ?, ttft_ms = ? WHERE id = ?"));
    q.addBindValue(not_null(content));
    q.addBindValue(finished ? 1 : 0);
    q.addBindValue(prompt_tokens);
    q.addBindValue(completion_tokens);
    q.addBindValue(tokens_per_s);
    q.addBindValue(ttft_ms);
    q.addBindValue(id);
    if (!q.exec()) return to_error(QStringLiteral("cannot update message %1: %2").arg(id).arg(q.lastError().text()));
    if (q.numRowsAffected() != 1) return to_error(QStringLiteral("no message with id %1").arg(id));
    return {};
}

std::optional<MessageRow> ChatStore::message(qint64 id) const {
    QSqlQuery q(db_);
    q.prepare(QStringLiteral("SELECT %1 FROM messages WHERE id = ?").arg(kMessageColumns));
    q.addBindValue(id);
    if (!q.exec()) return log_failed_read("message", q), std::nullopt;
    if (!q.next()) return std::nullopt;
    return message_from(q);
}

eg::Status ChatStore::delete_messages_from(qint64 conversation_id, qint64 message_id) {
    const QString what = QStringLiteral("cannot delete messages: %1");
    const std::optional<MessageRow> m = message(message_id);
    if (!m || m->conversation_id != conversation_id)
        return to_error(QStringLiteral("message %1 is not in conversation %2").arg(message_id).arg(conversation_id));
    if (!db_.transaction()) return to_error(what.arg(db_.lastError().text()));
    auto failed = [&](const QString& why) -> eg::Error {
        db_.rollback();
        return to_error(what.arg(why));
    };
    // The subtree in one statement (the parent references are checked at its end).
    QSqlQuery q(db_);
    q.prepare(QStringLiteral("WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL "
                             "SELECT c.id FROM messages c JOIN sub ON c.parent_id = sub.id) "
                             "DELETE FROM messages WHERE id IN (SELECT id FROM sub)"));
    q.addBindValue(message_id);
    if (!q.exec()) return failed(q.lastError().text());
    // The branch on screen ran through it: it now ends at its parent.
    const std::optional<qint64> leaf = leaf_of(db_, conversation_id);
    if (leaf && !message(*leaf))
        if (eg::Status st = set_leaf(db_, conversation_id, m->parent_id); !st) return failed(error_text(st));
    if (!db_.commit()) return failed(db_.lastError().text());
    return {};
}

QList<MessageRow> ChatStore::messages(qint64 conversation_id) const {
    QList<MessageRow> rows;
    QSqlQuery q(db_);
    // Up from the leaf to the first message; each with its place among its versions.
    QString cols;
    for (const QString& c : kMessageColumns.split(QStringLiteral(", "))) cols += (cols.isEmpty() ? "m." : ", m.") + c;
    q.prepare(QStringLiteral("WITH RECURSIVE path(id, depth) AS ("
                             " SELECT leaf_id, 0 FROM conversations WHERE id = :c AND leaf_id != 0"
                             " UNION ALL SELECT m.parent_id, path.depth + 1 FROM messages m JOIN path ON m.id = path.id"
                             " WHERE m.parent_id IS NOT NULL) "
                             "SELECT %1,"
                             " (SELECT COUNT(*) FROM messages s WHERE s.conversation_id = m.conversation_id"
                             "  AND s.parent_id IS m.parent_id AND s.id <= m.id),"
                             " (SELECT COUNT(*) FROM messages s WHERE s.conversation_id = m.conversation_id"
                             "  AND s.parent_id IS m.parent_id) "
                             "FROM path JOIN messages m ON m.id = path.id WHERE m.conversation_id = :c "
                             "ORDER BY path.depth DESC")
                  .arg(cols));
    q.bindValue(QStringLiteral(":c"), conversation_id);
    if (!q.exec()) return log_failed_read("messages", q), rows;
    while (q.next()) {
        MessageRow r = message_from(q);
        r.version = q.value(12).toInt();
        r.versions = q.value(13).toInt();
        rows << r;
    }
    return rows;
}

int ChatStore::message_count(qint64 conversation_id) const {
    QSqlQuery q(db_);
    q.prepare(QStringLiteral("SELECT COUNT(*) FROM messages WHERE conversation_id = ?"));
    q.addBindValue(conversation_id);
    if (!q.exec() || !q.next()) return log_failed_read("message count", q), 0;
    return q.value(0).toInt();
}

eg::Result<QList<SearchHit>> ChatStore::search(const QString& text, int limit) const {
    QList<SearchHit> hits;
    const QString match = fts5_query_from_user_text(text);
    if (match.isEmpty() || limit <= 0) return hits;
    const QString begin(kMatchBegin), end(kMatchEnd), ellipsis(QChar(0x2026));

    QSqlQuery q(db_);
    q.prepare(QStringLiteral("SELECT c.id, snippet(conversations_fts, 0, ?, ?, ?, 16) FROM conversations_fts "
                             "JOIN conversations c ON c.id = conversations_fts.rowid "
                             "WHERE conversations_fts MATCH ? ORDER BY rank LIMIT ?"));
    for (const QVariant& v : {QVariant(begin), QVariant(end), QVariant(ellipsis), QVariant(match), QVariant(limit)})
        q.addBindValue(v);
    if (!q.exec()) return to_error(QStringLiteral("search failed: %1").arg(q.lastError().text()));
    while (q.next()) hits << SearchHit{q.value(0).toLongLong(), 0, q.value(1).toString()};

    q.prepare(QStringLiteral("SELECT m.conversation_id, m.id, snippet(messages_fts, 0, ?, ?, ?, 16) FROM messages_fts "
                             "JOIN messages m ON m.id = messages_fts.rowid "
                             "WHERE messages_fts MATCH ? ORDER BY rank LIMIT ?"));
    for (const QVariant& v :
         {QVariant(begin), QVariant(end), QVariant(ellipsis), QVariant(match), QVariant(limit - int(hits.size()))})
        q.addBindValue(v);
    if (!q.exec()) return to_error(QStringLiteral("search failed: %1").arg(q.lastError().text()));
    while (q.next()) hits << SearchHit{q.value(0).toLongLong(), q.value(1).toLongLong(), q.value(2).toString()};
    return hits;
}

eg::Result<QString> ChatStore::integrity_check() const {
    QSqlQuery q(db_);
    if (!q.exec(QStringLiteral("PRAGMA integrity_check")))
        return to_error(QStringLiteral("integrity_check failed: %1").arg(q.lastError().text()));
    QStringList lines;
    while (q.next()) lines << q.value(0).toString();
    return lines.join(QLatin1Char('\n'));
}

}  // namespace eg::store
