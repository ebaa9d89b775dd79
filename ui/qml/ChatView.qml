// The chat pane: header (model picker, export, settings), the messages of the
// current conversation and the composer. Follows the reply as it streams
// unless the user has scrolled up to read.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Page {
    id: root

    required property var controller
    required property var modelList

    signal settingsRequested()
    signal memoryRequested()
    signal exportRequested(string format)
    signal addRemoteRequested()

    function focusComposer() { composer.focusInput() }

    FontMetrics { id: fm }

    background: Rectangle { color: root.palette.base }

    header: ChatHeader {
        controller: root.controller
        modelList: root.modelList
        messageCount: messageList.count
        onSettingsRequested: root.settingsRequested()
        onMemoryRequested: root.memoryRequested()
        onExportRequested: format => root.exportRequested(format)
        onAddRemoteRequested: root.addRemoteRequested()
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: 0

        ListView {
            id: messageList
            objectName: "messageList"
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            model: root.controller.messages
            spacing: Math.round(fm.height * 0.75)
            topMargin: Math.round(fm.height)
            bottomMargin: Math.round(fm.height)
            boundsBehavior: Flickable.StopAtBounds
            ScrollBar.vertical: ScrollBar { policy: ScrollBar.AsNeeded }

            // True while the view shows the end; the user scrolling up clears it.
            property bool followEnd: true
            onMovementEnded: followEnd = atYEnd
            onCountChanged: {
                followEnd = true
                Qt.callLater(positionViewAtEnd)
            }
            onContentHeightChanged: if (followEnd) Qt.callLater(positionViewAtEnd)

            delegate: MessageDelegate {
                // Keep the text column readable on wide windows.
                width: Math.min(messageList.width - 2 * fm.height, fm.averageCharacterWidth * 100)
                x: Math.round((messageList.width - width) / 2)
                isLast: index === messageList.count - 1
                busy: root.controller.busy
                onCopyRequested: text => root.controller.copyText(text)
                onRegenerateRequested: root.controller.regenerate()
                // Both rebuild the messages below (this one too): the keyboard
                // goes back to the message box rather than nowhere.
                onEditSubmitted: (row, text) => {
                    root.controller.editAndResend(row, text)
                    root.focusComposer()
                }
                onVersionRequested: delta => {
                    root.controller.showVersion(index, delta)
                    root.focusComposer()
                }
            }

            EmptyChatHint {
                anchors.centerIn: parent
                width: Math.min(parent.width - 4 * fm.height, fm.averageCharacterWidth * 60)
                visible: messageList.count === 0
                modelLoaded: root.controller.modelLoaded
                loadingModel: root.controller.loadingModel
                modelName: root.controller.modelName
            }
        }

        // "Copied to the clipboard", "Saved to …": for a moment, then gone.
        Label {
            id: noticeLabel
            objectName: "noticeLabel"
            Layout.alignment: Qt.AlignHCenter
            visible: text.length > 0
            text: root.controller.notice || ""
            padding: Math.round(fm.height * 0.35)
            leftPadding: Math.round(fm.height * 0.8)
            rightPadding: leftPadding
            background: Rectangle {
                radius: height / 2
                color: Qt.tint(root.palette.base, Qt.rgba(0.2, 0.6, 0.3, 0.2))
            }
            Accessible.role: Accessible.AlertMessage
            Accessible.name: text
            Timer {
                id: noticeTimer
                interval: 2500
                onTriggered: root.controller.clearNotice()
            }
            Connections {
                target: root.controller
                // Each notice (a second Copy too) shows for the whole interval.
                function onNoticeChanged() { if (root.controller.notice) noticeTimer.restart() }
            }
        }

        ErrorBanner {
            Layout.fillWidth: true
            message: root.controller.lastError
            onDismissRequested: if (typeof root.controller.clearError === "function") root.controller.clearError()
        }

        Composer {
            id: composer
            Layout.fillWidth: true
            Layout.maximumWidth: fm.averageCharacterWidth * 100 + 2 * fm.height
            Layout.alignment: Qt.AlignHCenter
            busy: root.controller.busy && root.controller.replyingConversationId === root.controller.currentConversationId
            busyElsewhere: root.controller.busy && !busy
            ready: root.controller.modelLoaded
            onSendRequested: text => {
                messageList.followEnd = true
                root.controller.send(text)
            }
            onStopRequested: root.controller.stop()
        }
    }
}
