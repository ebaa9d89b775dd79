// One model of the library's catalog: what it is (size, quantisation,
// architecture, parameters, licence), whether it fits this machine, and its
// download (button, progress, pause/resume/cancel, notice, error). Roles come
// from CatalogModel as required properties (the download's from the one
// DownloadCenter behind it); actions go to `catalog`.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Frame {
    id: root
    objectName: "catalogRow_" + modelId

    required property int index
    required property string modelId
    required property string name
    required property string repo
    required property string file
    required property string sizeText
    required property string quantization
    required property string architecture
    required property string parametersText
    required property int contextLength
    required property string license
    required property string memoryText
    required property bool fits
    required property string fitText
    required property bool gated
    required property bool isDefault
    required property bool installed
    required property string path
    required property bool downloading
    required property bool paused
    required property double progress
    required property string progressText
    required property string error
    required property string notice
    required property bool canDownload
    required property string downloadHint

    property var catalog: null

    signal useRequested(string path)

    FontMetrics { id: fm }

    padding: Math.round(fm.height * 0.6)

    ColumnLayout {
        anchors.left: parent.left
        anchors.right: parent.right
        spacing: Math.round(fm.height * 0.3)

        RowLayout {
            Layout.fillWidth: true
            spacing: fm.height * 0.5

            Label {
                objectName: "modelName"
                text: root.name
                font.bold: true
                font.pointSize: fm.font.pointSize * 1.15
                elide: Text.ElideRight
                Layout.fillWidth: true
                Layout.minimumWidth: fm.averageCharacterWidth * 12
            }
            Label {
                visible: root.isDefault
                text: qsTr("recommended to start")
                opacity: 0.7
            }
            FitBadge {
                objectName: "fitBadge"
                fits: root.fits
                text: root.fitText
            }
        }

        // "≈ 1.0 GiB · Q4_K_M · qwen2 · 1.5B parameters · 32768 tokens · apache-2.0"
        Label {
            objectName: "modelFacts"
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            opacity: 0.8
            text: qsTr("%1 · %2 · %3 · %4 parameters · %5 tokens context · licence %6 · needs %7 of memory")
                  .arg(root.sizeText).arg(root.quantization).arg(root.architecture).arg(root.parametersText)
                  .arg(root.contextLength).arg(root.license).arg(root.memoryText)
        }
        Label {
            Layout.fillWidth: true
            text: root.repo + " / " + root.file
            elide: Text.ElideMiddle
            opacity: 0.55
            font.pointSize: fm.font.pointSize * 0.9
        }
        Label {
            visible: root.gated
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            text: qsTr("Gated: accept the licence on the model page and set a Hugging Face token before downloading.")
        }

        RowLayout {
            Layout.fillWidth: true
            spacing: fm.height * 0.5

            DownloadProgress {
                Layout.fillWidth: true
                visible: root.downloading
                progress: root.progress
                progressText: root.progressText
                paused: root.paused
                onPauseRequested: root.catalog.pause(root.index)
                onResumeRequested: root.catalog.resume(root.index)
                onCancelRequested: root.catalog.cancel(root.index)
            }
            Item { Layout.fillWidth: true; visible: !root.downloading }

            Label {
                objectName: "installedLabel"
                visible: root.installed
                text: qsTr("✓ installed")
                color: "#2e9d5b"
            }
            ToolButton {
                objectName: "openFolderButton"
                visible: root.installed && root.path.length > 0
                text: qsTr("Open folder")
                onClicked: Qt.openUrlExternally("file://" + root.path.substring(0, root.path.lastIndexOf("/")))
                ToolTip.visible: hovered
                ToolTip.delay: 600
                ToolTip.text: qsTr("Open the folder that holds %1").arg(root.file)
            }
            Button {
                objectName: "useButton"
                visible: root.installed
                text: qsTr("Use")
                onClicked: root.useRequested(root.path)
            }
            Button {
                objectName: "downloadButton"
                visible: !root.installed && !root.downloading
                enabled: root.canDownload
                highlighted: root.isDefault
                // Offline the button says why it cannot be pressed.
                text: root.downloadHint.length > 0 ? root.downloadHint : qsTr("Download")
                onClicked: root.catalog.download(root.index)
                ToolTip.visible: hovered
                ToolTip.delay: 600
                ToolTip.text: qsTr("Download %1 from Hugging Face").arg(root.file)
            }
        }

        Label {
            objectName: "rowNotice"
            Layout.fillWidth: true
            visible: root.downloading && root.notice.length > 0
            wrapMode: Text.Wrap
            text: root.notice
            opacity: 0.8
        }

        RowLayout {
            Layout.fillWidth: true
            visible: root.error.length > 0
            Label {
                objectName: "rowError"
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                text: root.error
                color: "#c0392b"
            }
            ToolButton {
                text: "✕"
                Accessible.name: qsTr("Dismiss")
                onClicked: root.catalog.clearError(root.index)
            }
        }
    }
}
