// ChatController with the real engine on its worker thread, the real default
// model (SmolLM2) and a real SQLite store: what a user does in the chat pane
// (send, stop, regenerate, edit and resend) ends up on screen and on disk, and
// the GUI thread keeps turning while a reply is generated (the reply reaches
// the store piece by piece while it streams). How smoothly it turns, and how
// long Stop takes, are figures of app/bench/ui_main.cpp (engram-bench-ui).
#include <QClipboard>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QGuiApplication>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>
#include <QQmlComponent>
#include <QQmlContext>
#include <QQmlEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QThread>
#include <QtQml/qqmlextensionplugin.h>
#include <QtTest>

#include <memory>

#include "application.h"
#include "chat_controller.h"
#include "conversation_list_model.h"
#include "engine_worker.h"
#include "installed_models.h"
#include "library/model_registry.h"
#include "markdown_segments.h"
#include "quick_items.h"
#include "store/chat_store.h"
#include "test_env.h"

using eg::store::ChatStore;
using eg::app::EngineWorker;
using eg::ui::ChatController;
using eg::ui::MessageListModel;

Q_IMPORT_QML_PLUGIN(EngramDesktopPlugin)

namespace {

// A visible item under root (popups included) whose text contains `needle`.
QQuickItem* visible_text(QQuickItem* root, const QString& needle) {
    if (!root || !root->isVisible()) return nullptr;
    const QVariant t = root->property("text");
    if (t.isValid() && t.userType() == QMetaType::QString && t.toString().contains(needle)) return root;
    for (QQuickItem* child : root->childItems())
        if (QQuickItem* found = visible_text(child, needle)) return found;
    return nullptr;
}

void named(QQuickItem* root, const QString& name, QList<QQuickItem*>* out) {
    if (!root) return;
    if (root->objectName() == name && root->isVisible()) out->push_back(root);
    for (QQuickItem* child : root->childItems()) named(child, name, out);
}

constexpr int kReplyTimeoutMs = 180'000;

}  // namespace

class TestChatController : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanupTestCase();
    void markdownSegments();
    void sendStreamsAndSaves();
    void stopKeepsPartialReply();
    void regenerateKeepsTheLastReplyAsAVersion();
    void editAndResendBranchesAndContinues();
    void exportsAndSidebar();
    void editingFirstMessageRetitles();
    void trimmedContextSaysSo();
    void chatPaneStreamsAndExplainsExport();
    void disabledControlsLookDisabledInTheWindow();

private:
    void wait_idle() { QTRY_VERIFY_WITH_TIMEOUT(!chat_->busy(), kReplyTimeoutMs); }
    void use_settings(int max_tokens, double temperature = 0.7) {
        chat_->setSettings({{"max_tokens", max_tokens}, {"seed", 1234}, {"temperature", temperature}});
    }
    MessageListModel& model() { return *chat_->messages(); }

    QTemporaryDir dir_;
    std::unique_ptr<ChatStore> store_;
    std::unique_ptr<QSettings> prefs_;
    QThread thread_;
    EngineWorker* worker_ = nullptr;
    std::unique_ptr<ChatController> chat_;
};

void TestChatController::initTestCase() {
    const QString model_path = QString::fromStdString(eg_test::default_model_path());
    QVERIFY2(QFile::exists(model_path), qPrintable("the default model is missing: " + model_path +
                                                   " (run scripts/fetch-model.sh)"));
    QVERIFY(dir_.isValid());
    store_ = std::make_unique<ChatStore>(QStringLiteral("test-chat-controller"));
    EG_VERIFY_OK(store_->open(dir_.filePath("engram.sqlite")));
    prefs_ = std::make_unique<QSettings>(dir_.filePath("settings.ini"), QSettings::IniFormat);

    worker_ = new EngineWorker;
    worker_->moveToThread(&thread_);
    thread_.start();
    chat_ = std::make_unique<ChatController>(*store_, prefs_.get());
    eg::app::connect_worker(*chat_, *worker_);

    chat_->loadModel(model_path);
    QVERIFY(chat_->loadingModel());
    QTRY_VERIFY_WITH_TIMEOUT(!chat_->loadingModel(), 120'000);
    QVERIFY2(chat_->modelLoaded(), qPrintable(chat_->lastError()));
    QCOMPARE(chat_->modelName(), QStringLiteral("SmolLM2-135M-Instruct.Q4_1"));
    QCOMPARE(chat_->loadProgress(), 1.0);
}

void TestChatController::cleanupTestCase() {
    if (worker_) worker_->requestStop();
    thread_.quit();
    thread_.wait();
    delete worker_;
    chat_.reset();
    store_.reset();
}

void TestChatController::markdownSegments() {
    const QVariantList s = eg::ui::split_markdown_segments(
        "Here is code:\n\n```python\nprint('hi')\n```\nAnd after.\n~~~\nunclosed");
    QCOMPARE(s.size(), 4);
    QCOMPARE(s[0].toMap()["kind"].toString(), QStringLiteral("text"));
    QCOMPARE(s[0].toMap()["text"].toString(), QStringLiteral("Here is code:"));
    QCOMPARE(s[1].toMap()["kind"].toString(), QStringLiteral("code"));
    QCOMPARE(s[1].toMap()["lang"].toString(), QStringLiteral("python"));
    QCOMPARE(s[1].toMap()["text"].toString(), QStringLiteral("print('hi')"));
    QCOMPARE(s[2].toMap()["text"].toString(), QStringLiteral("And after."));
    QCOMPARE(s[3].toMap()["kind"].toString(), QStringLiteral("code"));  // still streaming
    QCOMPARE(s[3].toMap()["text"].toString(), QStringLiteral("unclosed"));
    QCOMPARE(MessageListModel::stats_text(42, 31.5, 180.2),
             QStringLiteral("42 tokens · 31.5 tok/s · first token 180 ms"));
}

void TestChatController::sendStreamsAndSaves() {
    use_settings(64);
    // Every update of the reply row on screen, as QML would see it.
    QList<int> lengths;
    connect(&model(), &QAbstractItemModel::dataChanged, this, [&](const QModelIndex& tl, const QModelIndex&) {
        const QVariantMap m = model().get(tl.row());
        if (m["role"] == QStringLiteral("assistant") && m["streaming"].toBool())
            lengths.push_back(m["content"].toString().size());
    });
    const QString first = QStringLiteral("Tell me three interesting facts about octopuses and why they matter.");
    chat_->send(first);
    QVERIFY2(chat_->busy(), qPrintable(chat_->lastError()));
    QVERIFY(chat_->currentConversationId() > 0);
    QCOMPARE(model().count(), 2);
    QVERIFY(model().get(1)["streaming"].toBool());
    // The sidebar and the Stop button know which conversation it is.
    QCOMPARE(chat_->replyingConversationId(), chat_->currentConversationId());
    wait_idle();
    QCOMPARE(chat_->replyingConversationId(), 0);
    disconnect(&model(), &QAbstractItemModel::dataChanged, this, nullptr);

    // The reply streamed: the row grew over several updates.
    QVERIFY2(lengths.size() >= 3, qPrintable(QString("only %1 updates").arg(lengths.size())));
    for (int i = 1; i < lengths.size(); ++i) QVERIFY(lengths[i] >= lengths[i - 1]);
    QVERIFY(lengths.last() > lengths.first());

    // On screen: final text, stats line, not streaming.
    const QVariantMap shown = model().get(1);
    QVERIFY(!shown["streaming"].toBool());
    QVERIFY(!shown["content"].toString().isEmpty());
    QVERIFY2(shown["statsText"].toString().contains("tok/s"), qPrintable(shown["statsText"].toString()));

    // In the store: the same text, finished, with stats.
    const auto rows = store_->messages(chat_->currentConversationId());
    QCOMPARE(rows.size(), 2);
    QCOMPARE(rows[0].role, QStringLiteral("user"));
    QCOMPARE(rows[0].content, first);
    QCOMPARE(rows[1].role, QStringLiteral("assistant"));
    QCOMPARE(rows[1].content, shown["content"].toString());
    QVERIFY(rows[1].finished);
    QVERIFY(rows[1].completion_tokens > 0 && rows[1].completion_tokens <= 64);
    QVERIFY(rows[1].prompt_tokens > 10);
    QVERIFY(rows[1].tokens_per_s > 0);
    QVERIFY(rows[1].ttft_ms > 0);
    QCOMPARE(rows[1].model, QStringLiteral("SmolLM2-135M-Instruct.Q4_1"));
    QCOMPARE(rows[1].id, shown["messageId"].toLongLong());

    // The title is the start of the first message.
    const auto conv = store_->conversation(chat_->currentConversationId());
    QVERIFY(conv);
    QCOMPARE(conv->title, ChatController::title_from(first));
    QVERIFY(conv->title.size() <= 41);
    QVERIFY(first.startsWith(conv->title.chopped(1)));
}

void TestChatController::stopKeepsPartialReply() {
    // Greedy decoding: this prompt then runs for far longer than the one
    // second the store's crash-safety flush needs, so there is time to stop.
    use_settings(2000, 0.0);
    chat_->send(QStringLiteral("Write a long, detailed essay about the history of the Roman Empire, "
                               "from its founding to its fall."));
    QVERIFY2(chat_->busy(), qPrintable(chat_->lastError()));
    const qint64 conv = chat_->currentConversationId();
    const qint64 reply_id = model().get(model().count() - 1)["messageId"].toLongLong();
    QVERIFY(reply_id > 0);
    // While it streams, the growing text reaches the store (crash safety)
    // without being marked finished.
    QTRY_VERIFY_WITH_TIMEOUT(store_->message(reply_id) && !store_->message(reply_id)->content.isEmpty(), 60'000);
    QVERIFY2(chat_->busy(), "the reply ended before it could be stopped");
    QVERIFY(!store_->message(reply_id)->finished);

    chat_->stop();
    wait_idle();

    const QVariantMap shown = model().get(model().count() - 1);
    const auto saved = store_->message(reply_id);
    QVERIFY(saved);
    QVERIFY(saved->finished);
    QVERIFY(!saved->content.isEmpty());
    QCOMPARE(saved->content, shown["content"].toString());
    QVERIFY(saved->completion_tokens > 0 && saved->completion_tokens < 2000);
    QVERIFY2(shown["statsText"].toString().contains("stopped"), qPrintable(shown["statsText"].toString()));
    QCOMPARE(store_->messages(conv).size(), 4);
}

// Regenerate adds a version of the last reply beside it: "‹ 2/2 ›", and
// the first one comes back with showVersion.
void TestChatController::regenerateKeepsTheLastReplyAsAVersion() {
    use_settings(48);
    const qint64 conv = chat_->currentConversationId();
    const int n = model().count();
    QCOMPARE(n, 4);
    const qint64 old_id = model().get(n - 1)["messageId"].toLongLong();
    chat_->regenerate();
    QVERIFY2(chat_->busy(), qPrintable(chat_->lastError()));
    wait_idle();
    QCOMPARE(model().count(), n);
    const QVariantMap shown = model().get(n - 1);
    QCOMPARE(shown["role"].toString(), QStringLiteral("assistant"));
    QVERIFY(shown["messageId"].toLongLong() != old_id);
    QCOMPARE(shown["version"].toInt(), 2);
    QCOMPARE(shown["versions"].toInt(), 2);
    const auto old = store_->message(old_id);  // the old reply stays
    QVERIFY(old && old->finished && !old->content.isEmpty());
    const auto rows = store_->messages(conv);
    QCOMPARE(rows.size(), n);
    QCOMPARE(rows.last().id, shown["messageId"].toLongLong());
    QCOMPARE(rows.last().content, shown["content"].toString());
    QVERIFY(rows.last().finished);
    QVERIFY(!rows.last().content.isEmpty());

    // ‹: the first reply on screen again, as saved; ›: the new one.
    chat_->showVersion(n - 1, -1);
    QCOMPARE(model().get(n - 1)["messageId"].toLongLong(), old_id);
    QCOMPARE(model().get(n - 1)["content"].toString(), old->content);
    QCOMPARE(model().get(n - 1)["version"].toInt(), 1);
    chat_->showVersion(n - 1, -1);  // nothing before the first
    QCOMPARE(model().get(n - 1)["messageId"].toLongLong(), old_id);
    chat_->showVersion(n - 1, 1);
    QCOMPARE(model().get(n - 1)["messageId"].toLongLong(), rows.last().id);
    QCOMPARE(store_->message_count(conv), n + 1);
}

// Editing an earlier message starts a new branch from it; the old message
// and everything after it stay, one ‹ away.
void TestChatController::editAndResendBranchesAndContinues() {
    use_settings(48);
    const qint64 conv = chat_->currentConversationId();
    QCOMPARE(model().count(), 4);
    const qint64 old_user_id = model().get(2)["messageId"].toLongLong();
    const qint64 old_reply_id = model().get(3)["messageId"].toLongLong();
    const qint64 first_reply_id = model().get(1)["messageId"].toLongLong();
    const QString edited = QStringLiteral("What is the capital of France? Answer in one sentence.");
    chat_->editAndResend(2, edited);
    QVERIFY2(chat_->busy(), qPrintable(chat_->lastError()));
    wait_idle();

    QCOMPARE(model().count(), 4);
    QCOMPARE(model().get(1)["messageId"].toLongLong(), first_reply_id);  // before the edit: kept
    QCOMPARE(model().get(2)["content"].toString(), edited);
    QCOMPARE(model().get(2)["version"].toInt(), 2);
    QCOMPARE(model().get(2)["versions"].toInt(), 2);
    QVERIFY(store_->message(old_user_id));  // kept, on the other branch
    QVERIFY(store_->message(old_reply_id));
    const auto rows = store_->messages(conv);
    QCOMPARE(rows.size(), 4);
    QCOMPARE(rows[2].role, QStringLiteral("user"));
    QCOMPARE(rows[2].content, edited);
    QCOMPARE(rows[3].role, QStringLiteral("assistant"));
    QVERIFY(rows[3].finished);
    QVERIFY(!rows[3].content.isEmpty());
    QCOMPARE(rows[3].content, model().get(3)["content"].toString());
    qInfo("edited reply: %s", qPrintable(rows[3].content.left(120)));

    // The old branch, whole, and back.
    const qint64 new_reply_id = rows[3].id;
    chat_->showVersion(2, -1);
    QCOMPARE(model().count(), 4);
    QCOMPARE(model().get(2)["messageId"].toLongLong(), old_user_id);
    QCOMPARE(model().get(3)["messageId"].toLongLong(), old_reply_id);
    QCOMPARE(model().get(2)["version"].toInt(), 1);
    chat_->showVersion(2, 1);
    QCOMPARE(model().get(3)["messageId"].toLongLong(), new_reply_id);

    // Editing a reply is refused.
    chat_->editAndResend(3, QStringLiteral("x"));
    QVERIFY(!chat_->busy());
    QVERIFY(!chat_->lastError().isEmpty());
    chat_->clearError();
}

void TestChatController::exportsAndSidebar() {
    const qint64 conv = chat_->currentConversationId();
    eg::ui::ConversationListModel sidebar(*store_);
    QCOMPARE(sidebar.count(), 1);
    QCOMPARE(sidebar.data(sidebar.index(0), eg::ui::ConversationListModel::ConversationIdRole).toLongLong(), conv);
    sidebar.setFilter(QStringLiteral("capital Fra"));
    QCOMPARE(sidebar.count(), 1);
    // The match is shown in bold, the rest escaped for StyledText.
    const QString snip = sidebar.data(sidebar.index(0), eg::ui::ConversationListModel::SnippetRole).toString();
    QVERIFY2(snip.contains(QStringLiteral("<b>capital</b>")), qPrintable(snip));
    sidebar.setFilter(QStringLiteral("zebrafishwords"));
    QCOMPARE(sidebar.count(), 0);
    QVERIFY(sidebar.error().isEmpty());
    // What the store refuses is said, naming the row; the list stays.
    sidebar.setFilter({});
    QVERIFY(!sidebar.rename(conv + 1000, QStringLiteral("Nope")));
    QVERIFY2(sidebar.error().contains(QString::number(conv + 1000)), qPrintable(sidebar.error()));
    QCOMPARE(sidebar.count(), 1);
    QVERIFY(sidebar.rename(conv, sidebar.data(sidebar.index(0), eg::ui::ConversationListModel::TitleRole).toString()));
    QVERIFY(sidebar.error().isEmpty());
    // An export that cannot be written says where and why, and keeps nothing half-written.
    QVERIFY(!chat_->exportMarkdown(dir_.filePath("no-such-folder/chat.md")));
    QVERIFY2(chat_->lastError().contains(QStringLiteral("no-such-folder")), qPrintable(chat_->lastError()));
    QVERIFY(!QFile::exists(dir_.filePath("no-such-folder/chat.md")));
    chat_->clearError();

    // Export suggests the title as the file name; a save confirms itself.
    const QString suggested = QUrl(chat_->suggestedExportUrl(QStringLiteral("markdown"))).toLocalFile();
    QVERIFY2(suggested.endsWith(".md") && !QFileInfo(suggested).completeBaseName().isEmpty(), qPrintable(suggested));
    QVERIFY2(!QFileInfo(suggested).fileName().contains('/'), qPrintable(suggested));
    const QString md_path = dir_.filePath("chat.md");
    QVERIFY(chat_->exportMarkdown(QUrl::fromLocalFile(md_path).toString()));
    QCOMPARE(chat_->notice(), QStringLiteral("Saved to ") + QDir::toNativeSeparators(md_path));
    chat_->copyText(QStringLiteral("copied text"));
    QCOMPARE(chat_->notice(), QStringLiteral("Copied to the clipboard"));
    QCOMPARE(QGuiApplication::clipboard()->text(), QStringLiteral("copied text"));
    chat_->clearNotice();
    QVERIFY(chat_->notice().isEmpty());
    QFile md(md_path);
    QVERIFY(md.open(QIODevice::ReadOnly));
    const QString md_text = QString::fromUtf8(md.readAll());
    QVERIFY(md_text.contains(QStringLiteral("capital of France")));
    QVERIFY(md_text.startsWith(QStringLiteral("# ")));

    const QString json_path = dir_.filePath("chat.json");
    QVERIFY(chat_->exportJson(json_path));
    QFile js(json_path);
    QVERIFY(js.open(QIODevice::ReadOnly));
    const QJsonObject o = QJsonDocument::fromJson(js.readAll()).object();
    QCOMPARE(o["messages"].toArray().size(), 4);

    // A new chat starts empty; selecting the old one brings it back.
    chat_->newConversation();
    QCOMPARE(chat_->currentConversationId(), 0);
    QCOMPARE(model().count(), 0);
    chat_->selectConversation(conv);
    QCOMPARE(model().count(), 4);
    QVERIFY(model().get(3)["statsText"].toString().contains("tok/s"));
}

void TestChatController::editingFirstMessageRetitles() {
    use_settings(8);
    chat_->newConversation();
    chat_->send(QStringLiteral("Tell me about puffins."));
    wait_idle();
    const qint64 conv = chat_->currentConversationId();
    QCOMPARE(chat_->currentTitle(), QStringLiteral("Tell me about puffins."));
    chat_->editAndResend(0, QStringLiteral("Tell me about otters instead."));
    wait_idle();
    QCOMPARE(chat_->currentTitle(), QStringLiteral("Tell me about otters instead."));
    QCOMPARE(store_->conversation(conv)->title, QStringLiteral("Tell me about otters instead."));
    // A title the user chose stays when the first message is edited again.
    QVERIFY(store_->rename_conversation(conv, QStringLiteral("Animals")));
    chat_->onConversationRenamed(conv, QStringLiteral("Animals"));
    chat_->editAndResend(0, QStringLiteral("Tell me about seals."));
    wait_idle();
    QCOMPARE(store_->conversation(conv)->title, QStringLiteral("Animals"));
}

// A conversation longer than the context: the reply still comes, and the
// window says above it how many of the oldest turns were left out. Last: it
// shrinks the context.
void TestChatController::trimmedContextSaysSo() {
    QSignalSpy placed(worker_, &EngineWorker::placed);
    eg::PlacementRequest small;
    small.n_ctx = 256;
    QMetaObject::invokeMethod(worker_, [w = worker_, small] { w->applyPlacement(small); }, Qt::QueuedConnection);
    QTRY_VERIFY_WITH_TIMEOUT(placed.count() >= 1, kReplyTimeoutMs);
    QCOMPARE(placed.last()[0].value<eg::PlacementReport>().applied.n_ctx, 256);

    chat_->newConversation();  // (it starts from the default settings)
    use_settings(48, 0.0);
    int trimmed_reply = -1;
    for (int i = 0; i < 6 && trimmed_reply < 0; ++i) {
        chat_->send(QStringLiteral("Fact number %1: tell me one short fact about the moon and the tides.").arg(i));
        wait_idle();
        QVERIFY2(chat_->lastError().isEmpty(), qPrintable(chat_->lastError()));
        const QVariantMap reply = model().get(model().count() - 1);
        QCOMPARE(reply["role"].toString(), QStringLiteral("assistant"));
        QVERIFY(!reply["content"].toString().isEmpty());
        if (!reply["notice"].toString().isEmpty()) trimmed_reply = model().count() - 1;
    }
    QVERIFY2(trimmed_reply > 0, "six turns in a 256-token context and no notice that turns were left out");
    const QString notice = model().get(trimmed_reply)["notice"].toString();
    QVERIFY2(notice.contains("oldest") && notice.contains("left out") && notice.contains("256"), qPrintable(notice));
    // Only the reply whose prompt was trimmed says so; the conversation on
    // screen and in the store keeps every turn.
    for (int r = 0; r < trimmed_reply; ++r) QVERIFY(model().get(r)["notice"].toString().isEmpty());
    QCOMPARE(store_->messages(chat_->currentConversationId()).size(), (qsizetype)model().count());
}

int main(int argc, char** argv) {
    qputenv("QT_QPA_PLATFORM", "offscreen");
    QGuiApplication app(argc, argv);
    TestChatController t;
    return QTest::qExec(&t, argc, argv);
}

// The chat pane (ChatView.qml) in a real window on the real controller: an
// empty chat's Export is disabled and says why on hover; a reply streams on
// screen, and the items of the paragraphs it finished are the same items when
// it ends (not re-made per piece); then Export is enabled.
void TestChatController::chatPaneStreamsAndExplainsExport() {
    chat_->newConversation();
    eg::library::ModelRegistry registry(QStringLiteral("test-chat-pane-registry"));
    EG_VERIFY_OK(registry.open(dir_.filePath("models.sqlite3")));
    eg::ui::InstalledModels models(registry, dir_.filePath("models"), {});
    QQmlEngine engine;
    QList<QQmlError> warnings;
    QObject::connect(&engine, &QQmlEngine::warnings, [&](const QList<QQmlError>& w) { warnings += w; });
    engine.addImportPath(QStringLiteral("qrc:/"));
    QQmlComponent component(&engine, QUrl(QStringLiteral("qrc:/EngramDesktop/ChatView.qml")));
    std::unique_ptr<QObject> object(component.createWithInitialProperties(
        {{"controller", QVariant::fromValue<QObject*>(chat_.get())},
         {"modelList", QVariant::fromValue<QObject*>(&models)}}));
    auto* pane = qobject_cast<QQuickItem*>(object.get());
    QVERIFY2(pane, qPrintable(component.errorString()));
    QQuickWindow window;
    QVERIFY(show_in_window(window, pane, QSize(900, 700)));

    QQuickItem* exportButton = find_item(pane, "exportButton");
    QVERIFY(exportButton && exportButton->isVisible());
    QVERIFY(!exportButton->isEnabled());
    const QPointF centre = exportButton->mapToScene(QPointF(exportButton->width() / 2, exportButton->height() / 2));
    QTest::mouseMove(&window, centre.toPoint());
    QTRY_VERIFY(visible_text(window.contentItem(), "Nothing to export yet: this chat has no messages."));
    QTest::mouseMove(&window, QPoint(450, 400));

    // A reply with a code block (more than one segment), streamed into the pane.
    use_settings(200, 0.0);
    chat_->send(QStringLiteral("Write a Python function that adds two numbers, then explain it."));
    QPointer<QQuickItem> first;  // the first paragraph's item, once a second one began
    QString first_text;
    QDeadlineTimer deadline(kReplyTimeoutMs);
    while (chat_->busy() && !deadline.hasExpired()) {
        QList<QQuickItem*> segments;
        named(pane, QStringLiteral("replySegment"), &segments);
        if (!first && segments.size() >= 2) {
            first = segments[0];
            first_text = first->property("text").toString();  // (the Loader's: the segment's source)
        }
        QTest::qWait(5);
    }
    QVERIFY(!chat_->busy());
    const QString reply = model().get(model().count() - 1).value("content").toString();
    QVERIFY2(reply.contains(QStringLiteral("```")), qPrintable(reply));  // a code block, as asked
    QVERIFY2(first, qPrintable("the reply never showed two segments while it streamed: " + model().get(model().count() - 1).value("content").toString()));
    QList<QQuickItem*> segments;
    named(pane, QStringLiteral("replySegment"), &segments);
    QVERIFY(segments.size() >= 2);
    QCOMPARE(segments[0], first.data());  // the same item, kept while later paragraphs streamed
    QCOMPARE(first->property("text").toString(), first_text);
    QVERIFY(exportButton->isEnabled());
    QVERIFY2(warnings.isEmpty(), qPrintable(warnings.value(0).toString()));
    chat_->newConversation();
}

// The real window (Main.qml) on the real controller: a disabled control is
// drawn in the palette's disabled colour, not in the enabled one (the window
// sets the platform palette group by group).
void TestChatController::disabledControlsLookDisabledInTheWindow() {
    chat_->newConversation();
    eg::library::ModelRegistry registry(QStringLiteral("test-main-window-registry"));
    EG_VERIFY_OK(registry.open(dir_.filePath("models-main.sqlite3")));
    eg::ui::InstalledModels models(registry, dir_.filePath("models"), {});
    eg::ui::ConversationListModel conversations(*store_);
    QQmlEngine engine;
    QList<QQmlError> warnings;
    QObject::connect(&engine, &QQmlEngine::warnings, [&](const QList<QQmlError>& w) { warnings += w; });
    engine.addImportPath(QStringLiteral("qrc:/"));
    engine.rootContext()->setContextProperty(QStringLiteral("chat"), chat_.get());
    engine.rootContext()->setContextProperty(QStringLiteral("conversations"), &conversations);
    engine.rootContext()->setContextProperty(QStringLiteral("models"), &models);
    QQmlComponent component(&engine, QUrl(QStringLiteral("qrc:/EngramDesktop/Main.qml")));
    std::unique_ptr<QObject> object(component.create());
    auto* window = qobject_cast<QQuickWindow*>(object.get());
    QVERIFY2(window, qPrintable(component.errorString()));
    QVERIFY(QTest::qWaitForWindowExposed(window));

    QQuickItem* exportButton = find_item(window->contentItem(), "exportButton");
    QQuickItem* memoryButton = find_item(window->contentItem(), "memoryButton");
    QVERIFY(exportButton && memoryButton);
    QTRY_VERIFY(exportButton->isVisible());
    QVERIFY(!exportButton->isEnabled());  // an empty chat
    QVERIFY(memoryButton->isEnabled());
    const auto text_colour = [](QQuickItem* control) {
        auto* content = control->property("contentItem").value<QQuickItem*>();
        return content ? content->property("color").value<QColor>() : QColor();
    };
    QVERIFY(text_colour(exportButton).isValid() && text_colour(memoryButton).isValid());
    QVERIFY2(text_colour(exportButton) != text_colour(memoryButton),
             qPrintable("a disabled button is drawn like an enabled one: " + text_colour(exportButton).name()));
    QVERIFY2(warnings.isEmpty(), qPrintable(warnings.value(0).toString()));

    // No model loaded (a controller whose model never came): New chat is
    // disabled and says why on hover; the welcome page shows.
    object.reset();
    eg::ui::ChatController no_model(*store_, prefs_.get());
    engine.rootContext()->setContextProperty(QStringLiteral("chat"), &no_model);
    std::unique_ptr<QObject> second(component.create());
    auto* bare = qobject_cast<QQuickWindow*>(second.get());
    QVERIFY2(bare, qPrintable(component.errorString()));
    QVERIFY(QTest::qWaitForWindowExposed(bare));
    QQuickItem* new_chat = find_item(bare->contentItem(), "newChatButton");
    QVERIFY(new_chat && new_chat->isVisible());
    QVERIFY(!new_chat->isEnabled());
    const QPointF centre = new_chat->mapToScene(QPointF(new_chat->width() / 2, new_chat->height() / 2));
    QTest::mouseMove(bare, centre.toPoint());
    QTRY_VERIFY(visible_text(bare->contentItem(), "No model is loaded"));
    QQuickItem* welcome = find_item(bare->contentItem(), "firstStartTitle");
    QVERIFY(welcome && welcome->isVisible());  // the welcome page, as no model is installed
    QVERIFY(!visible_text(bare->contentItem(), "source folder"));
    QVERIFY2(warnings.isEmpty(), qPrintable(warnings.value(0).toString()));
}

#include "test_chat_controller.moc"
