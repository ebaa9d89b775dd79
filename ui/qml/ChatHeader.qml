// The bar above the chat: model picker with load state, export and settings.
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
            color: root.palette.mid
            opacity: 0.5
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

        ToolButton {
            text: qsTr("Export")
            enabled: root.messageCount > 0
            onClicked: exportMenu.popup(this, 0, height)
            ToolTip.visible: hovered
            ToolTip.delay: 600
            ToolTip.text: qsTr("Save this conversation as Markdown or JSON")
            Menu {
                id: exportMenu
                MenuItem { text: qsTr("As Markdown…"); onTriggered: root.exportRequested("markdown") }
                MenuItem { text: qsTr("As JSON…"); onTriggered: root.exportRequested("json") }
            }
        }
        ToolButton {
            objectName: "memoryButton"
            text: qsTr("Memory")
            onClicked: root.memoryRequested()
            ToolTip.visible: hovered
            ToolTip.delay: 600
            ToolTip.text: qsTr("Memory tiers, budgets and throughput (Ctrl+M)")
        }
        ToolButton {
            objectName: "settingsButton"
            text: qsTr("Settings")
            onClicked: root.settingsRequested()
            ToolTip.visible: hovered
            ToolTip.delay: 600
            ToolTip.text: qsTr("System prompt and sampling (Ctrl+,)")
        }
    }
}
