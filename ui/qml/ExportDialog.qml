// Export the conversation on screen: a path to type (prefilled with the
// title in the documents folder; ~ is the home folder), Enter or Save
// writes it, Browse… opens the file dialog to pick a place instead. A
// failure is said here, in the writer's words, and the dialog stays open.
import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts

Dialog {
    id: root
    objectName: "exportDialog"

    required property var controller
    property string format: "markdown"  // or "json"
    property string error: ""

    FontMetrics { id: fm }
    title: format === "json" ? qsTr("Export conversation as JSON") : qsTr("Export conversation as Markdown")
    modal: true
    anchors.centerIn: Overlay.overlay
    width: Math.min(Math.round(fm.height * 34), (parent ? parent.width : 800) * 0.95)

    // Opens with the suggested file for `fmt`.
    function ask(fmt) {
        format = fmt
        error = ""
        const url = controller.suggestedExportUrl(fmt)
        pathField.text = decodeURIComponent(url.replace(/^file:\/\//, ""))
        open()
    }
    function save() {
        const path = pathField.text.trim()
        if (path.length === 0) {
            error = qsTr("Type where to save the file.")
            return
        }
        const ok = format === "json" ? controller.exportJson(path) : controller.exportMarkdown(path)
        if (ok) {
            close()
        } else {
            error = controller.lastError
            controller.clearError()
        }
    }

    onOpened: {
        pathField.forceActiveFocus()
        // The name selected, ready to be typed over; the folder kept.
        const slash = pathField.text.lastIndexOf("/")
        const dot = pathField.text.lastIndexOf(".")
        pathField.select(slash + 1, dot > slash ? dot : pathField.text.length)
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: Math.round(fm.height * 0.5)
        RowLayout {
            Layout.fillWidth: true
            TextField {
                id: pathField
                objectName: "exportPath"
                Layout.fillWidth: true
                selectByMouse: true
                Accessible.name: qsTr("File to save")
                onTextEdited: root.error = ""
                onAccepted: root.save()
            }
            Button {
                text: qsTr("Browse…")
                onClicked: browser.open()
            }
        }
        Label {
            objectName: "exportError"
            visible: root.error.length > 0
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            color: Theme.danger
            text: root.error
        }
        RowLayout {
            Layout.fillWidth: true
            Item { Layout.fillWidth: true }
            Button {
                text: qsTr("Cancel")
                onClicked: root.close()
            }
            Button {
                objectName: "exportSave"
                text: qsTr("Save")
                highlighted: true
                onClicked: root.save()
            }
        }
    }

    FileDialog {
        id: browser
        title: root.title
        fileMode: FileDialog.SaveFile
        acceptLabel: qsTr("Choose")
        defaultSuffix: root.format === "json" ? "json" : "md"
        nameFilters: root.format === "json" ? [qsTr("JSON files (*.json)")] : [qsTr("Markdown files (*.md)")]
        onAccepted: pathField.text = decodeURIComponent(String(selectedFile).replace(/^file:\/\//, ""))
    }
}
