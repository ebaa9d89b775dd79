// The conversation sidebar: a New chat button, a full-text search field and the
// conversations, most recent activity first (the model keeps that order).
// By keyboard: Ctrl+F searches, Down goes from the field to the results and
// Enter opens one (in the field: the first); the list is one Tab stop where
// Up/Down move, Enter opens, F2 renames and Delete asks to delete.
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
    // What Esc should close before it stops a reply: a search being typed.
    readonly property bool escapeHasWork: searchField.activeFocus && searchField.text.length > 0

    signal newChatRequested()
    signal conversationSelected(var id)
    signal renameRequested(var id, string title)
    signal deleteRequested(var id, string title)
    signal libraryRequested()

    // Enter in the search field: the first result, once the search (it waits
    // for a pause in typing) has run.
    function openFirstResult() {
        if (searchDelay.running) {
            searchDelay.stop()
            root.conversationList.setFilter(searchField.text)
        }
        if (list.count > 0)
            list.openAt(0)
    }
    function focusSearch() {
        searchField.forceActiveFocus()
        searchField.selectAll()
    }

    FontMetrics { id: fm }

    padding: Math.round(fm.height * 0.5)
    background: Rectangle {
        color: Theme.surface
        Rectangle {
            anchors { top: parent.top; bottom: parent.bottom; right: parent.right }
            width: 1
            color: Theme.border
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
                icon.source: Theme.icon("new-chat")
                icon.color: enabled ? Theme.text : Theme.mutedText
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
            icon.source: Theme.icon("models")
            icon.color: enabled ? Theme.text : Theme.mutedText
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
            Accessible.name: qsTr("Search conversations")
            // Search as the user types, but not on every keystroke.
            onTextChanged: searchDelay.restart()
            Keys.onDownPressed: list.enterFrom(0)
            Keys.onReturnPressed: root.openFirstResult()
            Keys.onEnterPressed: root.openFirstResult()
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
            activeFocusOnTab: true
            keyNavigationEnabled: true
            highlightMoveDuration: 0
            Accessible.role: Accessible.List
            Accessible.name: qsTr("Conversations")

            // Focus on the list's row `row` (or the open conversation's when -1).
            function enterFrom(row) {
                if (count === 0) return
                forceActiveFocus(Qt.TabFocusReason)
                currentIndex = row
            }
            function openAt(row) {
                const item = itemAtIndex(row)
                if (item) root.conversationSelected(item.conversationId)
            }
            onActiveFocusChanged: {
                if (!activeFocus || count === 0) return
                // Tabbing in lands on the open conversation.
                for (let i = 0; i < count; ++i) {
                    const item = itemAtIndex(i)
                    if (item && item.conversationId === root.currentConversationId) {
                        if (currentIndex < 0 || !currentItem) currentIndex = i
                        return
                    }
                }
                if (currentIndex < 0) currentIndex = 0
            }
            Keys.onReturnPressed: openAt(currentIndex)
            Keys.onEnterPressed: openAt(currentIndex)
            Keys.onSpacePressed: openAt(currentIndex)
            Keys.onPressed: event => {
                if (!currentItem) return
                if (event.key === Qt.Key_F2) {
                    currentItem.startRename()
                    event.accepted = true
                } else if (event.key === Qt.Key_Delete) {
                    root.deleteRequested(currentItem.conversationId, currentItem.title)
                    event.accepted = true
                } else if (event.key === Qt.Key_Up && currentIndex === 0) {
                    searchField.forceActiveFocus(Qt.BacktabFocusReason)
                    event.accepted = true
                }
            }

            delegate: ConversationDelegate {
                width: ListView.view.width
                keyboardCurrent: ListView.isCurrentItem && list.activeFocus
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
