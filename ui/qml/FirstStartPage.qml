// What a new user sees while no model is installed: what a model is, how to
// get the default one, and where models live. The model library plugs in here.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtCore

Page {
    id: root

    required property var modelList

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
                text: qsTr("From the Engram Desktop source folder, run this command. It downloads "
                           + "SmolLM2-135M-Instruct (about 100 MB), a small, fast model that is good for trying things out:")
            }
            CopyableLine { Layout.fillWidth: true; text: "scripts/fetch-model.sh" }

            Label { text: qsTr("Or use a model you already have"); font.bold: true; font.pointSize: fm.font.pointSize * 1.2 }
            Label {
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                text: qsTr("Copy any supported .gguf model of the Llama (SmolLM2) or Qwen 2/3 families into the models folder:")
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

            Label {
                Layout.fillWidth: true
                Layout.topMargin: fm.height
                wrapMode: Text.Wrap
                opacity: 0.6
                text: qsTr("Coming next: a model library in this window to browse, download and switch models with one click.")
            }
        }
    }
}
