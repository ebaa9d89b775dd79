// One message: who wrote it, its text (Markdown and code blocks for replies),
// the stats line of a reply (and a notice above it when the oldest turns were
// left out of its context), and its actions: Copy on all, Edit on the user's,
// Regenerate on the last reply. Edit opens an inline editor; sending from it
// truncates the conversation there and answers again.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Item {
    id: root

    required property int index
    required property string role
    required property string content
    required property var messageId
    required property bool streaming
    required property string statsText
    // The reply's segments (SegmentListModel: kind, text, lang), text and code blocks.
    required property var segments
    // Said above a reply: e.g. that the oldest turns no longer fit its context.
    required property string notice
    required property int version     // this message among its versions (edits, regenerations), 1-based
    required property int versions
    property bool isLast: false
    property bool busy: false
    property bool editing: false

    signal copyRequested(string text)
    signal regenerateRequested()
    signal versionRequested(int delta)   // -1: the previous version, +1: the next
    signal editSubmitted(int row, string text)

    readonly property bool isUser: role === "user"
    readonly property bool isAssistant: role === "assistant"

    FontMetrics { id: fm }
    HoverHandler { id: hover }

    implicitHeight: column.implicitHeight

    function startEdit() {
        editor.text = content
        editing = true
        editor.forceActiveFocus()
        editor.cursorPosition = editor.length
    }
    function submitEdit() {
        const t = editor.text.trim()
        if (t.length === 0 || busy)
            return
        editing = false
        editSubmitted(index, t)
    }

    ColumnLayout {
        id: column
        width: parent.width
        spacing: Math.round(fm.height * 0.25)

        Label {
            Layout.alignment: root.isUser ? Qt.AlignRight : Qt.AlignLeft
            text: root.isUser ? qsTr("You") : root.isAssistant ? qsTr("Assistant") : qsTr("System")
            font.bold: true
            font.pointSize: Math.max(1, fm.font.pointSize * 0.9)
            opacity: 0.7
        }

        Label {
            objectName: "replyNotice"
            visible: root.isAssistant && root.notice.length > 0
            Layout.fillWidth: true
            text: "\u24d8 " + root.notice
            wrapMode: Text.Wrap
            font.italic: true
            font.pointSize: Math.max(1, fm.font.pointSize * 0.85)
            opacity: 0.7
        }

        // The body: a tinted bubble for the user, plain page for replies.
        Rectangle {
            id: bubble
            visible: !root.editing
            Layout.alignment: root.isUser ? Qt.AlignRight : Qt.AlignLeft
            Layout.fillWidth: !root.isUser
            Layout.preferredWidth: root.isUser ? Math.min(root.width * 0.85, userText.implicitWidth + 2 * padding) : -1
            implicitHeight: body.implicitHeight + 2 * padding
            readonly property real padding: root.isUser ? Math.round(fm.height * 0.6) : 0
            radius: Math.round(fm.height * 0.6)
            color: root.isUser ? Qt.tint(root.palette.base, Qt.rgba(root.palette.highlight.r, root.palette.highlight.g,
                                                                    root.palette.highlight.b, 0.14))
                               : "transparent"

            Column {
                id: body
                x: bubble.padding
                y: bubble.padding
                width: bubble.width - 2 * bubble.padding
                spacing: Math.round(fm.height * 0.5)

                // User text is shown as typed.
                TextEdit {
                    id: userText
                    visible: root.isUser || root.role === "system"
                    width: parent.width
                    text: visible ? root.content : ""
                    textFormat: TextEdit.PlainText
                    wrapMode: TextEdit.Wrap
                    readOnly: true
                    selectByMouse: true
                    color: root.palette.text
                    selectionColor: root.palette.highlight
                    selectedTextColor: root.palette.highlightedText
                    font: fm.font
                }

                // One item per paragraph run or code block (SegmentListModel): while the
                // reply streams only the last one changes; those above keep their layout.
                Repeater {
                    objectName: "segmentRepeater"
                    model: root.isAssistant ? root.segments : null
                    delegate: Loader {
                        id: seg
                        objectName: "replySegment"
                        required property string kind
                        required property string text
                        required property string lang
                        width: body.width
                        sourceComponent: kind === "code" ? codeSegment : textSegment
                        Component {
                            id: textSegment
                            TextEdit {
                                objectName: "textSegment"
                                text: seg.text
                                textFormat: TextEdit.MarkdownText
                                wrapMode: TextEdit.Wrap
                                readOnly: true
                                selectByMouse: true
                                color: root.palette.text
                                selectionColor: root.palette.highlight
                                selectedTextColor: root.palette.highlightedText
                                font: fm.font
                                onLinkActivated: link => Qt.openUrlExternally(link)
                                HoverHandler { cursorShape: parent.hoveredLink ? Qt.PointingHandCursor : Qt.IBeamCursor }
                            }
                        }
                        Component {
                            id: codeSegment
                            CodeBlock {
                                code: seg.text
                                lang: seg.lang
                                onCopyRequested: text => root.copyRequested(text)
                            }
                        }
                    }
                }

                // The reply has started but no text has arrived yet.
                Label {
                    id: typing
                    visible: root.isAssistant && root.streaming && root.content.length === 0
                    text: "●●●"
                    SequentialAnimation on opacity {
                        running: typing.visible
                        loops: Animation.Infinite
                        NumberAnimation { from: 0.2; to: 0.8; duration: 600 }
                        NumberAnimation { from: 0.8; to: 0.2; duration: 600 }
                    }
                }
            }
        }

        // Inline editor for a user message: Enter resends, Shift+Enter breaks the line, Esc cancels.
        ColumnLayout {
            visible: root.editing
            Layout.fillWidth: true
            spacing: Math.round(fm.height * 0.3)
            TextArea {
                id: editor
                objectName: "editInput"
                Layout.fillWidth: true
                wrapMode: TextEdit.Wrap
                selectByMouse: true
                background: Rectangle {
                    color: root.palette.base
                    radius: Math.round(fm.height * 0.4)
                    border.width: 2
                    border.color: root.palette.highlight
                }
                Keys.onReturnPressed: event => {
                    if (event.modifiers & Qt.ShiftModifier) event.accepted = false
                    else root.submitEdit()
                }
                Keys.onEnterPressed: event => root.submitEdit()
                Keys.onEscapePressed: root.editing = false
            }
            RowLayout {
                Layout.alignment: Qt.AlignRight
                Button { text: qsTr("Cancel"); flat: true; onClicked: root.editing = false }
                Button {
                    text: qsTr("Send")
                    highlighted: true
                    enabled: !root.busy && editor.text.trim().length > 0
                    onClicked: root.submitEdit()
                }
            }
        }

        // Stats (always) and actions (on hover, and on the last message); hidden while a reply streams.
        RowLayout {
            visible: !root.editing && !(root.isAssistant && root.streaming)
            Layout.fillWidth: true
            spacing: Math.round(fm.height * 0.2)

            // "‹ 2/3 ›": the versions of this message, kept by Edit and Regenerate.
            Row {
                objectName: "versionSwitcher"
                visible: root.versions > 1
                MessageAction {
                    objectName: "previousVersion"
                    text: "‹"
                    enabled: root.version > 1 && !root.busy
                    Accessible.name: qsTr("Previous version (%1 of %2)").arg(root.version).arg(root.versions)
                    onClicked: root.versionRequested(-1)
                }
                Label {
                    objectName: "versionLabel"
                    anchors.verticalCenter: parent.verticalCenter
                    text: root.version + "/" + root.versions
                    font.pointSize: Math.max(1, fm.font.pointSize * 0.8)
                    opacity: 0.7
                    Accessible.name: qsTr("Version %1 of %2").arg(root.version).arg(root.versions)
                }
                MessageAction {
                    objectName: "nextVersion"
                    text: "›"
                    enabled: root.version < root.versions && !root.busy
                    Accessible.name: qsTr("Next version (%1 of %2)").arg(root.version).arg(root.versions)
                    onClicked: root.versionRequested(1)
                }
            }
            Label {
                objectName: "statsLine"
                visible: root.isAssistant && root.statsText.length > 0
                text: root.statsText
                font.pointSize: Math.max(1, fm.font.pointSize * 0.8)
                opacity: 0.6
                elide: Text.ElideRight
            }
            Item { Layout.fillWidth: true }
            Row {
                spacing: Math.round(fm.height * 0.2)
                // Shown on hover, on the last message, and while the keyboard is on one of them.
                opacity: hover.hovered || root.isLast || copyAction.activeFocus || editAction.activeFocus
                         || regenerateAction.activeFocus ? 1.0 : 0.0
                Behavior on opacity { NumberAnimation { duration: 120 } }

                MessageAction {
                    id: copyAction
                    text: qsTr("Copy")
                    Accessible.name: root.isUser ? qsTr("Copy your message") : qsTr("Copy the reply")
                    enabled: root.content.length > 0
                    onClicked: root.copyRequested(root.content)
                }
                MessageAction {
                    id: editAction
                    objectName: "editButton"
                    visible: root.isUser
                    text: qsTr("Edit")
                    Accessible.name: qsTr("Edit your message (the reply after it is kept as a version)")
                    enabled: !root.busy
                    onClicked: root.startEdit()
                }
                MessageAction {
                    id: regenerateAction
                    objectName: "regenerateButton"
                    Accessible.name: qsTr("Regenerate the reply (this one is kept as a version)")
                    visible: root.isAssistant && root.isLast
                    text: qsTr("Regenerate")
                    enabled: !root.busy
                    onClicked: root.regenerateRequested()
                }
            }
        }
    }
}
