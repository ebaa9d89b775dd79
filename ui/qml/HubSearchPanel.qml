// Search Hugging Face for GGUF repositories. Talks to `hub` (set by the page;
// null where the app has no Hugging Face client): hub.search(text) starts a
// search, hub.results holds the answers (a list model or an array of
// {repo, downloads, likes}); hub.busy and hub.error are shown when present;
// where hub.listFiles(repo, revision) exists a result can be opened to list
// its files; the revision (branch, tag or commit, default main) is typed in
// the file list's header and used for the listing and the downloads.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    id: root

    property var hub: null
    // libraryActions: downloadFile/pauseFile/resumeFile/cancelFile, the per-file
    // state (`downloads`) and whether a file is installed (installedPath).
    property var actions: null
    property bool online: true

    readonly property bool available: hub !== null && hub !== undefined && typeof hub.search === "function"
    readonly property bool busy: available && hub.busy === true
    readonly property string error: available && hub.error ? String(hub.error) : ""
    // The repository whose files are listed ("" while the search results show).
    readonly property string filesRepo: available && hub.filesRepo ? String(hub.filesRepo) : ""
    readonly property string filesRevision: available && hub.filesRevision ? String(hub.filesRevision) : "main"

    FontMetrics { id: fm }
    spacing: Math.round(fm.height * 0.4)

    function search() {
        const text = field.text.trim()
        if (root.available && root.online && text.length > 0)
            root.hub.search(text)
    }

    RowLayout {
        Layout.fillWidth: true
        TextField {
            id: field
            objectName: "hubSearchField"
            Layout.fillWidth: true
            enabled: root.available && root.online
            placeholderText: !root.available ? qsTr("Hugging Face search is not available in this build")
                             : !root.online ? qsTr("Searching Hugging Face needs a connection")
                             : qsTr("Search Hugging Face for GGUF models, e.g. \"qwen2.5 instruct\"")
            selectByMouse: true
            onAccepted: root.search()
        }
        // A disabled button gets no hover: the item around it listens, to say why.
        Item {
            implicitWidth: searchButton.implicitWidth
            implicitHeight: searchButton.implicitHeight
            HoverHandler { id: searchHover }
            Button {
                id: searchButton
                objectName: "hubSearchButton"
                anchors.fill: parent
                text: qsTr("Search")
                enabled: field.enabled && field.text.trim().length > 0 && !root.busy
                onClicked: root.search()
                ToolTip.visible: searchHover.hovered && !enabled
                ToolTip.text: !root.available ? qsTr("Hugging Face search is not available in this build.")
                              : !root.online ? qsTr("Offline: searching Hugging Face needs a connection.")
                              : root.busy ? qsTr("A search is running.")
                              : qsTr("Type what to search for first.")
            }
        }
        BusyIndicator {
            visible: root.busy
            running: visible
            Layout.preferredHeight: field.implicitHeight
            Layout.preferredWidth: field.implicitHeight
        }
    }

    Label {
        objectName: "hubError"
        Layout.fillWidth: true
        visible: text.length > 0
        wrapMode: Text.Wrap
        text: root.error
        color: "#c0392b"
    }

    RowLayout {
        Layout.fillWidth: true
        visible: root.filesRepo.length > 0
        Button {
            objectName: "hubBackButton"
            text: qsTr("Back to results")
            onClicked: root.hub.closeFiles()
        }
        Label {
            Layout.fillWidth: true
            text: root.filesRepo
            font.bold: true
            elide: Text.ElideMiddle
        }
        Label {
            text: qsTr("Revision")
            opacity: 0.7
        }
        TextField {
            id: revisionField
            objectName: "hubRevisionField"
            Layout.preferredWidth: fm.averageCharacterWidth * 18
            text: root.filesRevision
            placeholderText: "main"
            selectByMouse: true
            enabled: root.online && !root.busy
            ToolTip.visible: hovered
            ToolTip.text: qsTr("Branch, tag or commit to list and download the files from")
            function apply() {
                const rev = text.trim().length > 0 ? text.trim() : "main"
                if (root.filesRepo.length > 0) root.hub.listFiles(root.filesRepo, rev)
            }
            onAccepted: apply()
        }
        Button {
            objectName: "hubRevisionButton"
            text: qsTr("Show")
            enabled: revisionField.enabled && revisionField.text.trim() !== root.filesRevision
            onClicked: revisionField.apply()
        }
    }

    ListView {
        id: files
        objectName: "hubFiles"
        visible: root.filesRepo.length > 0
        Layout.fillWidth: true
        Layout.fillHeight: true
        clip: true
        spacing: Math.round(fm.height * 0.3)
        model: root.available && root.hub.files !== undefined && root.hub.files !== null ? root.hub.files : []
        ScrollBar.vertical: ScrollBar {}

        delegate: Frame {
            id: fileRow
            required property var modelData
            required property int index
            objectName: "hubFile_" + modelData.file
            width: ListView.view.width
            readonly property var st: root.actions && root.actions.downloads
                                         ? (root.actions.downloads[modelData.repo + "/" + modelData.file] || {}) : {}
            readonly property bool downloading: st.downloading === true
            readonly property bool paused: st.paused === true
            // From the installed list; read again whenever it changes (`installed`).
            readonly property bool installed: root.actions && typeof root.actions.installedPath === "function"
                                              ? (root.actions.installed,
                                                 root.actions.installedPath(modelData.repo, modelData.file).length > 0)
                                              : false
            readonly property string errorText: st.error ? String(st.error) : ""
            readonly property string noticeText: st.notice ? String(st.notice) : ""

            ColumnLayout {
                anchors.left: parent.left
                anchors.right: parent.right
                RowLayout {
                    Layout.fillWidth: true
                    Label {
                        Layout.fillWidth: true
                        text: fileRow.modelData.file
                        elide: Text.ElideMiddle
                    }
                    Label {
                        text: fileRow.modelData.sizeText || ""
                        opacity: 0.6
                    }
                    Label {
                        objectName: "installedLabel"
                        visible: fileRow.installed && !fileRow.downloading
                        text: qsTr("Installed")
                        color: "#27ae60"
                    }
                    Button {
                        objectName: "fileDownloadButton"
                        visible: !fileRow.downloading && !fileRow.installed
                        enabled: root.actions !== null && root.online
                        text: fileRow.errorText.length > 0 ? qsTr("Retry") : qsTr("Download")
                        ToolTip.visible: hovered && !root.online
                        ToolTip.text: qsTr("Downloading needs a connection")
                        onClicked: root.actions.downloadFile(fileRow.modelData.repo,
                                                             fileRow.modelData.revision || root.filesRevision,
                                                             fileRow.modelData.file,
                                                             fileRow.modelData.sha256 || "",
                                                             Number(fileRow.modelData.sizeBytes || 0))
                    }
                    Button {
                        objectName: "filePauseButton"
                        visible: fileRow.downloading
                        enabled: !fileRow.paused || root.online
                        text: fileRow.paused ? qsTr("Resume") : qsTr("Pause")
                        ToolTip.visible: hovered && fileRow.paused && !root.online
                        ToolTip.text: qsTr("Resuming needs a connection")
                        onClicked: fileRow.paused
                                   ? root.actions.resumeFile(fileRow.modelData.repo, fileRow.modelData.file)
                                   : root.actions.pauseFile(fileRow.modelData.repo, fileRow.modelData.file)
                    }
                    Button {
                        objectName: "fileCancelButton"
                        visible: fileRow.downloading
                        text: qsTr("Cancel")
                        onClicked: root.actions.cancelFile(fileRow.modelData.repo, fileRow.modelData.file)
                    }
                }
                Label {
                    objectName: "fileRevision"
                    Layout.fillWidth: true
                    visible: fileRow.downloading && fileRow.st.revision !== undefined
                             && String(fileRow.st.revision) !== fileRow.modelData.revision
                    text: qsTr("Downloading from revision %1").arg(String(fileRow.st.revision))
                    opacity: 0.6
                }
                ProgressBar {
                    objectName: "fileProgressBar"
                    Layout.fillWidth: true
                    visible: fileRow.downloading
                    from: 0
                    to: 1
                    value: Number(fileRow.st.progress || 0)
                    indeterminate: !fileRow.paused && !(Number(fileRow.st.progress || 0) > 0)
                }
                Label {
                    objectName: "fileProgressText"
                    Layout.fillWidth: true
                    visible: fileRow.downloading
                    text: fileRow.st.progressText ? String(fileRow.st.progressText) : ""
                    opacity: 0.8
                }
                Label {
                    objectName: "fileNotice"
                    Layout.fillWidth: true
                    visible: text.length > 0 && fileRow.downloading
                    wrapMode: Text.Wrap
                    text: fileRow.noticeText
                    opacity: 0.8
                }
                Label {
                    objectName: "fileError"
                    Layout.fillWidth: true
                    visible: text.length > 0
                    wrapMode: Text.Wrap
                    text: fileRow.errorText
                    color: "#c0392b"
                }
            }
        }

        Label {
            anchors.centerIn: parent
            width: parent.width
            horizontalAlignment: Text.AlignHCenter
            wrapMode: Text.Wrap
            visible: files.count === 0 && !root.busy
            opacity: 0.6
            text: qsTr("This repository has no .gguf files.")
        }
    }

    ListView {
        id: results
        objectName: "hubResults"
        visible: root.filesRepo.length === 0
        Layout.fillWidth: true
        Layout.fillHeight: true
        clip: true
        model: root.available && root.hub.results !== undefined && root.hub.results !== null ? root.hub.results : []
        ScrollBar.vertical: ScrollBar {}

        delegate: ItemDelegate {
            id: resultRow
            required property var model
            required property int index
            // A list model exposes roles on `model`, an array its objects as modelData.
            readonly property var entry: typeof model.modelData === "object" && model.modelData !== null
                                         ? model.modelData : model
            readonly property string repoName: entry.repo || entry.id || entry.name || ""
            width: ListView.view.width
            contentItem: RowLayout {
                Label {
                    Layout.fillWidth: true
                    text: resultRow.repoName
                    elide: Text.ElideRight
                }
                Label {
                    visible: resultRow.entry.downloads !== undefined
                    text: qsTr("%1 downloads").arg(Number(resultRow.entry.downloads).toLocaleString(Qt.locale(), "f", 0))
                    opacity: 0.6
                }
                Label {
                    visible: resultRow.entry.likes !== undefined
                    text: "♥ " + resultRow.entry.likes
                    opacity: 0.6
                }
            }
            enabled: root.available && typeof root.hub.listFiles === "function"
            onClicked: root.hub.listFiles(repoName)
        }

        Label {
            anchors.centerIn: parent
            width: parent.width
            horizontalAlignment: Text.AlignHCenter
            wrapMode: Text.Wrap
            visible: results.count === 0 && !root.busy
            opacity: 0.6
            text: root.available ? qsTr("Type a model name and press Enter to search GGUF models on Hugging Face.")
                                 : qsTr("Only the recommended models can be downloaded in this build.")
        }
    }
}
