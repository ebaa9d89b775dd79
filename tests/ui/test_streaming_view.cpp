// A reply streaming into the chat pane (issue 19): each piece changes the
// last segment only. The segments of a reply grown piece by piece are the
// ones of the whole text split at once (any cut, fences split mid-line); in a
// real window (MessageDelegate.qml in a ListView, offscreen) the items of
// finished paragraphs and code blocks are the same items after later pieces,
// with the same text, while the last one grows.
#include <QPointer>
#include <QQmlComponent>
#include <QQmlContext>
#include <QQmlEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QtQml/qqmlextensionplugin.h>
#include <QtTest>

#include "markdown_segments.h"
#include "message_list_model.h"
#include "quick_items.h"
#include "segment_list_model.h"

Q_IMPORT_QML_PLUGIN(EngramDesktopPlugin)

using eg::ui::MessageItem;
using eg::ui::MessageListModel;
using eg::ui::SegmentListModel;

namespace {

const QString kReply = QStringLiteral(
    "Here is a plan:\n\n1. Read the file.\n2. Count the words.\n\n"
    "```python\nwith open('a.txt') as f:\n    print(len(f.read().split()))\n```\n"
    "That prints the count.\n~~~~\nnot closed by ~~~\n~~~\n~~~~\nThen ```inline``` text\n"
    "   ```\n``` indented fence closes\n```\nand the end, still open: ```js\nlet x = 1");

// Every item under root (root included) named `name`, depth first.
void find_all(QQuickItem* root, const QString& name, QList<QQuickItem*>* out) {
    if (!root) return;
    if (root->objectName() == name) out->push_back(root);
    for (QQuickItem* child : root->childItems()) find_all(child, name, out);
}

QList<QQuickItem*> visible_named(QQuickItem* root, const QString& name) {
    QList<QQuickItem*> all, shown;
    find_all(root, name, &all);
    for (QQuickItem* i : all)
        if (i->isVisible()) shown << i;
    return shown;
}

}  // namespace

class TestStreamingView : public QObject {
    Q_OBJECT

private slots:
    // Split piece by piece (every cut of the text into two, then pieces of
    // 1..7 characters) = split at once.
    void incremental_split_matches_the_whole() {
        const QVariantList whole = eg::ui::split_markdown_segments(kReply);
        QVERIFY(whole.size() >= 6);
        for (qsizetype cut = 0; cut <= kReply.size(); ++cut) {
            SegmentListModel m;
            m.set_text(kReply.left(cut));
            m.extend(kReply);
            QCOMPARE(m.segments(), whole);
        }
        for (int step = 1; step <= 7; ++step) {
            SegmentListModel m;
            QString text;
            for (qsizetype i = 0; i < kReply.size(); i += step) {
                text += kReply.mid(i, step);
                m.extend(text);
                QCOMPARE(m.segments(), eg::ui::split_markdown_segments(text));
            }
        }
    }

    // Appending a piece announces the changed row only: rows above are not
    // touched (no dataChanged, no reset), a new fence inserts a row.
    void a_piece_changes_the_last_row_only() {
        MessageListModel messages;
        MessageItem reply;
        reply.role = QStringLiteral("assistant");
        reply.streaming = true;
        const int row = messages.append(reply);
        messages.append_content(row, QStringLiteral("Intro.\n\n```c\nint x;\n```\nAfter"));
        auto* segs = qobject_cast<SegmentListModel*>(
            messages.data(messages.index(row), MessageListModel::SegmentsRole).value<QObject*>());
        QVERIFY(segs);
        QCOMPARE(segs->count(), 3);
        QSignalSpy changed(segs, &QAbstractItemModel::dataChanged);
        QSignalSpy reset(segs, &QAbstractItemModel::modelReset);
        QSignalSpy inserted(segs, &QAbstractItemModel::rowsInserted);
        QSignalSpy content(&messages, &QAbstractItemModel::dataChanged);
        for (const char* piece : {" the", " code", " block."}) messages.append_content(row, QString::fromLatin1(piece));
        // The content is there at once; the view hears of it at most every kShowIntervalMs.
        QCOMPARE(messages.get(row)["content"].toString(), QStringLiteral("Intro.\n\n```c\nint x;\n```\nAfter the code block."));
        QTRY_COMPARE(segs->segments()[2].toMap()["text"].toString(), QStringLiteral("After the code block."));
        QCOMPARE(reset.count(), 0);
        QCOMPARE(inserted.count(), 0);
        QVERIFY(changed.count() >= 1 && changed.count() <= 3);
        QCOMPARE(content.count(), changed.count());  // one telling per flush, not per piece more
        for (const QList<QVariant>& c : changed) QCOMPARE(c[0].toModelIndex().row(), 2);
        messages.append_content(row, QStringLiteral("\n```sh\nls"));
        messages.finish(row, QStringLiteral("3 tokens"));  // shows what is pending, at once
        QCOMPARE(inserted.count(), 1);
        QCOMPARE(segs->count(), 4);
    }

    // In a real window: the items of the finished segments stay (same item,
    // same text) while later pieces arrive; the last one shows the new text.
    void finished_segments_keep_their_items_on_screen() {
        MessageListModel messages;
        QQmlEngine engine;
        QList<QQmlError> warnings;
        QObject::connect(&engine, &QQmlEngine::warnings, [&](const QList<QQmlError>& w) { warnings += w; });
        engine.addImportPath(QStringLiteral("qrc:/"));
        engine.rootContext()->setContextProperty(QStringLiteral("messages"), &messages);
        QQmlComponent component(&engine);
        component.setData(R"(import QtQuick
import EngramDesktop
ListView {
    model: messages
    delegate: MessageDelegate { width: ListView.view.width }
})",
                          QUrl(QStringLiteral("qrc:/test/View.qml")));
        std::unique_ptr<QObject> object(component.create());
        auto* view = qobject_cast<QQuickItem*>(object.get());
        QVERIFY2(view, qPrintable(component.errorString()));
        QQuickWindow window;
        QVERIFY(show_in_window(window, view, QSize(800, 900)));

        MessageItem user;
        user.role = QStringLiteral("user");
        user.content = QStringLiteral("Show me some code");
        messages.append(user);
        MessageItem reply;
        reply.role = QStringLiteral("assistant");
        reply.streaming = true;
        const int row = messages.append(reply);
        const QString head = QStringLiteral("Sure, **here** it is:\n\n```python\nprint('hi')\n```\n");
        for (const QString& piece : head.split(u' ')) messages.append_content(row, piece + (piece.endsWith('\n') ? "" : " "));
        messages.append_content(row, QStringLiteral("It"));
        QTRY_COMPARE(visible_named(view, "textSegment").size(), 2);
        QTRY_COMPARE(visible_named(view, "copyCodeButton").size(), 1);
        QPointer<QQuickItem> first = visible_named(view, "textSegment")[0];
        QPointer<QQuickItem> code = visible_named(view, "copyCodeButton")[0];
        QPointer<QQuickItem> last = visible_named(view, "textSegment")[1];
        const QString first_text = first->property("text").toString();
        QVERIFY2(first_text.startsWith("Sure, **here** it is:"), qPrintable(first_text));

        QString more;
        for (int i = 0; i < 40; ++i) {
            const QString piece = QStringLiteral(" prints hi (%1).").arg(i);
            more += piece;
            messages.append_content(row, piece);
            QTest::qWait(1);  // a frame may go between pieces, as while a reply streams
        }
        QVERIFY(first && code && last);  // not destroyed and re-made
        QCOMPARE(visible_named(view, "textSegment")[0], first.data());
        QCOMPARE(visible_named(view, "copyCodeButton")[0], code.data());
        QCOMPARE(visible_named(view, "textSegment")[1], last.data());
        QCOMPARE(first->property("text").toString(), first_text);
        // (a Markdown TextEdit gives its text back re-wrapped)
        QTRY_COMPARE(last->property("text").toString().simplified(), (QStringLiteral("It") + more).simplified());

        messages.finish(row, QStringLiteral("42 tokens"));
        QVERIFY(first && last);
        QVERIFY2(warnings.isEmpty(), qPrintable(warnings.value(0).toString()));
    }
};

QTEST_MAIN(TestStreamingView)
#include "test_streaming_view.moc"
