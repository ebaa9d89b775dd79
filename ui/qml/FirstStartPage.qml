// What a new user sees while no model is installed: what a model is, how to
// get the default one (the model library), how to open a .gguf already on
// this computer (typed path or file dialog), and where models live.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtCore

Page {
    id: root

    required property var modelList
    // libraryActions (LibraryActions): checks and registers a chosen file; null hides the chooser.
    property var actions: null

    // "Open the model library": the window shows LibraryPage.
    signal libraryRequested()
    // A .gguf was chosen and registered: the window loads it.
    signal modelChosen(string path)

    // The models folder: the model list's own when it says, else the XDG cache default.
    readonly property string modelsDir: modelList && modelList.cacheDir !== undefined && String(modelList.cacheDir).length > 0
        ? String(modelList.cacheDir)
        : String(StandardPaths.writableLocation(StandardPaths.GenericCacheLocation)).replace(/^file:\/\//, "")
          + "/engram-desktop/models"

    FontMetrics { id: fm }

    background: Rectangle { color: root.palette.base }

    ScrollView {
        anchors.fill: parent
        contentWidth: availableWidth

        ColumnLayout {
            width: Math.min(parent.width - 4 * fm.height, fm.averageCharacterWidth * 80)
            x: Math.round((parent.width - width) / 2)
            spacing: Math.round(fm.height * 0.8)

            Item { Layout.preferredHeight: fm.height * 2 }

            Label {
                objectName: "firstStartTitle"
                Layout.fillWidth: true
                text: qsTr("Welcome to Engram Desktop")
                font.pointSize: fm.font.pointSize * 2
                wrapMode: Text.Wrap
            }
            Label {
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                text: qsTr("Engram runs a language model on this computer: your conversations never leave it. "
                           + "To start chatting you need a model file (GGUF), and none is installed yet.")
            }

            Label { text: qsTr("Get the default model"); font.bold: true; font.pointSize: fm.font.pointSize * 1.2 }
            Label {
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                text: qsTr("The model library downloads SmolLM2-135M-Instruct (about 94 MiB), a small, fast model "
                           + "that is good for trying things out, in one click, and many larger ones:")
            }
            Button {
                objectName: "openLibraryButton"
                text: qsTr("Open the model library")
                highlighted: true
                onClicked: root.libraryRequested()
            }

            Label { text: qsTr("Or use a model you already have"); font.bold: true; font.pointSize: fm.font.pointSize * 1.2 }
            Label {
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                text: qsTr("Choose a .gguf file on this computer (it is used where it is; nothing is copied), "
                           + "or copy one into the models folder below. Models of Ollama, LM Studio, GPT4All, Jan "
                           + "and the Hugging Face cache are found by themselves.")
            }
            ModelFileChooser {
                objectName: "firstStartChooser"
                Layout.fillWidth: true
                visible: root.actions !== null
                actions: root.actions
                copy: false
                onChosen: path => root.modelChosen(path)
            }
            CopyableLine { objectName: "modelsDirLine"; Layout.fillWidth: true; text: root.modelsDir }

            RowLayout {
                spacing: fm.height * 0.5
                OpenFolderButton {
                    Layout.alignment: Qt.AlignTop
                    Layout.maximumWidth: Math.round(fm.averageCharacterWidth * 60)
                    actions: root.actions
                    folder: root.modelsDir
                }
                Button {
                    Layout.alignment: Qt.AlignTop
                    text: qsTr("Check again")
                    highlighted: true
                    visible: typeof root.modelList.refresh === "function"
                    onClicked: root.modelList.refresh()
                }
            }

        }
    }
}
