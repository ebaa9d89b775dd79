// "Add remote engine…": an OpenAI-compatible server (vLLM, SGLang,
// llama-server, llama-cpp-python, another Engram Desktop) by its address and
// an optional API key. Connect lists its models before anything is saved;
// "Add and use" keeps the engine (the key in an owner-only file) and chats
// with the chosen model. The engines already added are listed with Remove.
// `remote` is the C++ RemoteModels view-model.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Dialog {
    id: root
    objectName: "remoteEngineDialog"

    required property var remote
    // The reference of the model to use ("remote:<engine>/<model>").
    signal useRequested(string modelRef)

    FontMetrics { id: fm }
    title: qsTr("Remote engines")
    modal: true
    anchors.centerIn: Overlay.overlay
    width: Math.min(Math.round(fm.height * 32), (parent ? parent.width : 800) * 0.95)
    standardButtons: Dialog.Close

    readonly property bool connected: remote.probeModels.length > 0

    function connectOrAdd() {
        if (root.connected) addAndUse()
        else if (urlField.text.trim().length > 0 && !remote.probing) remote.probe(urlField.text, keyField.text)
    }
    function addAndUse() {
        const ref = remote.addProbed(modelChoice.currentText)
        if (ref.length === 0) return
        urlField.text = ""
        keyField.text = ""
        root.useRequested(ref)
        root.close()
    }

    onOpened: {
        remote.clearProbe()
        urlField.forceActiveFocus()
    }
    onClosed: {
        remote.clearProbe()
        keyField.text = ""  // the key stays only where it was saved
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: Math.round(fm.height * 0.5)

        // --- the engines already added --------------------------------------
        Label {
            visible: root.remote.engines.length > 0
            text: qsTr("Added")
            font.bold: true
        }
        Repeater {
            model: root.remote.engines
            delegate: RowLayout {
                required property var modelData
                Layout.fillWidth: true
                Label {
                    Layout.fillWidth: true
                    elide: Text.ElideMiddle
                    text: qsTr("%1 · %n model(s)%2", "", modelData.models.length)
                          .arg(modelData.url).arg(modelData.hasKey ? qsTr(" · API key") : "")
                }
                Button {
                    text: qsTr("Remove")
                    enabled: !modelData.inUse
                    onClicked: root.remote.removeEngine(modelData.id)
                    Accessible.name: qsTr("Remove the engine at %1").arg(modelData.url)
                    ToolTip.visible: hovered && !enabled
                    ToolTip.text: qsTr("A model of this engine is in use")
                }
            }
        }
        Label {
            visible: root.remote.listError.length > 0
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            color: "#c0392b"
            text: root.remote.listError
        }

        // --- add one -----------------------------------------------------------
        Label {
            text: qsTr("Add an engine")
            font.bold: true
            Layout.topMargin: root.remote.engines.length > 0 ? Math.round(fm.height * 0.5) : 0
        }
        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            opacity: 0.8
            text: qsTr("Any server that speaks OpenAI's API: vLLM, SGLang, llama-server, another Engram Desktop. "
                       + "Nothing is sent until you press Connect.")
        }
        TextField {
            id: urlField
            objectName: "remoteUrl"
            Layout.fillWidth: true
            placeholderText: qsTr("Address, e.g. http://gpu-box:8000/v1")
            inputMethodHints: Qt.ImhUrlCharactersOnly | Qt.ImhNoAutoUppercase
            Accessible.name: qsTr("Engine address")
            onTextEdited: if (root.connected || root.remote.probeError) root.remote.clearProbe()
            onAccepted: root.connectOrAdd()
        }
        TextField {
            id: keyField
            objectName: "remoteKey"
            Layout.fillWidth: true
            echoMode: TextInput.Password
            placeholderText: qsTr("API key (optional)")
            Accessible.name: qsTr("API key")
            onTextEdited: if (root.connected) root.remote.clearProbe()
            onAccepted: root.connectOrAdd()
        }
        RowLayout {
            Layout.fillWidth: true
            Button {
                objectName: "remoteConnect"
                text: root.remote.probing ? qsTr("Connecting…") : qsTr("Connect")
                enabled: urlField.text.trim().length > 0 && !root.remote.probing
                onClicked: root.remote.probe(urlField.text, keyField.text)
            }
            BusyIndicator {
                running: root.remote.probing
                visible: running
                implicitHeight: fm.height * 1.6
                implicitWidth: implicitHeight
            }
            Item { Layout.fillWidth: true }
        }
        Label {
            objectName: "remoteProbeError"
            visible: root.remote.probeError.length > 0
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            color: "#c0392b"
            text: root.remote.probeError
        }
        RowLayout {
            visible: root.connected
            Layout.fillWidth: true
            Label { text: qsTr("%n model(s) at %1:", "", root.remote.probeModels.length).arg(root.remote.probeUrl) }
            ComboBox {
                id: modelChoice
                objectName: "remoteModelChoice"
                Layout.fillWidth: true
                model: root.remote.probeModels
                Accessible.name: qsTr("Model to use")
            }
        }
        Button {
            objectName: "remoteAdd"
            visible: root.connected
            highlighted: true
            text: qsTr("Add and use")
            onClicked: root.addAndUse()
        }
    }
}
