// The model library: the bundled catalog of curated models (one row each:
// size, quantisation, architecture, parameters, licence, memory, whether it
// fits, download with progress) above a Hugging Face search. Objects come in
// as context properties set by the Application: `library` (CatalogModel) and,
// optionally, `hub` (HubSearchModel; the page works without it) and
// `libraryActions` (LibraryActions: import a local .gguf, the installed
// models, the token, search downloads; the import row hides without it).
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Page {
    id: root
    objectName: "libraryPage"

    // Context properties are looked up with typeof so that a missing one is
    // "not there" rather than a ReferenceError.
    property var catalog: typeof library !== "undefined" ? library : null
    property var hubClient: typeof hub !== "undefined" ? hub : null
    property var actions: typeof libraryActions !== "undefined" ? libraryActions : null

    // An installed model was chosen: the window loads it (chat.loadModel).
    signal useRequested(string path)
    // Back to the chat.
    signal closeRequested()
    // A .gguf was chosen (typed or browsed to) and registered: the Installed tab shows it.
    function imported(path) { tabs.currentIndex = 2 }

    FontMetrics { id: fm }

    background: Rectangle { color: root.palette.base }

    ColumnLayout {
        anchors.fill: parent
        anchors.margins: Math.round(fm.height * 0.8)
        spacing: Math.round(fm.height * 0.6)

        RowLayout {
            Layout.fillWidth: true
            spacing: fm.height * 0.6

            Label {
                Layout.fillWidth: true
                text: qsTr("Model library")
                font.pointSize: fm.font.pointSize * 1.6
                elide: Text.ElideRight
            }
            Label {
                objectName: "freeRamLabel"
                visible: text.length > 0
                text: root.catalog && root.catalog.freeRamText ? root.catalog.freeRamText : ""
                opacity: 0.7
            }
            // What an answer said (a probe at start, a download, a search), "checking" before one.
            Label {
                objectName: "onlineLabel"
                readonly property bool known: root.catalog !== null && root.catalog.onlineKnown === true
                text: !known ? qsTr("◌ checking connection…")
                             : root.catalog.online ? qsTr("● online") : qsTr("○ offline")
                color: known && root.catalog.online ? "#2e9d5b" : root.palette.mid
                ToolTip.visible: onlineArea.containsMouse
                ToolTip.text: !known ? qsTr("Not known yet whether Hugging Face answers.")
                              : !root.catalog.online
                              ? qsTr("No connection: installed models and this catalog still work; downloads wait.")
                              : qsTr("Hugging Face answered. Downloads come from there.")
                MouseArea { id: onlineArea; anchors.fill: parent; hoverEnabled: true }
            }
            ToolButton {
                objectName: "libraryCloseButton"
                text: qsTr("Back to chat")
                onClicked: root.closeRequested()
            }
            ToolButton {
                text: qsTr("Refresh")
                visible: root.catalog !== null && typeof root.catalog.refreshFreeRam === "function"
                onClicked: root.catalog.refreshFreeRam()
                ToolTip.visible: hovered
                ToolTip.text: qsTr("Measure free memory again")
            }
        }

        // A catalog that could not be read: say so instead of an empty list.
        ErrorBanner {
            Layout.fillWidth: true
            objectName: "catalogError"
            message: root.catalog ? root.catalog.error : qsTr("The model catalog is not available.")
        }

        // A .gguf already on this computer: a path typed or browsed to, validated, then listed.
        RowLayout {
            Layout.fillWidth: true
            visible: root.actions !== null
            spacing: fm.height * 0.5
            ModelFileChooser {
                id: chooser
                objectName: "libraryFileChooser"
                Layout.fillWidth: true
                Layout.alignment: Qt.AlignTop
                actions: root.actions
                copy: copyBox.checked
                onChosen: path => root.imported(path)
            }
            CheckBox {
                id: copyBox
                objectName: "importCopyBox"
                Layout.alignment: Qt.AlignTop
                checked: true
                text: qsTr("Copy into the models folder")
                ToolTip.visible: hovered
                ToolTip.delay: 600
                ToolTip.text: qsTr("Unchecked: the file is used where it is")
            }
            OpenFolderButton {
                Layout.alignment: Qt.AlignTop
                Layout.maximumWidth: Math.round(fm.averageCharacterWidth * 50)
                actions: root.actions
                folder: root.actions ? root.actions.modelsDir : ""
            }
        }
        ErrorBanner {
            Layout.fillWidth: true
            objectName: "importError"
            message: root.actions ? root.actions.importError : ""
        }

        RowLayout {
            objectName: "tokenRow"
            Layout.fillWidth: true
            visible: root.actions !== null
            Label { text: qsTr("Hugging Face token for gated models") }
            TextField {
                id: tokenField
                objectName: "tokenField"
                Layout.fillWidth: true
                echoMode: TextInput.Password
                placeholderText: root.actions && root.actions.tokenSet ? qsTr("A token is set; type a new one to replace it")
                                                                       : qsTr("hf_…")
                onAccepted: saveToken.clicked()
            }
            Button {
                id: saveToken
                objectName: "tokenSaveButton"
                text: qsTr("Save")
                enabled: tokenField.text.trim().length > 0
                onClicked: {
                    root.actions.setToken(tokenField.text)
                    tokenField.text = ""
                }
            }
            Button {
                objectName: "tokenClearButton"
                text: qsTr("Remove")
                visible: root.actions && root.actions.tokenSet && !root.actions.tokenFromEnvironment
                onClicked: root.actions.setToken("")
            }
            Label {
                id: tokenStatus
                objectName: "tokenStatus"
                readonly property string error: root.actions && root.actions.tokenError ? root.actions.tokenError : ""
                text: error.length > 0 ? error
                      : !root.actions ? ""
                      : root.actions.tokenFromEnvironment ? qsTr("Token set (HF_TOKEN)")
                      : root.actions.tokenSet ? qsTr("Token set") : qsTr("No token")
                color: error.length > 0 ? "#c0392b" : palette.windowText
                opacity: error.length > 0 ? 1 : 0.7
            }
        }

        TabBar {
            id: tabs
            Layout.fillWidth: true
            TabButton { text: qsTr("Recommended") }
            TabButton { text: qsTr("Search Hugging Face"); objectName: "hubTab" }
            TabButton {
                objectName: "installedTab"
                text: root.actions ? qsTr("Installed (%1)").arg(root.actions.installed.length) : qsTr("Installed")
            }
        }

        StackLayout {
            Layout.fillWidth: true
            Layout.fillHeight: true
            currentIndex: tabs.currentIndex

            ListView {
                id: list
                objectName: "libraryList"
                clip: true
                spacing: Math.round(fm.height * 0.4)
                model: root.catalog
                ScrollBar.vertical: ScrollBar {}
                delegate: CatalogDelegate {
                    width: ListView.view.width - ListView.view.ScrollBar.vertical.width
                    catalog: ListView.view.model
                    onUseRequested: path => root.useRequested(path)
                }
            }

            HubSearchPanel {
                hub: root.hubClient
                actions: root.actions
                online: !root.catalog || root.catalog.online
            }

            InstalledPanel {
                actions: root.actions
                onUseRequested: path => root.useRequested(path)
            }
        }
    }
}
