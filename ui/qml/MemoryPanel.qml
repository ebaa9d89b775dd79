// The memory tiers panel: VRAM, Engram DRAM and (MoE models) expert DRAM
// budgets and the context length, the plan they would give before Apply,
// then the live tiers, the Engram and expert caches and tokens/s while the
// model runs. `panel` is the C++
// MemoryPanel view-model. For a remote engine's model (`remote`, the C++
// RemoteModels) it shows that engine's own figures instead.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtCharts

Pane {
    id: root
    objectName: "memoryPanel"

    required property var panel
    property var remote: null
    // A reply is being generated: Apply waits for it and says so.
    property bool replyRunning: false
    readonly property bool remoteActive: remote !== null && remote.active
    // The local model's sections: not while a remote engine answers.
    readonly property bool localShown: panel.ready && !remoteActive
    signal closeRequested()

    FontMetrics { id: fm }
    padding: Math.round(fm.height * 0.6)

    readonly property var live: panel.live
    readonly property var mem: live && live.memory ? live.memory : ({})
    readonly property var previewTiers: panel.preview && panel.preview.tiers ? panel.preview.tiers : ({})
    // The categories of a tier's bar; what "Engram" and "Experts" mean
    // depends on the tier.
    function categories(engramLabel, expertLabel) {
        return [
            { key: "weights", label: qsTr("Weights"), color: "#4e79a7" },
            { key: "experts", label: expertLabel, color: "#b07aa1" },
            { key: "kv", label: qsTr("KV cache"), color: "#f28e2b" },
            { key: "engram", label: engramLabel, color: "#59a14f" },
            { key: "scratch", label: qsTr("Scratch"), color: "#bab0ac" }
        ]
    }
    function fmt(b) { return panel.formatBytes(b) }
    function rate(x) { return x === undefined || x === null ? "–" : Number(x).toFixed(1) }

    ScrollView {
        id: scroll
        anchors.fill: parent
        contentWidth: availableWidth
        clip: true

        ColumnLayout {
            width: scroll.availableWidth
            spacing: Math.round(fm.height * 0.5)

            RowLayout {
                Layout.fillWidth: true
                Label { text: qsTr("Memory"); font.bold: true; font.pointSize: fm.font.pointSize * 1.2; Layout.fillWidth: true }
                ToolButton { text: "✕"; onClicked: root.closeRequested(); Accessible.name: qsTr("Close the memory panel") }
            }
            RemoteEnginePanel {
                visible: root.remoteActive
                Layout.fillWidth: true
                remote: root.remote
            }
            Label {
                visible: !root.panel.ready && !root.remoteActive
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                text: root.panel.error ? root.panel.error : qsTr("No model is loaded.")
            }

            // --- budgets -------------------------------------------------------
            ColumnLayout {
                Layout.topMargin: Math.round(fm.height * 0.3)
                SectionTitle { text: qsTr("Budgets") }
                visible: root.localShown
                Layout.fillWidth: true
                ColumnLayout {
                    Layout.fillWidth: true
                    // The GPUs found, as the driver reports them.
                    Repeater {
                        model: root.panel.gpus
                        delegate: Label {
                            required property var modelData
                            objectName: "gpu_" + modelData.device
                            Layout.fillWidth: true
                            wrapMode: Text.Wrap
                            // The driver's figure now for the GPU in use, else the one probed at placement.
                            readonly property real free: modelData.device === "cuda:0" && root.mem.vram
                                                         && root.mem.vram.driver_total_bytes
                                                         ? root.mem.vram.driver_free_bytes : modelData.vramFree
                            text: qsTr("%1  %2 · %3 free of %4%5")
                                  .arg(modelData.device).arg(modelData.name)
                                  .arg(root.fmt(free)).arg(root.fmt(modelData.vramTotal))
                                  .arg(modelData.computeCapability ? qsTr(" · compute %1").arg(modelData.computeCapability) : "")
                        }
                    }
                    Label {
                        objectName: "gpuNote"
                        visible: text.length > 0
                        Layout.fillWidth: true
                        wrapMode: Text.Wrap
                        opacity: 0.8
                        font.pointSize: Math.max(1, fm.font.pointSize * 0.9)
                        text: root.panel.gpuNote
                    }
                    BudgetRow {
                        objectName: "vramBudget"
                        panel: root.panel
                        label: qsTr("VRAM")
                        enabledReason: root.panel.vramUnavailableReason
                        value: root.panel.vramBudget
                        to: root.panel.vramMax
                        whole: root.panel.vramMax
                        onMoved: v => root.panel.vramBudget = v
                    }
                    BudgetRow {
                        objectName: "engramBudget"
                        panel: root.panel
                        label: qsTr("Engram DRAM")
                        enabledReason: root.panel.engramUnavailableReason
                        value: root.panel.engramBudget
                        to: root.panel.engramMax
                        whole: root.panel.engramTableBytes
                        suffix: root.panel.engramTableBytes > 0
                                ? qsTr(" (%1% of %2 tables)").arg((100 * root.panel.engramBudget / root.panel.engramTableBytes).toFixed(1))
                                                             .arg(root.fmt(root.panel.engramTableBytes))
                                : ""
                        onMoved: v => root.panel.engramBudget = v
                    }
                    // Only a mixture-of-experts model has experts to place.
                    BudgetRow {
                        objectName: "expertBudget"
                        visible: root.panel.hasExperts
                        panel: root.panel
                        label: qsTr("Experts in DRAM")
                        value: root.panel.expertBudget
                        to: root.panel.expertMax
                        whole: root.panel.expertBytes
                        suffix: root.panel.expertBytes > 0
                                ? qsTr(" (%1% of %2 experts; the rest read from the SSD)")
                                      .arg((100 * root.panel.expertBudget / root.panel.expertBytes).toFixed(1))
                                      .arg(root.fmt(root.panel.expertBytes))
                                : ""
                        onMoved: v => root.panel.expertBudget = v
                    }
                    RowLayout {
                        Label { text: qsTr("Context"); Layout.fillWidth: true }
                        SpinBox {
                            objectName: "contextLength"
                            from: 256
                            to: root.panel.contextMax
                            stepSize: 256
                            editable: true
                            value: root.panel.contextLength
                            onValueModified: root.panel.contextLength = value
                        }
                        Label { text: qsTr("tokens"); opacity: 0.7 }
                    }
                }
            }

            // --- preview and apply --------------------------------------------
            ColumnLayout {
                Layout.topMargin: Math.round(fm.height * 0.3)
                SectionTitle { text: root.panel.dirty ? qsTr("Preview") : qsTr("Placement") }
                visible: root.localShown
                Layout.fillWidth: true
                ColumnLayout {
                    Layout.fillWidth: true
                    Label {
                        Layout.fillWidth: true
                        wrapMode: Text.Wrap
                        objectName: "placementSummary"
                        text: root.panel.placementSummary
                    }
                    Repeater {
                        model: root.panel.dirty ? root.panel.changes : []
                        Label { required property string modelData; Layout.fillWidth: true; wrapMode: Text.Wrap; text: "• " + modelData }
                    }
                    Repeater {
                        // (No GPU is said in the summary above, in plain words.)
                        model: (root.panel.preview.problems || []).filter(p => !p.startsWith("no GPU"))
                        // What a budget cannot hold: worth reading, not an error.
                        Label {
                            required property string modelData
                            Layout.fillWidth: true
                            wrapMode: Text.Wrap
                            color: "#b9770e"
                            text: modelData
                        }
                    }
                    Repeater {
                        model: root.panel.notes
                        Label { required property string modelData; Layout.fillWidth: true; wrapMode: Text.Wrap; color: "#b9770e"; text: modelData }
                    }
                    Label {
                        visible: root.panel.error.length > 0
                        Layout.fillWidth: true
                        wrapMode: Text.Wrap
                        color: "#c0392b"
                        text: root.panel.error
                    }
                    RowLayout {
                        // Why Apply and Revert are disabled, on hover (a disabled
                        // button gets none: the row listens).
                        HoverHandler { id: applyHover }
                        ToolTip.visible: applyHover.hovered && !root.panel.dirty && !root.panel.applying
                        ToolTip.text: qsTr("Nothing to apply: move a budget or the context first.")
                        Button {
                            objectName: "applyButton"
                            text: root.panel.applying ? qsTr("Applying…") : qsTr("Apply")
                            enabled: root.panel.dirty && !root.panel.applying
                            highlighted: root.panel.dirty
                            onClicked: root.panel.apply()
                        }
                        Button { text: qsTr("Revert"); enabled: root.panel.dirty && !root.panel.applying; onClicked: root.panel.revert() }
                        // Spinning costs the GUI thread a frame each time on software
                        // rendering; while a reply streams, words say it instead.
                        BusyIndicator { running: root.panel.applying && !root.replyRunning; visible: running; implicitHeight: fm.height * 1.6; implicitWidth: implicitHeight }
                    }
                    Label {
                        objectName: "applyWaits"
                        visible: root.panel.applying && root.replyRunning
                        Layout.fillWidth: true
                        wrapMode: Text.Wrap
                        text: qsTr("Applies when the reply on screen ends (the engine finishes the reply first; it is not slowed).")
                    }
                }
            }

            // --- tiers, measured ---------------------------------------------
            ColumnLayout {
                Layout.topMargin: Math.round(fm.height * 0.3)
                SectionTitle { text: qsTr("Tiers (measured; thin line: preview)") }
                visible: root.localShown
                Layout.fillWidth: true
                ColumnLayout {
                    Layout.fillWidth: true
                    TierBar {
                        title: qsTr("VRAM")
                        tier: root.mem.vram || ({})
                        previewTier: root.previewTiers.vram || ({})
                        categories: root.categories(qsTr("Engram hot cache"), qsTr("Experts"))
                        formatBytes: root.fmt
                        budgetLabel: !root.panel.vramAvailable ? qsTr("no GPU")
                                     : root.mem.vram && root.mem.vram.driver_total_bytes
                                       ? qsTr("budget %1 · driver: %2 free of %3").arg(root.fmt(root.panel.vramBudget))
                                             .arg(root.fmt(root.mem.vram.driver_free_bytes)).arg(root.fmt(root.mem.vram.driver_total_bytes))
                                       : qsTr("budget %1").arg(root.fmt(root.panel.vramBudget))
                    }
                    TierBar {
                        title: qsTr("DRAM")
                        tier: root.mem.dram || ({})
                        previewTier: root.previewTiers.dram || ({})
                        categories: root.categories(qsTr("Engram resident rows"), qsTr("Experts in DRAM"))
                        formatBytes: root.fmt
                        budgetLabel: root.panel.hasEngram ? qsTr("Engram budget %1").arg(root.fmt(root.mem.dram ? root.mem.dram.budget_bytes : 0)) : ""
                    }
                    TierBar {
                        title: qsTr("SSD")
                        tier: root.mem.ssd || ({})
                        previewTier: root.previewTiers.ssd || ({})
                        categories: root.categories(qsTr("Engram rows on SSD"), qsTr("Experts on SSD"))
                        formatBytes: root.fmt
                        budgetLabel: root.panel.hasEngram || root.panel.hasExperts ? qsTr("read on demand") : qsTr("the model file")
                    }
                }
            }

            EngramStats {
                Layout.topMargin: Math.round(fm.height * 0.3)
                Layout.fillWidth: true
                visible: root.localShown && root.panel.hasEngram
                panel: root.panel
            }

            ExpertStats {
                Layout.topMargin: Math.round(fm.height * 0.3)
                Layout.fillWidth: true
                visible: root.localShown && root.panel.hasExperts
                panel: root.panel
            }

            ThroughputChart {
                Layout.topMargin: Math.round(fm.height * 0.3)
                Layout.fillWidth: true
                visible: root.localShown
                panel: root.panel
            }
        }
    }

    function watch() {
        panel.visible = visible
        if (remote !== null) remote.setWatching(visible)
    }
    onVisibleChanged: watch()
    Component.onCompleted: watch()
    Component.onDestruction: if (remote !== null) remote.setWatching(false)
}
