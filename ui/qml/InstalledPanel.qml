// The installed models (the registry: catalog downloads, Hugging Face
// downloads, imports, files found in the models folder, and the models other
// programs keep — Hugging Face cache, LM Studio, GPT4All, Jan, Ollama, the
// user's folders — used where they are): size, source,
// added and last-used dates, open the containing folder, use, delete.
// `actions` is libraryActions (LibraryActions): actions.installed lists them,
// actions.removeModel(id, deleteFile) removes one (actions.removeError says
// why it could not). A copy in the models folder is deleted with its
// file; for a file used where it is, the user chooses between deleting the
// file and only forgetting it. Above them, downloads from the Hugging Face
// search that are not finished (running, paused, or left by an earlier run)
// with Pause/Resume and Cancel, so that no .part is forgotten on disk.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    id: root

    property var actions: null
    readonly property var models: actions && actions.installed ? actions.installed : []

    signal useRequested(string path)

    FontMetrics { id: fm }
    spacing: Math.round(fm.height * 0.4)

    // Hugging Face downloads in progress or paused ("repo/file" -> state);
    // the catalog's own rows show theirs on the catalog tab.
    readonly property var unfinished: {
        const out = []
        const all = actions && actions.downloads ? actions.downloads : {}
        for (const key in all) {
            const st = all[key]
            if (!st.downloading) continue
            const parts = key.split("/")
            out.push({ key: key, repo: parts[0] + "/" + parts[1], file: parts.slice(2).join("/"), st: st })
        }
        return out
    }

    Label {
        visible: root.unfinished.length > 0
        text: qsTr("Unfinished downloads")
        font.bold: true
    }
    // In a Column, not straight in the layout: the rows come and go with every
    // progress report, and Qt 6.4's layouts could still hold a deleted one
    // (a crash seen when the tab switched right after a download finished).
    Column {
        Layout.fillWidth: true
        spacing: root.spacing
        Repeater {
            model: root.unfinished
            Frame {
                id: dl
                required property var modelData
                objectName: "unfinished_" + modelData.file
                width: parent ? parent.width : 0
                RowLayout {
                    anchors.left: parent.left
                    anchors.right: parent.right
                    ColumnLayout {
                        Layout.fillWidth: true
                        spacing: 0
                        Label {
                            Layout.fillWidth: true
                            text: dl.modelData.file
                            font.bold: true
                            elide: Text.ElideMiddle
                        }
                        Label {
                            objectName: "unfinishedProgress"
                            Layout.fillWidth: true
                            elide: Text.ElideRight
                            opacity: 0.7
                            text: qsTr("%1 at %2 · %3").arg(dl.modelData.repo).arg(dl.modelData.st.revision || "main")
                                                      .arg(dl.modelData.st.progressText || "")
                        }
                        ProgressBar {
                            Layout.fillWidth: true
                            value: dl.modelData.st.progress || 0
                        }
                    }
                    Button {
                        objectName: "unfinishedPauseButton"
                        text: dl.modelData.st.paused ? qsTr("Resume") : qsTr("Pause")
                        onClicked: dl.modelData.st.paused ? root.actions.resumeFile(dl.modelData.repo, dl.modelData.file)
                                                          : root.actions.pauseFile(dl.modelData.repo, dl.modelData.file)
                    }
                    Button {
                        objectName: "unfinishedCancelButton"
                        text: qsTr("Cancel")
                        onClicked: root.actions.cancelFile(dl.modelData.repo, dl.modelData.file)
                    }
                }
            }
        }
    }

    // The user's own folders, searched besides the other programs' places.
    RowLayout {
        Layout.fillWidth: true
        Label {
            objectName: "userFoldersLabel"
            Layout.fillWidth: true
            elide: Text.ElideMiddle
            opacity: 0.7
            text: root.actions && root.actions.userFolders.length > 0
                  ? qsTr("Also looking in: %1").arg(root.actions.userFolders.join(", "))
                  : qsTr("Models of Ollama, LM Studio, GPT4All, Jan and the Hugging Face cache are listed where they are.")
        }
        TextField {
            id: folderField
            objectName: "folderField"
            Layout.preferredWidth: Math.round(fm.averageCharacterWidth * 28)
            placeholderText: qsTr("Another folder with .gguf files")
            onAccepted: addFolderButton.clicked()
        }
        Button {
            id: addFolderButton
            objectName: "addFolderButton"
            text: qsTr("Add folder")
            enabled: folderField.text.length > 0
            onClicked: if (root.actions.addFolder(folderField.text)) folderField.text = ""
        }
        Button {
            objectName: "rescanButton"
            text: qsTr("Rescan")
            onClicked: root.actions.refreshInstalled()
        }
    }
    ErrorBanner {
        objectName: "folderError"
        Layout.fillWidth: true
        message: root.actions && root.actions.folderError ? root.actions.folderError : ""
    }

    ErrorBanner {
        id: removeError
        objectName: "removeError"
        Layout.fillWidth: true
        message: root.actions && root.actions.removeError ? root.actions.removeError : ""
    }

    ListView {
        id: list
        objectName: "installedList"
        Layout.fillWidth: true
        Layout.fillHeight: true
        clip: true
        spacing: Math.round(fm.height * 0.3)
        model: root.models
        ScrollBar.vertical: ScrollBar {}

        delegate: Frame {
            id: row
            required property var modelData
            required property int index
            objectName: "installed_" + modelData.name
            width: ListView.view.width
            // Open folder started no file manager: the folder's path shows, to copy.
            property bool folderFailed: false

            ColumnLayout {
                anchors.left: parent.left
                anchors.right: parent.right
                RowLayout {
                    Layout.fillWidth: true
                    Label {
                        Layout.fillWidth: true
                        text: row.modelData.name
                        font.bold: true
                        elide: Text.ElideMiddle
                    }
                    Label {
                        objectName: "inUseBadge"
                        // Empty rather than hidden (see the Loader below).
                        text: row.modelData.inUse === true ? qsTr("In use") : ""
                        color: "#2e9d5b"
                        font.bold: true
                    }
                    Label { text: row.modelData.sizeText; opacity: 0.7 }
                    ToolButton {
                        objectName: "openFolderButton"
                        text: qsTr("Open folder")
                        onClicked: {
                            const folder = row.modelData.path.substring(0, row.modelData.path.lastIndexOf("/"))
                            row.folderFailed = !root.actions.openFolder(folder)
                        }
                    }
                    Button {
                        objectName: "useButton"
                        text: row.modelData.inUse === true ? qsTr("In use") : qsTr("Use")
                        enabled: row.modelData.exists === true && row.modelData.inUse !== true
                        onClicked: root.useRequested(row.modelData.path)
                        ToolTip.visible: hovered && !enabled
                        ToolTip.text: row.modelData.inUse === true ? qsTr("The chat is using this model.")
                                                                   : qsTr("The file is missing.")
                    }
                    Button {
                        objectName: "deleteButton"
                        // A file opened by path is not in the library: nothing to forget.
                        visible: row.modelData.opened !== true
                        // Another program's file is only ever forgotten.
                        text: row.modelData.otherApp === true ? qsTr("Forget") : qsTr("Delete")
                        // The model in use is refused with a sentence, not a dialog.
                        onClicked: row.modelData.inUse === true ? root.actions.removeModel(row.modelData.id, false)
                                                                : confirm.ask(row.modelData)
                    }
                }
                Label {
                    objectName: "installedSource"
                    Layout.fillWidth: true
                    wrapMode: Text.Wrap
                    opacity: 0.7
                    text: {
                        const m = row.modelData
                        if (m.opened === true)
                            return qsTr("opened by path, not in the library · used where it is")
                        const source = m.otherApp === true ? qsTr("%1, used where it is").arg(m.sourceLabel)
                                : m.source === "huggingface"
                                ? qsTr("Hugging Face %1").arg(m.repo)
                                : m.source === "folder" ? qsTr("found in the models folder")
                                : (m.inModelsDir ? qsTr("imported (copy)") : qsTr("imported (used where it is)"))
                        let t = qsTr("%1 · added %2").arg(source).arg(m.addedText)
                        t += " · " + (m.lastUsedText.length > 0 ? qsTr("last used %1").arg(m.lastUsedText)
                                                               : qsTr("never used"))
                        if (m.exists !== true)
                            t += " · " + qsTr("file missing")
                        return t
                    }
                }
                Label {
                    Layout.fillWidth: true
                    text: row.modelData.path
                    elide: Text.ElideMiddle
                    opacity: 0.5
                }
                // Made only when Open folder opened nothing: no hidden items in the
                // row's layout (Qt 6.4's layouts keep hidden items that a model reset deletes).
                Loader {
                    Layout.fillWidth: true
                    active: row.folderFailed
                    visible: active
                    sourceComponent: ColumnLayout {
                        Label {
                            objectName: "openFolderFailed"
                            Layout.fillWidth: true
                            wrapMode: Text.Wrap
                            opacity: 0.8
                            text: qsTr("No file manager could be opened here. The file is:")
                        }
                        CopyableLine {
                            objectName: "openFolderPath"
                            Layout.fillWidth: true
                            text: row.modelData.path
                        }
                    }
                }
            }
        }

        Label {
            anchors.centerIn: parent
            width: parent.width
            horizontalAlignment: Text.AlignHCenter
            wrapMode: Text.Wrap
            visible: list.count === 0
            opacity: 0.6
            text: qsTr("No models installed yet. Download one from the recommended list or Hugging Face, or import a .gguf file.")
        }
    }

    Dialog {
        id: confirm
        objectName: "confirmRemoveDialog"
        property var target: null
        readonly property bool copy: target !== null && target.inModelsDir === true
        // Another program's file is only forgotten: deleting it would break that program.
        readonly property bool foreign: target !== null && target.otherApp === true

        function ask(m) {
            target = m
            open()
        }
        function remove(deleteFile) {
            root.actions.removeModel(target.id, deleteFile)
            close()
        }

        anchors.centerIn: parent
        modal: true
        title: qsTr("Delete model?")

        width: Math.round(fm.averageCharacterWidth * 64)
        contentItem: Label {
            wrapMode: Text.Wrap
            text: confirm.target === null ? ""
                  : confirm.foreign ? qsTr("“%1” belongs to %2. Engram Desktop will forget it; the file stays for %2.")
                                   .arg(confirm.target.name).arg(confirm.target.sourceLabel)
                  : confirm.copy ? qsTr("“%1” (%2) will be deleted from disk. This cannot be undone.")
                                   .arg(confirm.target.name).arg(confirm.target.sizeText)
                  : qsTr("“%1” is used where it is (%2). Delete the file from disk, or only remove it from the library?")
                                   .arg(confirm.target.name).arg(confirm.target.path)
        }

        // Plain buttons (a DialogButtonBox with a hidden button loops on its width in Qt 6.4).
        footer: RowLayout {
            spacing: Math.round(fm.height * 0.5)
            Item { Layout.fillWidth: true }
            Button {
                text: qsTr("Cancel")
                onClicked: confirm.close()
            }
            Button {
                objectName: "forgetButton"
                visible: !confirm.copy
                text: qsTr("Only forget")
                onClicked: confirm.remove(false)
            }
            Button {
                objectName: "confirmDeleteButton"
                visible: !confirm.foreign
                text: qsTr("Delete file")
                onClicked: confirm.remove(true)
            }
            Item { Layout.preferredWidth: Math.round(fm.height * 0.5) }
        }
    }
}
