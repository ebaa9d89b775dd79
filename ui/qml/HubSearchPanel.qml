// Search Hugging Face for GGUF repositories. Talks to `hub` (set by the page;
// null where the app has no Hugging Face client): hub.search(text) starts a
// search, hub.results holds the answers (a list model or an array of
// {repo, downloads, likes}); hub.busy and hub.error are shown when present;
// where hub.listFiles(repo) exists a result can be opened to list its files.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    id: root

    property var hub: null
    property bool online: true

    readonly property bool available: hub !== null && hub !== undefined && typeof hub.search === "function"
    readonly property bool busy: available && hub.busy === true
    readonly property string error: available && hub.error ? String(hub.error) : ""

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
        Button {
            objectName: "hubSearchButton"
            text: qsTr("Search")
            enabled: field.enabled && field.text.trim().length > 0 && !root.busy
            onClicked: root.search()
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

    ListView {
        id: results
        objectName: "hubResults"
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
