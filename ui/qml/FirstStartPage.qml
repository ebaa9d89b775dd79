// What a new user sees while no model is installed: what a model is, how to
// get the default one, and where models live. The model library plugs in here.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtCore

Page {
    id: root

    required property var modelList

    // "Open the model library": the window shows LibraryPage.
    signal libraryRequested()

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
            Label {
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                text: qsTr("Or, from the Engram Desktop source folder, run this command:")
            }
            CopyableLine { Layout.fillWidth: true; text: "scripts/fetch-model.sh" }

            Label { text: qsTr("Or use a model you already have"); font.bold: true; font.pointSize: fm.font.pointSize * 1.2 }
            Label {
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                text: qsTr("Drop a .gguf file of the Llama (SmolLM2) or Qwen 2/3 families on this window, import it "
                           + "in the model library, or copy it into the models folder:")
            }
            CopyableLine { objectName: "modelsDirLine"; Layout.fillWidth: true; text: root.modelsDir }

            RowLayout {
                spacing: fm.height * 0.5
                Button {
                    text: qsTr("Open models folder")
                    onClicked: Qt.openUrlExternally("file://" + root.modelsDir)
                }
                Button {
                    text: qsTr("Check again")
                    highlighted: true
                    visible: typeof root.modelList.refresh === "function"
                    onClicked: root.modelList.refresh()
                }
            }

        }
    }
}
