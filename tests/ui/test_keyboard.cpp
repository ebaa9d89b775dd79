// The window by keyboard alone (issue 19, point 2), on the real QML
// components in a real window with a real SQLite store: Ctrl+F's field,
// Down and Enter open a search result; the conversation list is one Tab
// stop where arrows move and Enter opens, Delete asks, F2 renames; Tab in
// the message box moves on instead of typing a tab; and a message's
// actions are reached by Tab, named for screen readers, and pressed by Enter.
#include <QAccessible>
#include <QQmlComponent>
#include <QQmlContext>
#include <QQmlEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtQml/qqmlextensionplugin.h>
#include <QtTest>

#include <memory>

#include "conversation_list_model.h"
#include "message_list_model.h"
#include "quick_items.h"
#include "store/chat_store.h"
#include "test_env.h"

Q_IMPORT_QML_PLUGIN(EngramDesktopPlugin)

// The scene's QML, at the end of the file (moc reads raw strings badly).
const char* scene_qml();

class TestKeyboard : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    std::unique_ptr<eg::store::ChatStore> store_;
    std::unique_ptr<eg::ui::ConversationListModel> conversations_;
    eg::ui::MessageListModel messages_;
    QQmlEngine engine_;
    std::unique_ptr<QObject> root_;
    QQuickWindow window_;
    QList<qint64> ids_;  // oldest first

    QQuickItem* item(const char* name) { return find_item(window_.contentItem(), QString::fromLatin1(name)); }
    QQuickItem* focused() { return window_.activeFocusItem(); }
    QVariant scene(const char* property) { return root_->property(property); }
    void key(Qt::Key k, Qt::KeyboardModifiers m = Qt::NoModifier) { QTest::keyClick(&window_, k, m); }
    void type(const QString& text) {
        for (const QChar c : text) QTest::keyClick(&window_, c.toLatin1());
    }

    qint64 add_conversation(const QString& title, const QString& text) {
        const auto id = store_->create_conversation(title);
        if (!id) return -1;
        eg::store::MessageRow m;
        m.conversation_id = id.value();
        m.role = QStringLiteral("user");
        m.content = text;
        m.created_at = QDateTime::currentDateTimeUtc();
        m.finished = true;
        if (!store_->add_message(m)) return -1;
        return id.value();
    }

private slots:
    void initTestCase() {
        store_ = std::make_unique<eg::store::ChatStore>(QStringLiteral("test-keyboard"));
        EG_VERIFY_OK(store_->open(dir_.filePath(QStringLiteral("engram.sqlite"))));
        ids_ << add_conversation(QStringLiteral("Octopus facts"), QStringLiteral("Tell me about octopuses."))
             << add_conversation(QStringLiteral("Bread"), QStringLiteral("How do I bake sourdough bread?"))
             << add_conversation(QStringLiteral("Rivers"), QStringLiteral("Name three long rivers."));
        QVERIFY(!ids_.contains(-1));
        conversations_ = std::make_unique<eg::ui::ConversationListModel>(*store_);
        conversations_->refresh();
        QCOMPARE(conversations_->rowCount(), 3);

        eg::ui::MessageItem user;
        user.message_id = 1;
        user.role = QStringLiteral("user");
        user.content = QStringLiteral("Name three long rivers.");
        eg::ui::MessageItem reply;
        reply.message_id = 2;
        reply.role = QStringLiteral("assistant");
        reply.content = QStringLiteral("The Nile, the Amazon and the Yangtze.");
        reply.stats_text = QStringLiteral("9 tokens");
        messages_.set_items({user, reply});

        engine_.addImportPath(QStringLiteral("qrc:/"));
        engine_.rootContext()->setContextProperty(QStringLiteral("conversations"), conversations_.get());
        engine_.rootContext()->setContextProperty(QStringLiteral("messages"), &messages_);
        QQmlComponent component(&engine_);
        component.setData(scene_qml(), QUrl(QStringLiteral("qrc:/keyboard-test.qml")));
        root_.reset(component.create());
        auto* root = qobject_cast<QQuickItem*>(root_.get());
        QVERIFY2(root, qPrintable(component.errorString()));
        window_.resize(1000, 700);
        root->setParentItem(window_.contentItem());
        window_.show();
        window_.requestActivate();
        QVERIFY(QTest::qWaitForWindowActive(&window_));
    }

    // Ctrl+F's field (Sidebar.focusSearch), a word, Down, Enter: that conversation opens.
    void searchDownEnterOpensAResult() {
        QMetaObject::invokeMethod(item("sidebar"), "focusSearch");
        QCOMPARE(focused()->objectName(), QStringLiteral("searchField"));
        type(QStringLiteral("sourdough"));
        QTRY_COMPARE(item("conversationList")->property("count").toInt(), 1);
        key(Qt::Key_Down);
        QVERIFY(item("conversationList")->hasActiveFocus());
        key(Qt::Key_Return);
        QCOMPARE(scene("opened").toLongLong(), ids_[1]);

        // Enter in the field itself opens the first result (even before the
        // search's typing pause has passed).
        root_->setProperty("opened", -1);
        QMetaObject::invokeMethod(item("sidebar"), "focusSearch");
        type(QStringLiteral("octopus"));
        key(Qt::Key_Return);
        QCOMPARE(scene("opened").toLongLong(), ids_[0]);

        // Esc clears the search; every conversation is back.
        QMetaObject::invokeMethod(item("sidebar"), "focusSearch");
        key(Qt::Key_Escape);
        QTRY_COMPARE(item("conversationList")->property("count").toInt(), 3);
    }

    // The list is one Tab stop: arrows move in it, Enter opens, Delete asks,
    // Up from the first row goes back to the search field.
    void theListIsOneTabStopWithArrows() {
        QMetaObject::invokeMethod(item("sidebar"), "focusSearch");
        key(Qt::Key_Tab);
        QQuickItem* list = item("conversationList");
        QVERIFY(list->hasActiveFocus());
        list->setProperty("currentIndex", 0);
        key(Qt::Key_Down);
        key(Qt::Key_Down);
        QCOMPARE(list->property("currentIndex").toInt(), 2);
        key(Qt::Key_Return);
        QCOMPARE(scene("opened").toLongLong(), ids_[0]);  // most recent first: the oldest is last
        key(Qt::Key_Delete);
        QCOMPARE(scene("deleting").toLongLong(), ids_[0]);
        key(Qt::Key_Up);
        key(Qt::Key_Up);
        QCOMPARE(list->property("currentIndex").toInt(), 0);
        key(Qt::Key_Up);
        QCOMPARE(focused()->objectName(), QStringLiteral("searchField"));
        // Tab leaves the list in one step, Shift+Tab comes back to it.
        key(Qt::Key_Tab);
        QVERIFY(list->hasActiveFocus());
        key(Qt::Key_Tab);
        QVERIFY(!list->hasActiveFocus());
        key(Qt::Key_Backtab);
        QVERIFY(list->hasActiveFocus());
    }

    // Tab in the message box moves on; the text has no tab in it.
    void tabInTheMessageBoxMovesOn() {
        QQuickItem* input = item("composerInput");
        input->forceActiveFocus();
        type(QStringLiteral("hello"));
        key(Qt::Key_Tab);
        QCOMPARE(input->property("text").toString(), QStringLiteral("hello"));
        QVERIFY(focused() != input);
        key(Qt::Key_Backtab);
        QCOMPARE(focused(), input);
    }

    // Shift+Tab from the message box reaches the reply's actions and the
    // message's Edit; each has a name a screen reader says; Enter presses it.
    void messageActionsByTab() {
        QQuickItem* input = item("composerInput");
        input->forceActiveFocus();
        QStringList names;
        bool copied = false;
        for (int i = 0; i < 12 && !copied; ++i) {
            key(Qt::Key_Backtab);
            QQuickItem* f = focused();
            QVERIFY(f);
            const QString name = f->property("text").toString();
            names << name;
            if (name == QLatin1String("Copy")) {
                QAccessibleInterface* a = QAccessible::queryAccessibleInterface(f);
                QVERIFY(a);
                QCOMPARE(a->role(), QAccessible::Button);
                QVERIFY2(a->text(QAccessible::Name).startsWith(QLatin1String("Copy the")), qPrintable(a->text(QAccessible::Name)));
                QVERIFY(f->parentItem()->opacity() > 0.5);  // shown while it has the keyboard
                key(Qt::Key_Return);
                QCOMPARE(scene("copies").toInt(), 1);
                copied = true;
            }
        }
        QVERIFY2(copied, qPrintable(names.join(QLatin1String(" | "))));
        // On to the user's message: its Edit, by name.
        bool edit = false;
        for (int i = 0; i < 6 && !edit; ++i) {
            key(Qt::Key_Backtab);
            edit = focused() && focused()->objectName() == QLatin1String("editButton");
        }
        QVERIFY(edit);
        QAccessibleInterface* a = QAccessible::queryAccessibleInterface(focused());
        QVERIFY(a && a->text(QAccessible::Name).startsWith(QLatin1String("Edit your message")));
    }
};

// The sidebar beside a message and the message box, as the window lays them out.
const char* scene_qml() {
    return R"QML(
import QtQuick
import QtQuick.Controls
import EngramDesktop

Item {
    id: scene
    width: 1000; height: 700
    property var opened: -1
    property var deleting: -1
    property int copies: 0
    property int edits: 0
    Sidebar {
        id: sidebar
        objectName: "sidebar"
        x: 0; y: 0; width: 300; height: 700
        conversationList: conversations
        onConversationSelected: id => scene.opened = id
        onDeleteRequested: (id, title) => scene.deleting = id
    }
    ListView {
        objectName: "messages"
        x: 320; y: 0; width: 660; height: 500
        model: messages
        delegate: MessageDelegate {
            width: 640
            isLast: index === ListView.view.count - 1
            onCopyRequested: text => scene.copies++
            onEditSubmitted: (row, text) => scene.edits++
        }
    }
    Composer {
        objectName: "composer"
        x: 320; y: 520; width: 660
        ready: true
    }
}
)QML";
}

QTEST_MAIN(TestKeyboard)
#include "test_keyboard.moc"
