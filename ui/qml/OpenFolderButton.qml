// "Open models folder" (or any folder): asks the desktop to show it; where no
// file manager opens (QDesktopServices::openUrl fails: none installed, a
// sandbox, a headless session) the path shows under the button, with Copy.
// `actions` is libraryActions (its openFolder); without it, Qt.openUrlExternally.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    id: root

    property var actions: null
    property string folder: ""
    property string text: qsTr("Open models folder")
    // Set when the last try opened nothing: the path is shown instead.
    property bool failed: false

    spacing: 2

    Button {
        objectName: "openFolderButton"
        text: root.text
        enabled: root.folder.length > 0
        onClicked: {
            const url = "file://" + root.folder
            root.failed = !(root.actions && typeof root.actions.openFolder === "function"
                            ? root.actions.openFolder(root.folder) : Qt.openUrlExternally(url))
        }
        ToolTip.visible: hovered
        ToolTip.delay: 600
        ToolTip.text: root.folder
    }
    Label {
        objectName: "openFolderFailed"
        visible: root.failed
        Layout.fillWidth: true
        wrapMode: Text.Wrap
        opacity: 0.8
        text: qsTr("No file manager could be opened here. The folder is:")
    }
    CopyableLine {
        objectName: "openFolderPath"
        visible: root.failed
        Layout.fillWidth: true
        Layout.minimumWidth: Math.round(fm.averageCharacterWidth * 40)
        text: root.folder
    }
    FontMetrics { id: fm }
}
