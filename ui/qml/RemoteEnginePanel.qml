// The memory panel for a remote engine's model: which engine it is and
// where, its own figures from its /metrics (requests running and waiting,
// KV-cache use, tokens/s; vLLM, SGLang, llama-server and Engram Desktop
// publish them), and the last reply as measured here. `remote` is the C++
// RemoteModels view-model.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    id: root
    objectName: "remoteEnginePanel"

    required property var remote
    readonly property var m: remote ? remote.metrics : ({})
    readonly property var last: remote ? remote.lastReply : ({})

    FontMetrics { id: fm }
    spacing: Math.round(fm.height * 0.4)

    function has(key) { return root.m && root.m[key] !== undefined }
    function num(x, digits) { return Number(x).toFixed(digits) }

    SectionTitle { text: qsTr("Remote engine") }
    Label {
        objectName: "remoteEngineName"
        Layout.fillWidth: true
        wrapMode: Text.Wrap
        font.bold: true
        text: root.remote.engineName
    }
    Label {
        Layout.fillWidth: true
        wrapMode: Text.WrapAnywhere
        text: qsTr("%1 at %2").arg(root.remote.modelId).arg(root.remote.engineUrl)
    }
    Label {
        Layout.fillWidth: true
        wrapMode: Text.Wrap
        opacity: 0.8
        text: qsTr("The model runs on that engine; this computer holds none of its weights, so there are no local tiers to show.")
    }

    SectionTitle { text: qsTr("The engine's figures"); Layout.topMargin: Math.round(fm.height * 0.3) }
    Label {
        objectName: "remoteMetricsNote"
        visible: root.remote.metricsNote.length > 0
        Layout.fillWidth: true
        wrapMode: Text.Wrap
        text: root.remote.metricsNote
    }
    GridLayout {
        objectName: "remoteMetrics"
        columns: 2
        columnSpacing: Math.round(fm.height * 0.8)
        Layout.fillWidth: true
        visible: root.remote.metricsNote.length === 0

        Label { text: qsTr("Requests running"); visible: root.has("running") }
        Label { text: root.has("running") ? root.num(root.m.running, 0) : ""; visible: root.has("running") }
        Label { text: qsTr("Requests waiting"); visible: root.has("waiting") }
        Label { text: root.has("waiting") ? root.num(root.m.waiting, 0) : ""; visible: root.has("waiting") }
        Label { text: qsTr("Generation"); visible: root.has("tokensPerS") }
        Label {
            visible: root.has("tokensPerS")
            text: root.has("tokensPerS") ? qsTr("%1 tokens/s").arg(root.num(root.m.tokensPerS, 1)) : ""
        }
        Label { text: qsTr("Tokens generated"); visible: root.has("generatedTokens") }
        Label { text: root.has("generatedTokens") ? root.num(root.m.generatedTokens, 0) : ""; visible: root.has("generatedTokens") }
        Label { text: qsTr("Prompt tokens"); visible: root.has("promptTokens") }
        Label { text: root.has("promptTokens") ? root.num(root.m.promptTokens, 0) : ""; visible: root.has("promptTokens") }
    }
    ColumnLayout {
        visible: root.has("kvCacheUsage") && root.remote.metricsNote.length === 0
        Layout.fillWidth: true
        Label { text: qsTr("KV cache: %1% in use").arg(root.has("kvCacheUsage") ? root.num(100 * root.m.kvCacheUsage, 1) : "") }
        ProgressBar {
            objectName: "remoteKvCache"
            Layout.fillWidth: true
            from: 0
            to: 1
            value: root.has("kvCacheUsage") ? root.m.kvCacheUsage : 0
        }
    }
    Label {
        Layout.fillWidth: true
        wrapMode: Text.WrapAnywhere
        opacity: 0.7
        font.pointSize: Math.max(1, fm.font.pointSize * 0.9)
        text: qsTr("Read every 2 s from %1").arg(root.remote.metricsUrl)
    }

    SectionTitle { text: qsTr("Last reply, measured here"); Layout.topMargin: Math.round(fm.height * 0.3) }
    Label {
        objectName: "remoteLastReply"
        Layout.fillWidth: true
        wrapMode: Text.Wrap
        text: root.last && root.last.tokens !== undefined
              ? qsTr("%1 tokens · first after %2 ms · %3 tokens/s")
                    .arg(root.last.tokens).arg(root.num(root.last.ttftMs, 0)).arg(root.num(root.last.tokensPerS, 1))
              : qsTr("No reply yet.")
    }
}
