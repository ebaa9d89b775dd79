// "Choose a .gguf file…": a path to type (or paste; "~" is the home folder,
// hidden folders are fine) with Browse… for the file dialog, checked by the
// GGUF reader before anything is registered — its sentence shows under the
// field. `actions` is libraryActions (LibraryActions); `copy` copies the file
// into the models folder instead of using it where it is. On success the
// file is registered and chosen(path) says where it is.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtQuick.Dialogs

ColumnLayout {
    id: root

    property var actions: null
    property bool copy: false
    property string buttonText: qsTr("Choose a .gguf file…")
    // Open: the path row shows (the button only reveals it).
    property bool expanded: false
    // The last check's sentence; empty when the path is fine or not checked yet.
    property string problem: ""

    signal chosen(string path)

    function accept() {
        if (!root.actions)
            return
        root.problem = root.actions.checkModelFile(pathField.text)
        if (root.problem.length > 0)
            return
        if (!root.actions.importModel(pathField.text, root.copy)) {
            root.problem = root.actions.importError
            return
        }
        const path = root.actions.lastImported()  // the copy, when copied
        pathField.text = ""
        root.expanded = false
        root.chosen(path)
    }

    FontMetrics { id: fm }
    spacing: Math.round(fm.height * 0.3)

    Button {
        objectName: "chooseFileButton"
        text: root.buttonText
        enabled: root.actions !== null
        onClicked: {
            root.expanded = true
            pathField.forceActiveFocus()
        }
        ToolTip.visible: hovered && !enabled
        ToolTip.text: qsTr("The model library is not available.")
    }

    RowLayout {
        visible: root.expanded
        Layout.fillWidth: true
        spacing: Math.round(fm.height * 0.4)
        TextField {
            id: pathField
            objectName: "modelPathField"
            Layout.fillWidth: true
            selectByMouse: true
            placeholderText: qsTr("Path of a .gguf file, e.g. ~/models/model.gguf")
            onTextChanged: root.problem = ""
            onAccepted: root.accept()
            Accessible.name: qsTr("Path of a .gguf file")
        }
        Button {
            objectName: "browseButton"
            text: qsTr("Browse…")
            onClicked: fileDialog.open()
        }
        Button {
            objectName: "openPathButton"
            text: root.copy ? qsTr("Import") : qsTr("Open")
            highlighted: true
            enabled: pathField.text.trim().length > 0
            onClicked: root.accept()
            ToolTip.visible: hovered && !enabled
            ToolTip.text: qsTr("Type a path first, or choose a file with Browse…")
        }
    }
    Label {
        objectName: "modelPathProblem"
        visible: root.expanded && root.problem.length > 0
        Layout.fillWidth: true
        wrapMode: Text.Wrap
        text: root.problem
        color: "#c0392b"
    }

    FileDialog {
        id: fileDialog
        title: qsTr("Choose a GGUF model")
        fileMode: FileDialog.OpenFile
        nameFilters: [qsTr("GGUF models (*.gguf)"), qsTr("All files (*)")]
        // The choice lands in the field, checked like a typed one.
        onAccepted: {
            pathField.text = root.actions ? root.actions.expandPath(String(selectedFile)) : String(selectedFile)
            root.accept()
        }
    }
}
