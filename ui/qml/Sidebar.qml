// The conversation sidebar: a New chat button, a full-text search field and the
// conversations, most recent activity first (the model keeps that order).
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Pane {
    id: root

    required property var conversationList
    property var currentConversationId: -1
    property var replyingConversationId: 0
    // Why New chat cannot be used now (no model loaded); empty: it can.
    property string newChatBlockedReason: ""
    // What Esc should close before it stops a reply: the delete question, a
    // search being typed.
    readonly property bool escapeHasWork: deleteDialog.opened || (searchField.activeFocus && searchField.text.length > 0)

    signal newChatRequested()
    signal conversationSelected(var id)
    signal renameRequested(var id, string title)
    signal deleteRequested(var id, string title)
    signal libraryRequested()

    function focusSearch() {
        searchField.forceActiveFocus()
        searchField.selectAll()
    }

    FontMetrics { id: fm }

    padding: Math.round(fm.height * 0.5)
    background: Rectangle {
        color: Qt.darker(root.palette.window, 1.04)
        Rectangle {
            anchors { top: parent.top; bottom: parent.bottom; right: parent.right }
            width: 1
            color: root.palette.mid
            opacity: 0.5
        }
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: Math.round(fm.height * 0.5)

        // A disabled button gets no hover: the item around it listens, to say why.
        Item {
            Layout.fillWidth: true
            implicitHeight: newChat.implicitHeight
            HoverHandler { id: newChatHover }
            Button {
                id: newChat
                objectName: "newChatButton"
                anchors.fill: parent
                text: qsTr("New chat")
                icon.name: "document-new"
                highlighted: enabled
                enabled: root.newChatBlockedReason.length === 0
                onClicked: root.newChatRequested()
                ToolTip.visible: newChatHover.hovered
                ToolTip.delay: enabled ? 600 : 0
                ToolTip.text: enabled ? qsTr("Start a new conversation (Ctrl+N)") : root.newChatBlockedReason
            }
        }

        Button {
            objectName: "libraryButton"
            Layout.fillWidth: true
            text: qsTr("Models")
            icon.name: "folder-download"
            flat: true
            onClicked: root.libraryRequested()
            ToolTip.visible: hovered
            ToolTip.delay: 600
            ToolTip.text: qsTr("Download, import and switch models (Ctrl+L)")
        }

        TextField {
            id: searchField
            objectName: "searchField"
            Layout.fillWidth: true
            placeholderText: qsTr("Search conversations (Ctrl+F)")
            selectByMouse: true
            // Search as the user types, but not on every keystroke.
            onTextChanged: searchDelay.restart()
            Keys.onEscapePressed: event => {
                if (text.length > 0) {
                    text = ""
                    event.accepted = true
                } else {
                    event.accepted = false
                }
            }
            Timer {
                id: searchDelay
                interval: 200
                onTriggered: root.conversationList.setFilter(searchField.text)
            }
        }

        // A rename, delete or search the store refused, in its words.
        ErrorBanner {
            objectName: "conversationError"
            Layout.fillWidth: true
            message: root.conversationList.error || ""
        }

        ListView {
            id: list
            objectName: "conversationList"
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            model: root.conversationList
            spacing: 2
            boundsBehavior: Flickable.StopAtBounds
            ScrollBar.vertical: ScrollBar {}

            delegate: ConversationDelegate {
                width: ListView.view.width
                current: conversationId === root.currentConversationId
                replying: conversationId === root.replyingConversationId
                onSelected: root.conversationSelected(conversationId)
                onRenamed: newTitle => root.renameRequested(conversationId, newTitle)
                onDeleteClicked: root.deleteRequested(conversationId, title)
            }

            Label {
                anchors.centerIn: parent
                width: parent.width - 2 * fm.height
                visible: list.count === 0
                horizontalAlignment: Text.AlignHCenter
                wrapMode: Text.Wrap
                opacity: 0.6
                text: searchField.text.length > 0 ? qsTr("No conversation mentions “%1”.").arg(searchField.text)
                                                  : qsTr("No conversations yet.")
            }
        }
    }
}
