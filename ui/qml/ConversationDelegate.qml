// One row of the sidebar: title, snippet and time; double-click or the ✎ button
// renames in place (Enter keeps, Esc cancels); ✕ asks before deleting.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ItemDelegate {
    id: root

    required property var conversationId
    required property string title
    required property string snippet
    required property var updatedAt  // text or date
    property bool current: false
    property bool replying: false   // a reply is being written into this conversation
    property bool editing: false
    property bool keyboardCurrent: false  // the list has the keyboard and this is its row

    signal selected()
    signal renamed(string newTitle)
    signal deleteClicked()

    FontMetrics { id: fm }

    function startRename() {
        editing = true
        editor.text = title
        editor.forceActiveFocus()
        editor.selectAll()
    }
    function finishRename(keep) {
        if (!editing)
            return
        editing = false
        const t = editor.text.trim()
        if (keep && t.length > 0 && t !== title)
            renamed(t)
    }

    // The model gives a ready-made "14:05" / "Yesterday"; a raw date is formatted here.
    function whenText(value) {
        if (typeof value === "string")
            return value
        const d = new Date(value)
        if (isNaN(d.getTime()))
            return ""
        const now = new Date()
        if (d.toDateString() === now.toDateString())
            return Qt.formatTime(d, Locale.ShortFormat)
        return Qt.formatDate(d, Locale.ShortFormat)
    }

    highlighted: current
    // The list is one Tab stop (arrows move in it); its rows and buttons take no focus.
    focusPolicy: Qt.NoFocus
    Accessible.role: Accessible.ListItem
    Accessible.name: (title.length > 0 ? title : qsTr("New chat")) + (replying ? qsTr(", a reply is being written") : "")
    Accessible.description: qsTr("Enter opens it, F2 renames it, Delete deletes it")
    background: Rectangle {
        radius: Math.round(fm.height * 0.3)
        border.width: root.keyboardCurrent ? 2 : 0
        border.color: root.highlighted ? root.palette.highlightedText : root.palette.highlight
        color: root.highlighted ? root.palette.highlight
             : root.hovered ? Qt.tint(root.palette.window, Qt.rgba(root.palette.windowText.r, root.palette.windowText.g,
                                                                    root.palette.windowText.b, 0.08))
             : "transparent"
    }
    padding: Math.round(fm.height * 0.4)
    onClicked: if (!editing) selected()
    onDoubleClicked: startRename()

    contentItem: RowLayout {
        spacing: Math.round(fm.height * 0.3)

        ColumnLayout {
            Layout.fillWidth: true
            spacing: 0

            Label {
                Layout.fillWidth: true
                visible: !root.editing
                text: root.title.length > 0 ? root.title : qsTr("New chat")
                elide: Text.ElideRight
                font.bold: root.current
                color: root.highlighted ? root.palette.highlightedText : root.palette.windowText
            }
            TextField {
                id: editor
                Layout.fillWidth: true
                visible: root.editing
                selectByMouse: true
                Keys.onReturnPressed: root.finishRename(true)
                Keys.onEnterPressed: root.finishRename(true)
                Keys.onEscapePressed: root.finishRename(false)
                onActiveFocusChanged: if (!activeFocus) root.finishRename(true)
            }
            Label {
                Layout.fillWidth: true
                visible: !root.editing && text.length > 0
                text: root.snippet
                textFormat: Text.StyledText  // matches in bold, text escaped in C++
                elide: Text.ElideRight
                maximumLineCount: 1
                font.pointSize: Math.max(1, fm.font.pointSize * 0.85)
                opacity: 0.7
                color: root.highlighted ? root.palette.highlightedText : root.palette.windowText
            }
        }

        // Still, not spinning: an animation would redraw the window every
        // frame while the reply streams (software rendering pays for each).
        Label {
            objectName: "replyingIndicator"
            visible: root.replying && !root.editing
            text: "●"
            color: root.highlighted ? root.palette.highlightedText : Theme.accent
            Accessible.role: Accessible.Indicator
            Accessible.name: qsTr("A reply is being written")
            ToolTip.visible: replyingHover.hovered
            ToolTip.text: qsTr("A reply is being written in this conversation")
            HoverHandler { id: replyingHover }
        }
        Label {
            visible: !root.editing && !root.replying && !(root.hovered || root.current)
            text: root.whenText(root.updatedAt)
            font.pointSize: Math.max(1, fm.font.pointSize * 0.8)
            opacity: 0.6
            color: root.highlighted ? root.palette.highlightedText : root.palette.windowText
        }
        ToolButton {
            visible: !root.editing && (root.hovered || root.current || root.keyboardCurrent)
            text: "✎"
            implicitWidth: implicitHeight
            focusPolicy: Qt.NoFocus
            onClicked: root.startRename()
            ToolTip.visible: hovered
            ToolTip.delay: 600
            ToolTip.text: qsTr("Rename")
            Accessible.name: qsTr("Rename conversation")
        }
        ToolButton {
            visible: !root.editing && (root.hovered || root.current)
            text: "✕"
            implicitWidth: implicitHeight
            focusPolicy: Qt.NoFocus
            onClicked: root.deleteClicked()
            ToolTip.visible: hovered
            ToolTip.delay: 600
            ToolTip.text: qsTr("Delete")
            Accessible.name: qsTr("Delete conversation")
        }
    }
}
