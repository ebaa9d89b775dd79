// A download in progress: bar, "1.1 GiB / 4.1 GiB · 33 MiB/s · 1 min 20 s left",
// and pause/resume/cancel buttons. The owner acts on the signals.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

RowLayout {
    id: root

    property double progress: 0
    property string progressText: ""
    property bool paused: false

    signal pauseRequested()
    signal resumeRequested()
    signal cancelRequested()

    FontMetrics { id: fm }
    spacing: Math.round(fm.height * 0.4)

    ColumnLayout {
        Layout.fillWidth: true
        spacing: 2
        ProgressBar {
            objectName: "downloadBar"
            Layout.fillWidth: true
            from: 0
            to: 1
            value: root.progress
            indeterminate: !root.paused && root.progress <= 0
        }
        Label {
            objectName: "progressText"
            Layout.fillWidth: true
            text: root.progressText
            elide: Text.ElideRight
            opacity: 0.8
        }
    }
    Button {
        objectName: "pauseButton"
        text: root.paused ? qsTr("Resume") : qsTr("Pause")
        onClicked: root.paused ? root.resumeRequested() : root.pauseRequested()
    }
    Button {
        objectName: "cancelButton"
        text: qsTr("Cancel")
        onClicked: root.cancelRequested()
    }
}
