// The message input under the chat: Enter sends, Shift+Enter starts a new
// line, Tab moves on; while a reply is generated the Send button becomes Stop (Esc).
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Pane {
    id: root

    property bool busy: false          // a reply is being written here: Stop instead of Send
    property bool busyElsewhere: false // ... in another conversation: Send waits for it
    property bool ready: false

    signal sendRequested(string text)
    signal stopRequested()

    function focusInput() { input.forceActiveFocus() }
    function moveFocus(from, forward, event) {
        const next = from.nextItemInFocusChain(forward)
        if (next && next !== from)
            next.forceActiveFocus(forward ? Qt.TabFocusReason : Qt.BacktabFocusReason)
        event.accepted = true
    }
    function trySend() {
        const text = input.text.trim()
        if (busy || busyElsewhere || !ready || text.length === 0)
            return false
        sendRequested(text)
        input.clear()
        return true
    }

    FontMetrics { id: fm }

    padding: Math.round(fm.height * 0.6)
    background: Item {
        Rectangle {
            anchors.fill: parent
            anchors.margins: Math.round(fm.height * 0.3)
            radius: Theme.radiusL
            color: root.palette.base
            border.width: input.activeFocus ? 2 : 1
            border.color: input.activeFocus ? root.palette.highlight : root.palette.mid
        }
    }

    contentItem: RowLayout {
        spacing: Math.round(fm.height * 0.4)

        ScrollView {
            id: scroller
            Layout.fillWidth: true
            Layout.preferredHeight: Math.min(input.implicitHeight, fm.height * 10)
            Layout.leftMargin: Math.round(fm.height * 0.3)

            TextArea {
                id: input
                objectName: "composerInput"
                focus: true
                wrapMode: TextEdit.Wrap
                selectByMouse: true
                background: null
                placeholderText: root.ready ? qsTr("Message the assistant — Enter sends, Shift+Enter adds a line")
                                            : qsTr("Waiting for a model to load…")
                Accessible.name: qsTr("Message")
                // Tab and Shift+Tab move through the window, as in every other field.
                Keys.onTabPressed: event => root.moveFocus(input, true, event)
                Keys.onBacktabPressed: event => root.moveFocus(input, false, event)
                Keys.onReturnPressed: event => {
                    if (event.modifiers & Qt.ShiftModifier)
                        event.accepted = false
                    else
                        root.trySend()
                }
                Keys.onEnterPressed: event => {
                    if (event.modifiers & Qt.ShiftModifier)
                        event.accepted = false
                    else
                        root.trySend()
                }
            }
        }

        Button {
            objectName: "sendButton"
            visible: !root.busy
            Layout.alignment: Qt.AlignBottom
            text: qsTr("Send")
            icon.source: Theme.icon("send")
            highlighted: true
            enabled: root.ready && !root.busyElsewhere && input.text.trim().length > 0
            onClicked: root.trySend()
            ToolTip.visible: hovered
            ToolTip.delay: 600
            ToolTip.text: root.busyElsewhere ? qsTr("A reply is being written in another conversation; it can be stopped there")
                                             : qsTr("Send (Enter)")
        }
        Button {
            objectName: "stopButton"
            visible: root.busy
            Layout.alignment: Qt.AlignBottom
            text: qsTr("Stop")
            icon.source: Theme.icon("stop")
            icon.color: enabled ? Theme.text : Theme.mutedText
            onClicked: root.stopRequested()
            ToolTip.visible: hovered
            ToolTip.delay: 600
            ToolTip.text: qsTr("Stop the reply (Esc)")
        }
    }
}
