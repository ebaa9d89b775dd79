// Shows the controller's last error above the composer until dismissed or replaced.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Rectangle {
    id: root

    property string message: ""
    property bool dismissed: false

    signal dismissRequested()

    onMessageChanged: dismissed = false

    FontMetrics { id: fm }

    visible: message.length > 0 && !dismissed
    implicitHeight: visible ? row.implicitHeight + Math.round(fm.height * 0.6) : 0
    color: Qt.tint(palette.base, Qt.rgba(0.85, 0.2, 0.2, 0.18))

    RowLayout {
        id: row
        anchors.fill: parent
        anchors.leftMargin: Math.round(fm.height * 0.8)
        anchors.rightMargin: Math.round(fm.height * 0.3)
        Label {
            objectName: "errorText"
            Layout.fillWidth: true
            text: root.message
            wrapMode: Text.Wrap
        }
        ToolButton {
            text: "✕"
            onClicked: {
                root.dismissed = true
                root.dismissRequested()
            }
            Accessible.name: qsTr("Dismiss")
        }
    }
}
