// Tests of the conversation store (app/src/store): CRUD, activity order,
// cascade delete, FTS5 search, migrations from every older schema, refusal of
// a newer one, and a writer killed with SIGKILL mid-reply.
#include "store/chat_store.h"
#include "test_env.h"

#include <QFile>
#include <QProcess>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QtTest>

#include <csignal>
#include <sys/types.h>

using eg::store::ChatStore;
using eg::store::MessageRow;

namespace {

// A plain QSQLITE connection, for writing old schemas and peeking behind the store.
class RawDb {
public:
    explicit RawDb(const QString& path) : name_(QStringLiteral("raw%1").arg(++counter_)) {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name_);
        db.setDatabaseName(path);
        ok_ = db.open();
    }
    ~RawDb() {
        QSqlDatabase::database(name_, false).close();
        QSqlDatabase::removeDatabase(name_);
    }
    bool ok() const { return ok_; }
    // Runs statements; returns the first error, or empty.
    QString exec(const QStringList& statements) {
        QSqlQuery q(QSqlDatabase::database(name_, false));
        for (const QString& s : statements)
            if (!q.exec(s)) return s + QStringLiteral(": ") + q.lastError().text();
        return {};
    }
    QVariant scalar(const QString& sql) {
        QSqlQuery q(QSqlDatabase::database(name_, false));
        if (!q.exec(sql) || !q.next()) return QStringLiteral("ERROR: ") + q.lastError().text();
        return q.value(0);
    }

private:
    static inline int counter_ = 0;
    QString name_;
    bool ok_ = false;
};

// The schemas as released, copied here on purpose: if a migration step is
// edited after its release, these files stop matching and the tests say so.
const QStringList kSchemaV1 = {
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "INSERT INTO schema_version (version) VALUES (1)",
    "CREATE TABLE conversations (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL DEFAULT '',"
    " system_prompt TEXT NOT NULL DEFAULT '', model TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
    "CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
    " role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),"
    " content TEXT NOT NULL DEFAULT '', model TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL)",
    "CREATE INDEX messages_by_conversation ON messages (conversation_id, id)",
};
const QStringList kSchemaV2Extra = {
    "ALTER TABLE conversations ADD COLUMN settings_json TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE messages ADD COLUMN prompt_tokens INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE messages ADD COLUMN completion_tokens INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE messages ADD COLUMN tokens_per_s REAL NOT NULL DEFAULT 0",
    "ALTER TABLE messages ADD COLUMN ttft_ms REAL NOT NULL DEFAULT 0",
    "ALTER TABLE messages ADD COLUMN finished INTEGER NOT NULL DEFAULT 1",
    "CREATE INDEX conversations_by_activity ON conversations (updated_at DESC, id DESC)",
    "UPDATE schema_version SET version = 2",
};
const QStringList kSchemaV3Extra = {
    "CREATE VIRTUAL TABLE messages_fts USING fts5("
    " content, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN"
    " INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN"
    " INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content); END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN"
    " INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);"
    " INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content); END",
    "CREATE VIRTUAL TABLE conversations_fts USING fts5("
    " title, content='conversations', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN"
    " INSERT INTO conversations_fts (rowid, title) VALUES (new.id, new.title); END",
    "CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN"
    " INSERT INTO conversations_fts (conversations_fts, rowid, title) VALUES ('delete', old.id, old.title); END",
    "CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations BEGIN"
    " INSERT INTO conversations_fts (conversations_fts, rowid, title) VALUES ('delete', old.id, old.title);"
    " INSERT INTO conversations_fts (rowid, title) VALUES (new.id, new.title); END",
    "UPDATE schema_version SET version = 3",
};

MessageRow msg(qint64 conversation, const QString& role, const QString& content) {
    MessageRow m;
    m.conversation_id = conversation;
    m.role = role;
    m.content = content;
    m.model = QStringLiteral("smollm2-135m");
    return m;
}

// The store's results (core/result.h) where a test wants the value: a new
// id (0 when the write failed), search hits (none when the search failed).
qint64 id_of(const eg::Result<qint64>& r) { return r ? r.value() : 0; }
QList<eg::store::SearchHit> hits_of(const eg::Result<QList<eg::store::SearchHit>>& r) {
    return r ? r.value() : QList<eg::store::SearchHit>();
}
QString text_of(const eg::Status& s) { return QString::fromStdString(s.message()); }
template <class T>
QString text_of(const eg::Result<T>& r) {
    return r ? QString() : QString::fromStdString(r.message());
}

QList<qint64> ids_of(const QList<eg::store::ConversationRow>& rows) {
    QList<qint64> ids;
    for (const auto& r : rows) ids << r.id;
    return ids;
}

// The child's text after n updates: "w0 w1 ... w(n-1) ".
QString child_text(int n) {
    QString t;
    for (int i = 0; i < n; ++i) t += QStringLiteral("w%1 ").arg(i);
    return t;
}

}  // namespace

class TestStore : public QObject {
    Q_OBJECT

private:
    QTemporaryDir dir_;
    QString db_path(const char* name) const { return dir_.filePath(QString::fromLatin1(name)); }

private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void create_and_crud() {
        const QString path = db_path("crud.db");
        {
            ChatStore store(QStringLiteral("crud"));
            EG_VERIFY_OK(store.open(path));
            QCOMPARE(store.path(), path);

            const qint64 c = id_of(store.create_conversation(QStringLiteral("First chat"), QStringLiteral("Be brief."),
                                                       QStringLiteral("{\"temperature\":0.7}")));
            QVERIFY(c > 0);
            auto row = store.conversation(c);
            QVERIFY(row.has_value());
            QCOMPARE(row->title, QStringLiteral("First chat"));
            QCOMPARE(row->system_prompt, QStringLiteral("Be brief."));
            QCOMPARE(row->settings_json, QStringLiteral("{\"temperature\":0.7}"));
            QCOMPARE(row->created_at.timeSpec(), Qt::UTC);
            QVERIFY(qAbs(row->created_at.secsTo(QDateTime::currentDateTimeUtc())) < 60);

            QVERIFY(store.rename_conversation(c, QStringLiteral("Renamed")));
            QVERIFY(store.set_system_prompt(c, QStringLiteral("Be kind.")));
            QVERIFY(store.set_settings_json(c, QStringLiteral("{\"top_k\":40}")));
            QVERIFY(store.set_conversation_model(c, QStringLiteral("smollm2")));
            row = store.conversation(c);
            QCOMPARE(row->title, QStringLiteral("Renamed"));
            QCOMPARE(row->system_prompt, QStringLiteral("Be kind."));
            QCOMPARE(row->settings_json, QStringLiteral("{\"top_k\":40}"));
            QCOMPARE(row->model, QStringLiteral("smollm2"));

            const qint64 u = id_of(store.add_message(msg(c, "user", QStringLiteral("Hello there \u00e9t\u00e9 \U0001F600"))));
            MessageRow a = msg(c, "assistant", QString());
            a.finished = false;
            const qint64 r = id_of(store.add_message(a));
            QVERIFY(u > 0 && r > u);
            QVERIFY(store.update_message(r, QStringLiteral("General Kenobi."), true, 12, 4, 31.5, 120.25));

            const auto ms = store.messages(c);
            QCOMPARE(ms.size(), 2);
            QCOMPARE(ms[0].id, u);
            QCOMPARE(ms[0].role, QStringLiteral("user"));
            QCOMPARE(ms[0].content, QStringLiteral("Hello there \u00e9t\u00e9 \U0001F600"));
            QCOMPARE(ms[0].model, QStringLiteral("smollm2-135m"));
            QCOMPARE(ms[1].content, QStringLiteral("General Kenobi."));
            QCOMPARE(ms[1].prompt_tokens, 12);
            QCOMPARE(ms[1].completion_tokens, 4);
            QCOMPARE(ms[1].tokens_per_s, 31.5);
            QCOMPARE(ms[1].ttft_ms, 120.25);
            QVERIFY(ms[1].finished);
            QCOMPARE(store.message(r)->content, QStringLiteral("General Kenobi."));

            // Wrong ids and bad rows fail with a sentence, and change nothing.
            const eg::Status missing = store.rename_conversation(9999, QStringLiteral("x"));
            QVERIFY(!missing);
            QVERIFY(text_of(missing).contains(QStringLiteral("9999")));
            QVERIFY(!store.update_message(9999, QStringLiteral("x"), true));
            const eg::Result<qint64> orphan = store.add_message(msg(9999, "user", QStringLiteral("orphan")));
            QCOMPARE(id_of(orphan), 0);  // foreign key
            QVERIFY(!text_of(orphan).isEmpty());
            QCOMPARE(id_of(store.add_message(msg(c, "robot", QStringLiteral("bad role")))), 0);
            QVERIFY(!store.delete_conversation(9999));
            QVERIFY(!store.conversation(9999).has_value());
            QCOMPARE(store.messages(c).size(), 2);

            // Edit-and-resend: truncate from the user message; a message of
            // another conversation is refused.
            const qint64 other = id_of(store.create_conversation(QStringLiteral("Other")));
            const qint64 o1 = id_of(store.add_message(msg(other, "user", QStringLiteral("keep me"))));
            QVERIFY(!store.delete_messages_from(c, o1));
            QCOMPARE(store.messages(other).size(), 1);
            QVERIFY(store.delete_messages_from(c, r));
            QCOMPARE(store.messages(c).size(), 1);
            QVERIFY(store.delete_messages_from(c, u));
            QVERIFY(store.messages(c).isEmpty());
            QCOMPARE(store.messages(other).size(), 1);
            QCOMPARE(store.integrity_check().value(), QStringLiteral("ok"));
        }
        // Reopen: everything is still there; the file is WAL, the latest version.
        ChatStore again(QStringLiteral("crud2"));
        EG_VERIFY_OK(again.open(path));
        QCOMPARE(again.conversations().size(), 2);
        RawDb raw(path);
        QCOMPARE(raw.scalar("SELECT version FROM schema_version").toInt(), ChatStore::kSchemaVersion);
        QCOMPARE(raw.scalar("PRAGMA journal_mode").toString(), QStringLiteral("wal"));
    }

    // Edits and regenerated replies are versions beside what they replace:
    // nothing is deleted, the branch on screen is chosen, and every version
    // says where it stands.
    void edits_and_regenerations_are_branches() {
        ChatStore store(QStringLiteral("branches"));
        EG_VERIFY_OK(store.open(db_path("branches.db")));
        const qint64 c = id_of(store.create_conversation(QStringLiteral("Birds")));
        const qint64 u1 = id_of(store.add_message(msg(c, "user", QStringLiteral("Name a bird."))));
        const qint64 a1 = id_of(store.add_message(msg(c, "assistant", QStringLiteral("A puffin."))));
        const qint64 u2 = id_of(store.add_message(msg(c, "user", QStringLiteral("Another?"))));
        const qint64 a2 = id_of(store.add_message(msg(c, "assistant", QStringLiteral("A heron."))));
        auto contents = [&] {
            QStringList t;
            for (const MessageRow& m : store.messages(c)) t << QStringLiteral("%1 %2/%3").arg(m.content).arg(m.version).arg(m.versions);
            return t.join(QStringLiteral(" | "));
        };
        QCOMPARE(contents(), QStringLiteral("Name a bird. 1/1 | A puffin. 1/1 | Another? 1/1 | A heron. 1/1"));
        QCOMPARE(store.message(a1)->parent_id, u1);
        QCOMPARE(store.message(u1)->parent_id, 0);

        // Edit the first message: a new branch from the top; the old one stays.
        const qint64 e1 = id_of(store.add_version(msg(c, "user", QStringLiteral("Name a fish.")), u1));
        QVERIFY(e1 > a2);
        const qint64 f1 = id_of(store.add_message(msg(c, "assistant", QStringLiteral("A cod."))));
        QCOMPARE(contents(), QStringLiteral("Name a fish. 2/2 | A cod. 1/1"));
        QCOMPARE(store.versions_of(u1), (QList<qint64>{u1, e1}));
        QCOMPARE(store.message_count(c), 6);

        // Back to the first version: its branch, to its newest end.
        EG_VERIFY_OK(store.show_branch(c, u1));
        QCOMPARE(contents(), QStringLiteral("Name a bird. 1/2 | A puffin. 1/1 | Another? 1/1 | A heron. 1/1"));
        // Regenerate the last reply: a second version of it.
        const qint64 r2 = id_of(store.add_version(msg(c, "assistant", QStringLiteral("An egret.")), a2));
        QCOMPARE(contents(), QStringLiteral("Name a bird. 1/2 | A puffin. 1/1 | Another? 1/1 | An egret. 2/2"));
        EG_VERIFY_OK(store.show_branch(c, a2));
        QCOMPARE(contents(), QStringLiteral("Name a bird. 1/2 | A puffin. 1/1 | Another? 1/1 | A heron. 1/2"));
        // Showing a message in the middle of a branch shows its newest end.
        EG_VERIFY_OK(store.show_branch(c, e1));
        QCOMPARE(contents(), QStringLiteral("Name a fish. 2/2 | A cod. 1/1"));
        EG_VERIFY_OK(store.show_branch(c, u2));
        QCOMPARE(store.messages(c).last().id, r2);

        // Versions are per place: a message of another conversation is refused.
        const qint64 other = id_of(store.create_conversation(QStringLiteral("Other")));
        QCOMPARE(id_of(store.add_version(msg(other, "user", QStringLiteral("x")), u1)), 0);
        QVERIFY(!store.show_branch(other, u1));
        QCOMPARE(store.message_count(other), 0);

        // Deleting a message deletes its subtree, every branch of it; the
        // branch on screen then ends at its parent.
        EG_VERIFY_OK(store.delete_messages_from(c, u2));
        QCOMPARE(contents(), QStringLiteral("Name a bird. 1/2 | A puffin. 1/1"));
        QCOMPARE(store.message_count(c), 4);
        QVERIFY(!store.message(r2) && !store.message(a2));
        QCOMPARE(hits_of(store.search(QStringLiteral("egret"))).size(), 0);
        EG_VERIFY_OK(store.delete_messages_from(c, u1));
        QVERIFY(store.messages(c).isEmpty());
        EG_VERIFY_OK(store.show_branch(c, e1));
        QCOMPARE(contents(), QStringLiteral("Name a fish. 1/1 | A cod. 1/1"));
        QCOMPARE(store.message(f1)->parent_id, e1);
        QCOMPARE(store.integrity_check().value(), QStringLiteral("ok"));
    }

    // A conversation thousands of messages long is one chain: deleting from
    // its start, or the whole conversation, does not nest one cascade per
    // message (SQLite stops at 1000).
    void long_chains_delete_in_one_statement() {
        ChatStore store(QStringLiteral("chain"));
        EG_VERIFY_OK(store.open(db_path("chain.db")));
        const qint64 c = id_of(store.create_conversation(QStringLiteral("Long")));
        const qint64 d = id_of(store.create_conversation(QStringLiteral("Long too")));
        qint64 first = 0, second_of_d = 0;
        for (int i = 0; i < 1500; ++i) {
            const qint64 id = id_of(store.add_message(msg(c, i % 2 ? "assistant" : "user", QStringLiteral("m%1").arg(i))));
            if (i == 0) first = id;
            const qint64 e = id_of(store.add_message(msg(d, i % 2 ? "assistant" : "user", QStringLiteral("n%1").arg(i))));
            if (i == 1) second_of_d = e;
        }
        QCOMPARE(store.messages(c).size(), 1500);
        QCOMPARE(store.messages(c).last().content, QStringLiteral("m1499"));
        EG_VERIFY_OK(store.delete_messages_from(c, first));
        QCOMPARE(store.message_count(c), 0);
        EG_VERIFY_OK(store.delete_messages_from(d, second_of_d));
        QCOMPARE(store.messages(d).size(), 1);
        EG_VERIFY_OK(store.delete_conversation(d));
        QCOMPARE(store.integrity_check().value(), QStringLiteral("ok"));
    }

    void foreign_keys_are_on_and_cascade() {
        ChatStore store(QStringLiteral("cascade"));
        EG_VERIFY_OK(store.open(db_path("cascade.db")));
        const qint64 a = id_of(store.create_conversation(QStringLiteral("A")));
        const qint64 b = id_of(store.create_conversation(QStringLiteral("B")));
        for (int i = 0; i < 3; ++i) {
            QVERIFY(id_of(store.add_message(msg(a, "user", QStringLiteral("pelican %1").arg(i)))) > 0);
            QVERIFY(id_of(store.add_message(msg(b, "user", QStringLiteral("heron %1").arg(i)))) > 0);
        }
        QCOMPARE(hits_of(store.search(QStringLiteral("pelican"))).size(), 3);
        QVERIFY(store.delete_conversation(a));
        QVERIFY(!store.conversation(a).has_value());
        QVERIFY(store.messages(a).isEmpty());
        QCOMPARE(store.messages(b).size(), 3);
        QVERIFY(hits_of(store.search(QStringLiteral("pelican"))).isEmpty());
        QCOMPARE(hits_of(store.search(QStringLiteral("heron"))).size(), 3);
        store.close();
        RawDb raw(db_path("cascade.db"));
        QCOMPARE(raw.scalar(QStringLiteral("SELECT COUNT(*) FROM messages WHERE conversation_id = %1").arg(a)).toInt(), 0);
        QCOMPARE(raw.exec({"INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')"}), QString());
    }

    void ordered_by_last_activity() {
        ChatStore store(QStringLiteral("order"));
        EG_VERIFY_OK(store.open(db_path("order.db")));
        const qint64 a = id_of(store.create_conversation(QStringLiteral("A")));
        const qint64 b = id_of(store.create_conversation(QStringLiteral("B")));
        const qint64 c = id_of(store.create_conversation(QStringLiteral("C")));
        QCOMPARE(ids_of(store.conversations()), (QList<qint64>{c, b, a}));
        QVERIFY(id_of(store.add_message(msg(a, "user", QStringLiteral("bump")))) > 0);
        QCOMPARE(ids_of(store.conversations()), (QList<qint64>{a, c, b}));
        QVERIFY(id_of(store.add_message(msg(b, "user", QStringLiteral("bump")))) > 0);
        QCOMPARE(ids_of(store.conversations()), (QList<qint64>{b, a, c}));
        // Renaming or changing settings is not activity.
        QVERIFY(store.rename_conversation(c, QStringLiteral("C2")));
        QVERIFY(store.set_settings_json(c, QStringLiteral("{}")));
        QCOMPARE(ids_of(store.conversations()), (QList<qint64>{b, a, c}));
        const auto rows = store.conversations();
        QVERIFY(rows[0].updated_at > rows[1].updated_at);
        QVERIFY(rows[0].updated_at >= rows[0].created_at);
    }

    void search_follows_the_text() {
        ChatStore store(QStringLiteral("search"));
        EG_VERIFY_OK(store.open(db_path("search.db")));
        const qint64 c = id_of(store.create_conversation(QStringLiteral("Birds of Norway")));
        const qint64 d = id_of(store.create_conversation(QStringLiteral("Cooking")));
        const qint64 m1 = id_of(store.add_message(msg(c, "user", QStringLiteral("Tell me about the puffin colonies on the coast."))));
        const qint64 m2 = id_of(store.add_message(msg(d, "assistant", QStringLiteral("Boil the pasta for nine minutes."))));
        QVERIFY(m1 > 0 && m2 > 0);

        auto hits = hits_of(store.search(QStringLiteral("puffin")));
        QCOMPARE(hits.size(), 1);
        QCOMPARE(hits[0].conversation_id, c);
        QCOMPARE(hits[0].message_id, m1);
        QVERIFY2(hits[0].snippet.contains(QString(QChar(ChatStore::kMatchBegin)) + "puffin" + QChar(ChatStore::kMatchEnd)), qPrintable(hits[0].snippet));
        QCOMPARE(hits_of(store.search(QStringLiteral("PUFFIN colonies"))).size(), 1);  // all words, any case
        QCOMPARE(hits_of(store.search(QStringLiteral("puffin pasta"))).size(), 0);
        QCOMPARE(hits_of(store.search(QStringLiteral("puf"))).size(), 1);  // the last word is a prefix

        hits = hits_of(store.search(QStringLiteral("norway")));  // titles too
        QCOMPARE(hits.size(), 1);
        QCOMPARE(hits[0].conversation_id, c);
        QCOMPARE(hits[0].message_id, 0);
        QVERIFY(store.rename_conversation(c, QStringLiteral("Seabirds")));
        QVERIFY(hits_of(store.search(QStringLiteral("norway"))).isEmpty());
        QCOMPARE(hits_of(store.search(QStringLiteral("seabirds"))).size(), 1);

        // A streamed reply: the index follows every update.
        MessageRow r = msg(c, "assistant", QStringLiteral("Puffins"));
        r.finished = false;
        const qint64 m3 = id_of(store.add_message(r));
        QVERIFY(store.update_message(m3, QStringLiteral("Puffins nest in burrows"), false));
        QCOMPARE(hits_of(store.search(QStringLiteral("burrows"))).size(), 1);
        QVERIFY(store.update_message(m3, QStringLiteral("Puffins nest on cliffs"), true));
        QVERIFY(hits_of(store.search(QStringLiteral("burrows"))).isEmpty());
        QCOMPARE(hits_of(store.search(QStringLiteral("cliffs"))).value(0).message_id, m3);

        // Deleted messages vanish from the results.
        QVERIFY(store.delete_messages_from(c, m3));
        QVERIFY(hits_of(store.search(QStringLiteral("cliffs"))).isEmpty());
        QCOMPARE(hits_of(store.search(QStringLiteral("puffin"))).size(), 1);

        // The limit holds across titles and messages.
        for (int i = 0; i < 10; ++i) id_of(store.add_message(msg(d, "user", QStringLiteral("pasta again %1").arg(i))));
        QCOMPARE(hits_of(store.search(QStringLiteral("pasta"), 5)).size(), 5);
        QCOMPARE(hits_of(store.search(QStringLiteral("pasta"))).size(), 11);

        // Hostile input is searched for, never parsed as FTS5 syntax.
        const QStringList hostile = {"\"", "AND(", "\"puffin", "puffin\"", "(", ")", "*", "NEAR(a b", "a OR",
                                     "NOT", "content:puffin", "^puffin", "-", "'; DROP TABLE messages; --",
                                     "\"\"\"", "{content}: x", "puffin AND(", "   ", "", "\\", "\u00e9\u0301"};
        for (const QString& h : hostile) {
            const auto r = store.search(h);
            QVERIFY2(r.ok(), qPrintable(h + QStringLiteral(" -> ") + text_of(r)));
        }
        QCOMPARE(hits_of(store.search(QStringLiteral("AND( puffin"))).size(), 0);  // "and" is a word, and no message has it
        QCOMPARE(hits_of(store.search(QStringLiteral("\"puffin"))).size(), 1);
        QCOMPARE(hits_of(store.search(QStringLiteral("puffin\" OR pasta"))).size(), 0);  // OR is a word here, not an operator
        QCOMPARE(store.messages(c).size(), 1);
        QCOMPARE(eg::store::fts5_query_from_user_text(QStringLiteral("say \"hi\" (now")),
                 QStringLiteral("\"say\" \"\"\"hi\"\"\" \"(now\"*"));
        store.close();
        RawDb raw(db_path("search.db"));
        QCOMPARE(raw.exec({"INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')",
                           "INSERT INTO conversations_fts (conversations_fts) VALUES ('integrity-check')"}),
                 QString());
    }

    void migrates_from_older_versions_data() {
        QTest::addColumn<int>("version");
        QTest::newRow("v1") << 1;
        QTest::newRow("v2") << 2;
        QTest::newRow("v3") << 3;
    }
    void migrates_from_older_versions() {
        QFETCH(int, version);
        const QString path = dir_.filePath(QStringLiteral("old_v%1.db").arg(version));
        {
            RawDb raw(path);
            QVERIFY(raw.ok());
            QStringList sql = kSchemaV1;
            if (version >= 2) sql += kSchemaV2Extra;
            if (version >= 3) sql += kSchemaV3Extra;
            sql << "INSERT INTO conversations (id, title, system_prompt, model, created_at, updated_at)"
                   " VALUES (1, 'Old lighthouse chat', 'You are old.', 'tinyllama', 1600000000000, 1600000500000)"
                << "INSERT INTO conversations (id, title, system_prompt, model, created_at, updated_at)"
                   " VALUES (2, 'Newer chat', '', 'tinyllama', 1600001000000, 1600002000000)"
                << "INSERT INTO messages (id, conversation_id, role, content, model, created_at)"
                   " VALUES (1, 1, 'user', 'Where is the lighthouse keeper?', 'tinyllama', 1600000100000)"
                << "INSERT INTO messages (id, conversation_id, role, content, model, created_at)"
                   " VALUES (2, 1, 'assistant', 'Asleep in the tower.', 'tinyllama', 1600000200000)"
                << "INSERT INTO messages (id, conversation_id, role, content, model, created_at)"
                   " VALUES (3, 2, 'user', 'Something about walruses', 'tinyllama', 1600001500000)";
            if (version >= 2)
                sql << "UPDATE messages SET prompt_tokens = 7, completion_tokens = 5, tokens_per_s = 42.5,"
                       " ttft_ms = 80, finished = 1 WHERE id = 2"
                    << "UPDATE conversations SET settings_json = '{\"seed\":1}' WHERE id = 1";
            QCOMPARE(raw.exec(sql), QString());
        }
        ChatStore store(QStringLiteral("migrate"));
        EG_VERIFY_OK(store.open(path));

        QCOMPARE(ids_of(store.conversations()), (QList<qint64>{2, 1}));
        const auto c1 = store.conversation(1);
        QCOMPARE(c1->title, QStringLiteral("Old lighthouse chat"));
        QCOMPARE(c1->system_prompt, QStringLiteral("You are old."));
        QCOMPARE(c1->model, QStringLiteral("tinyllama"));
        QCOMPARE(c1->created_at, QDateTime::fromMSecsSinceEpoch(1600000000000, Qt::UTC));
        QCOMPARE(c1->settings_json, version >= 2 ? QStringLiteral("{\"seed\":1}") : QString());
        const auto ms = store.messages(1);
        QCOMPARE(ms.size(), 2);
        QCOMPARE(ms[0].content, QStringLiteral("Where is the lighthouse keeper?"));
        QCOMPARE(ms[1].role, QStringLiteral("assistant"));
        QCOMPARE(ms[1].created_at, QDateTime::fromMSecsSinceEpoch(1600000200000, Qt::UTC));
        QVERIFY(ms[1].finished);
        QCOMPARE(ms[1].completion_tokens, version >= 2 ? 5 : 0);
        QCOMPARE(ms[1].tokens_per_s, version >= 2 ? 42.5 : 0.0);
        // Each old chat is one branch, in its old order.
        QCOMPARE(ms[1].parent_id, 1);
        QCOMPARE(ms[0].parent_id, 0);
        QCOMPARE(ms[1].versions, 1);

        // Old rows are searchable, and new ones too.
        auto hits = hits_of(store.search(QStringLiteral("keeper")));
        QCOMPARE(hits.size(), 1);
        QCOMPARE(hits[0].message_id, 1);
        QCOMPARE(hits_of(store.search(QStringLiteral("walruses"))).value(0).conversation_id, 2);
        QCOMPARE(hits_of(store.search(QStringLiteral("lighthouse"))).size(), 2);  // title + message
        const qint64 m = id_of(store.add_message(msg(1, "user", QStringLiteral("And the foghorn?"))));
        QVERIFY(m > 3);
        QCOMPARE(hits_of(store.search(QStringLiteral("foghorn"))).value(0).message_id, m);
        QCOMPARE(store.message(m)->parent_id, 2);  // after the old chat's last message
        QCOMPARE(store.messages(1).size(), 3);
        QCOMPARE(ids_of(store.conversations()), (QList<qint64>{1, 2}));
        QCOMPARE(store.integrity_check().value(), QStringLiteral("ok"));
        store.close();

        RawDb raw(path);
        QCOMPARE(raw.scalar("SELECT version FROM schema_version").toInt(), ChatStore::kSchemaVersion);
        QCOMPARE(raw.scalar("SELECT COUNT(*) FROM schema_version").toInt(), 1);
        QCOMPARE(raw.scalar("PRAGMA journal_mode").toString(), QStringLiteral("wal"));
    }

    void refuses_a_newer_schema_and_leaves_it_untouched() {
        const QString path = db_path("future.db");
        {
            RawDb raw(path);
            QCOMPARE(raw.exec({"CREATE TABLE schema_version (version INTEGER NOT NULL)",
                               "INSERT INTO schema_version (version) VALUES (99)",
                               "CREATE TABLE conversations_v99 (id INTEGER PRIMARY KEY, stuff BLOB)",
                               "INSERT INTO conversations_v99 (stuff) VALUES (x'00ff')"}),
                     QString());
        }
        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray before = f.readAll();
        f.close();

        ChatStore store(QStringLiteral("future"));
        const QString error = text_of(store.open(path));
        QVERIFY2(error.contains(QStringLiteral("newer")) && error.contains(QStringLiteral("99")), qPrintable(error));
        QVERIFY(!store.is_open());

        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll(), before);
        QVERIFY(!QFile::exists(path + QStringLiteral("-wal")));

        // A file that is not a store at all is refused with a sentence too.
        const QString junk = db_path("junk.db");
        QFile j(junk);
        QVERIFY(j.open(QIODevice::WriteOnly));
        j.write(QByteArray(4096, 'x'));
        j.close();
        const QString junk_error = text_of(store.open(junk));
        QVERIFY2(junk_error.contains(junk), qPrintable(junk_error));
    }

    void killed_writer_keeps_the_partial_reply() {
        const QString path = db_path("killed.db");
        QProcess child;
        child.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        child.start(QStringLiteral(EG_STORE_CHILD_PATH), {path});
        QVERIFY2(child.waitForStarted(10'000), qPrintable(child.errorString()));

        qint64 message_id = 0;
        qint64 committed_chars = 0;
        int updates_seen = 0;
        QElapsedTimer t;
        t.start();
        // Let it stream a while, then kill it in the middle of its loop.
        while (updates_seen < 300 && t.elapsed() < 30'000) {
            if (!child.canReadLine() && !child.waitForReadyRead(1000)) {
                QVERIFY2(child.state() == QProcess::Running, "the child exited before it was killed");
                continue;
            }
            while (child.canReadLine()) {
                const QByteArray line = child.readLine().trimmed();
                if (line.startsWith("ready ")) message_id = line.mid(6).toLongLong();
                if (line.startsWith("committed ")) {
                    committed_chars = line.mid(10).toLongLong();
                    ++updates_seen;
                }
            }
        }
        QVERIFY(message_id > 0);
        QVERIFY2(updates_seen >= 300, "the child did not stream 300 updates in 30 s");
        QCOMPARE(child.state(), QProcess::Running);
        QCOMPARE(::kill(pid_t(child.processId()), SIGKILL), 0);
        QVERIFY(child.waitForFinished(10'000));
        QCOMPARE(child.exitStatus(), QProcess::CrashExit);

        ChatStore store(QStringLiteral("after_kill"));
        EG_VERIFY_OK(store.open(path));
        QCOMPARE(store.integrity_check().value(), QStringLiteral("ok"));
        const auto m = store.message(message_id);
        QVERIFY(m.has_value());
        QCOMPARE(m->role, QStringLiteral("assistant"));
        QVERIFY(!m->finished);
        // Everything the child reported as committed is there, and the text is
        // exactly what some number of complete updates wrote.
        QVERIFY2(m->content.size() >= committed_chars,
                 qPrintable(QStringLiteral("%1 chars kept, %2 committed").arg(m->content.size()).arg(committed_chars)));
        const int n = int(m->content.count(QLatin1Char(' ')));
        QCOMPARE(m->content, child_text(n));
        QCOMPARE(m->completion_tokens, n);
        QCOMPARE(hits_of(store.search(QStringLiteral("w%1").arg(n - 1))).value(0).message_id, message_id);
        store.close();
        RawDb raw(path);
        QCOMPARE(raw.exec({"INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')"}), QString());
    }
};

QTEST_GUILESS_MAIN(TestStore)
#include "test_store.moc"
