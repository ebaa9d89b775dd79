// What an empty conversation shows: a greeting, the model state and the keys.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    id: root

    property bool modelLoaded: false
    property bool loadingModel: false
    property string modelName: ""

    spacing: Math.round(fm.height * 0.6)
    FontMetrics { id: fm }

    Label {
        Layout.fillWidth: true
        horizontalAlignment: Text.AlignHCenter
        text: qsTr("What can I help you with?")
        font.pointSize: fm.font.pointSize * 1.6
        wrapMode: Text.Wrap
    }
    Label {
        Layout.fillWidth: true
        horizontalAlignment: Text.AlignHCenter
        wrapMode: Text.Wrap
        opacity: 0.7
        text: root.loadingModel ? qsTr("Loading %1…").arg(root.modelName || qsTr("the model"))
            : root.modelLoaded ? qsTr("%1 runs on this computer; nothing you type leaves it.").arg(root.modelName)
            : qsTr("Pick a model above to start.")
    }
    Label {
        Layout.fillWidth: true
        horizontalAlignment: Text.AlignHCenter
        wrapMode: Text.Wrap
        opacity: 0.5
        font.pointSize: Math.max(1, fm.font.pointSize * 0.85)
        text: qsTr("Enter sends · Shift+Enter new line · Esc stops · Ctrl+N new chat · Ctrl+F search")
    }
}
