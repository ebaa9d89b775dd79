// The bar above the chat: model picker with load state, the conversation's
// title, and icon buttons for export, the memory panel and settings.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ToolBar {
    id: root

    required property var controller
    required property var modelList
    property int messageCount: 0

    signal settingsRequested()
    signal memoryRequested()
    signal exportRequested(string format)
    signal addRemoteRequested()

    FontMetrics { id: fm }

    background: Rectangle {
        color: root.palette.window
        Rectangle {
            anchors { left: parent.left; right: parent.right; bottom: parent.bottom }
            height: 1
            color: Theme.border
        }
    }

    RowLayout {
        anchors.fill: parent
        anchors.leftMargin: Math.round(fm.height * 0.5)
        anchors.rightMargin: Math.round(fm.height * 0.5)
        spacing: Math.round(fm.height * 0.5)

        ModelPicker {
            Layout.preferredWidth: Math.round(fm.height * 18)
            Layout.maximumWidth: Math.round(fm.height * 18)
            controller: root.controller
            modelList: root.modelList
            onAddRemoteRequested: root.addRemoteRequested()
        }

        Label {
            objectName: "conversationTitle"
            Layout.fillWidth: true
            horizontalAlignment: Text.AlignHCenter
            elide: Text.ElideRight
            font.bold: true
            text: root.controller.currentTitle ? root.controller.currentTitle : qsTr("New chat")
        }

        // A disabled button gets no hover: the item around it listens, to say why.
        Item {
            implicitWidth: exportButton.implicitWidth
            implicitHeight: exportButton.implicitHeight
            HoverHandler { id: exportHover }
            ToolButton {
                id: exportButton
                objectName: "exportButton"
                anchors.fill: parent
                text: qsTr("Export")
                icon.source: Theme.icon("export")
                icon.color: enabled ? Theme.text : Theme.mutedText
                display: AbstractButton.IconOnly
                Accessible.name: qsTr("Export this conversation")
                enabled: root.messageCount > 0
                onClicked: exportMenu.popup(this, 0, height)
                ToolTip.visible: exportHover.hovered
                ToolTip.delay: enabled ? 600 : 0
                ToolTip.text: enabled ? qsTr("Save this conversation as Markdown (Ctrl+Shift+S) or JSON")
                                      : qsTr("Nothing to export yet: this chat has no messages.")
                Menu {
                    id: exportMenu
                    MenuItem { text: qsTr("As Markdown…"); onTriggered: root.exportRequested("markdown") }
                    MenuItem { text: qsTr("As JSON…"); onTriggered: root.exportRequested("json") }
                }
            }
        }
        ToolButton {
            objectName: "memoryButton"
            text: qsTr("Memory")
            icon.source: Theme.icon("memory")
            icon.color: enabled ? Theme.text : Theme.mutedText
            display: AbstractButton.IconOnly
            Accessible.name: qsTr("Memory tiers")
            onClicked: root.memoryRequested()
            ToolTip.visible: hovered
            ToolTip.delay: 600
            ToolTip.text: qsTr("Memory tiers, budgets and throughput (Ctrl+M)")
        }
        ToolButton {
            objectName: "settingsButton"
            text: qsTr("Settings")
            icon.source: Theme.icon("settings")
            icon.color: enabled ? Theme.text : Theme.mutedText
            display: AbstractButton.IconOnly
            Accessible.name: qsTr("Settings")
            onClicked: root.settingsRequested()
            ToolTip.visible: hovered
            ToolTip.delay: 600
            ToolTip.text: qsTr("System prompt and sampling (Ctrl+,)")
        }
    }
}
