// The memory tiers panel: VRAM and Engram DRAM budgets and the context
// length, the plan they would give before Apply, then the live tiers, the
// Engram caches and tokens/s while the model runs. `panel` is the C++
// MemoryPanel view-model.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtCharts

Pane {
    id: root
    objectName: "memoryPanel"

    required property var panel
    signal closeRequested()

    FontMetrics { id: fm }
    padding: Math.round(fm.height * 0.6)

    readonly property var live: panel.live
    readonly property var mem: live && live.memory ? live.memory : ({})
    readonly property var engram: live && live.engram ? live.engram : null
    readonly property var tput: live && live.throughput ? live.throughput : ({})
    readonly property var previewTiers: panel.preview && panel.preview.tiers ? panel.preview.tiers : ({})
    // The categories of a tier's bar; what "Engram" means depends on the tier.
    function categories(engramLabel) {
        return [
            { key: "weights", label: qsTr("Weights"), color: "#4e79a7" },
            { key: "kv", label: qsTr("KV cache"), color: "#f28e2b" },
            { key: "engram", label: engramLabel, color: "#59a14f" },
            { key: "scratch", label: qsTr("Scratch"), color: "#bab0ac" }
        ]
    }
    function fmt(b) { return panel.formatBytes(b) }
    function rate(x) { return x === undefined || x === null ? "–" : Number(x).toFixed(1) }
    function percent(x) { return x === undefined || x === null ? "–" : Math.round(x * 100) + "%" }

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
            Label {
                visible: !root.panel.ready
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                text: root.panel.error ? root.panel.error : qsTr("No model is loaded.")
            }

            // --- budgets -------------------------------------------------------
            ColumnLayout {
                Layout.topMargin: Math.round(fm.height * 0.3)
                SectionTitle { text: qsTr("Budgets") }
                visible: root.panel.ready
                Layout.fillWidth: true
                ColumnLayout {
                    Layout.fillWidth: true
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
                visible: root.panel.ready
                Layout.fillWidth: true
                ColumnLayout {
                    Layout.fillWidth: true
                    Label {
                        Layout.fillWidth: true
                        wrapMode: Text.Wrap
                        text: qsTr("%1 of %2 blocks on the GPU, output head on %3; predicted %4 tok/s decode")
                              .arg(root.panel.preview.n_gpu_blocks !== undefined ? root.panel.preview.n_gpu_blocks : 0)
                              .arg(root.panel.preview.blocks ? root.panel.preview.blocks.length : 0)
                              .arg(root.panel.preview.output_device || "cpu")
                              .arg(root.rate(root.panel.preview.predicted ? root.panel.preview.predicted.decode_tokens_per_s : null))
                    }
                    Repeater {
                        model: root.panel.dirty ? root.panel.changes : []
                        Label { required property string modelData; Layout.fillWidth: true; wrapMode: Text.Wrap; text: "• " + modelData }
                    }
                    Repeater {
                        model: root.panel.preview.problems || []
                        Label {
                            required property string modelData
                            Layout.fillWidth: true
                            wrapMode: Text.Wrap
                            color: "#c0392b"
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
                        Button {
                            objectName: "applyButton"
                            text: root.panel.applying ? qsTr("Applying…") : qsTr("Apply")
                            enabled: root.panel.dirty && !root.panel.applying
                            highlighted: root.panel.dirty
                            onClicked: root.panel.apply()
                        }
                        Button { text: qsTr("Revert"); enabled: root.panel.dirty && !root.panel.applying; onClicked: root.panel.revert() }
                        BusyIndicator { running: root.panel.applying; visible: running; implicitHeight: fm.height * 1.6; implicitWidth: implicitHeight }
                    }
                }
            }

            // --- tiers, measured ---------------------------------------------
            ColumnLayout {
                Layout.topMargin: Math.round(fm.height * 0.3)
                SectionTitle { text: qsTr("Tiers (measured; thin line: preview)") }
                visible: root.panel.ready
                Layout.fillWidth: true
                ColumnLayout {
                    Layout.fillWidth: true
                    TierBar {
                        title: qsTr("VRAM")
                        tier: root.mem.vram || ({})
                        previewTier: root.previewTiers.vram || ({})
                        categories: root.categories(qsTr("Engram hot cache"))
                        formatBytes: root.fmt
                        budgetLabel: root.panel.vramAvailable ? qsTr("budget %1").arg(root.fmt(root.panel.vramBudget)) : qsTr("no GPU")
                    }
                    TierBar {
                        title: qsTr("DRAM")
                        tier: root.mem.dram || ({})
                        previewTier: root.previewTiers.dram || ({})
                        categories: root.categories(qsTr("Engram resident rows"))
                        formatBytes: root.fmt
                        budgetLabel: root.panel.hasEngram ? qsTr("Engram budget %1").arg(root.fmt(root.mem.dram ? root.mem.dram.budget_bytes : 0)) : ""
                    }
                    TierBar {
                        title: qsTr("SSD")
                        tier: root.mem.ssd || ({})
                        previewTier: root.previewTiers.ssd || ({})
                        categories: root.categories(qsTr("Engram rows on SSD"))
                        formatBytes: root.fmt
                        budgetLabel: root.panel.hasEngram ? qsTr("read on demand") : qsTr("the model file")
                    }
                }
            }

            // --- Engram ----------------------------------------------------------
            ColumnLayout {
                Layout.topMargin: Math.round(fm.height * 0.3)
                SectionTitle { text: qsTr("Engram") }
                visible: root.panel.ready && root.panel.hasEngram
                Layout.fillWidth: true
                GridLayout {
                    Layout.fillWidth: true
                    columns: 2
                    columnSpacing: fm.height
                    Label { text: qsTr("DRAM hit rate") }
                    Label {
                        objectName: "engramHitRate"
                        text: root.engram ? qsTr("%1 (last second %2)").arg(root.percent(root.engram.tiers.dram.hit_rate))
                                                                      .arg(root.percent(root.panel.rates.recent_dram_hit_rate))
                                          : "–"
                    }
                    Label { text: qsTr("Rows from SSD") }
                    Label { text: root.engram ? qsTr("%1 rows, %2 read").arg(root.engram.tiers.ssd.hits).arg(root.fmt(root.engram.tiers.ssd.bytes_read)) : "–" }
                    Label { text: qsTr("Read rate") }
                    Label {
                        text: qsTr("DRAM %1/s, SSD %2/s").arg(root.fmt(root.panel.rates.dram_bytes_per_s || 0))
                                                      .arg(root.fmt(root.panel.rates.ssd_bytes_per_s || 0))
                    }
                    Label { text: qsTr("Prefetch") }
                    Label {
                        text: root.engram ? qsTr("stall %1 ms, mean lead %2 ms").arg((root.engram.stall_us / 1000).toFixed(1))
                                                                               .arg((root.engram.mean_lead_us / 1000).toFixed(2))
                                          : "–"
                    }
                }
                // How hot the table is: the most-read rows, hottest left.
                Item {
                    objectName: "heatStrip"
                    Layout.fillWidth: true
                    implicitHeight: fm.height
                    Row {
                        anchors.fill: parent
                        Repeater {
                            model: root.panel.heat
                            Rectangle {
                                required property var modelData
                                width: parent.width / Math.max(1, root.panel.heat.length)
                                height: parent.height
                                // Red for the most-read rows, fading to pale; a green foot when DRAM holds them.
                                color: Qt.rgba(0.85, 0.2 + 0.7 * (1 - modelData.level), 0.15 + 0.75 * (1 - modelData.level), 1)
                                Rectangle {
                                    anchors.bottom: parent.bottom
                                    width: parent.width
                                    height: 3
                                    color: modelData.resident >= 0.5 ? "#59a14f" : "transparent"
                                }
                            }
                        }
                    }
                }
                Label {
                    Layout.fillWidth: true
                    wrapMode: Text.Wrap
                    opacity: 0.7
                    font.pointSize: Math.max(1, fm.font.pointSize * 0.8)
                    text: root.panel.heat.length > 0
                          ? qsTr("The %1 most-read rows, hottest left; green foot: held in DRAM.").arg(root.panel.heatRows)
                          : qsTr("No rows read yet.")
                }
            }

            // --- throughput ------------------------------------------------------
            ColumnLayout {
                Layout.topMargin: Math.round(fm.height * 0.3)
                SectionTitle { text: qsTr("Throughput") }
                visible: root.panel.ready
                Layout.fillWidth: true
                ColumnLayout {
                    Layout.fillWidth: true
                    Label {
                        objectName: "throughputLine"
                        Layout.fillWidth: true
                        wrapMode: Text.Wrap
                        text: qsTr("Decode %1 tok/s measured, %2 predicted · prefill %3 tok/s · first token %4")
                              .arg(root.rate(root.panel.decodeSeries.length ? root.panel.decodeSeries[root.panel.decodeSeries.length - 1].y : root.tput.decode_tokens_per_s))
                              .arg(root.rate(root.live.predicted ? root.live.predicted.decode_tokens_per_s : null))
                              .arg(root.rate(root.panel.prefillSeries.length ? root.panel.prefillSeries[root.panel.prefillSeries.length - 1].y : root.tput.prefill_tokens_per_s))
                              .arg(root.tput.ttft_ms !== undefined && root.tput.ttft_ms !== null ? Math.round(root.tput.ttft_ms) + " ms" : "–")
                    }
                    ChartView {
                        id: chart
                        objectName: "throughputChart"
                        Layout.fillWidth: true
                        Layout.preferredHeight: Math.round(fm.height * 11)
                        antialiasing: true
                        legend.alignment: Qt.AlignBottom
                        margins { left: 2; right: 2; top: 2; bottom: 2 }
                        backgroundColor: root.palette.base
                        legend.labelColor: root.palette.text

                        ValueAxis {
                            id: axisX
                            min: Math.max(0, root.panel.now - root.panel.seriesSpan)
                            max: Math.max(root.panel.seriesSpan, root.panel.now)
                            labelFormat: "%.0f s"
                            labelsFont.pointSize: Math.max(1, fm.font.pointSize * 0.75)
                            labelsColor: root.palette.text
                            tickCount: 4
                        }
                        ValueAxis {
                            id: axisDecode
                            min: 0
                            labelFormat: "%.0f"
                            tickCount: 3
                            labelsFont.pointSize: Math.max(1, fm.font.pointSize * 0.75)
                            labelsColor: "#4e79a7"
                        }
                        ValueAxis {
                            id: axisPrefill
                            min: 0
                            labelFormat: "%.0f"
                            tickCount: 3
                            labelsFont.pointSize: Math.max(1, fm.font.pointSize * 0.75)
                            labelsColor: "#f28e2b"
                        }
                        LineSeries { id: decodeSeries; name: qsTr("decode tok/s"); axisX: axisX; axisY: axisDecode; color: "#4e79a7"; width: 2; pointsVisible: true }
                        LineSeries { id: prefillSeries; name: qsTr("prefill tok/s"); axisX: axisX; axisYRight: axisPrefill; color: "#f28e2b"; width: 2; pointsVisible: true }
                    }
                }
            }
        }
    }

    function fill(series, axis, points) {
        series.clear()
        let top = 1
        for (const p of points) {
            series.append(p.x, p.y)
            top = Math.max(top, p.y)
        }
        axis.max = Math.ceil(top * 1.15)
    }
    Connections {
        target: root.panel
        function onSampled() {
            root.fill(decodeSeries, axisDecode, root.panel.decodeSeries)
            root.fill(prefillSeries, axisPrefill, root.panel.prefillSeries)
        }
    }
    onVisibleChanged: panel.visible = visible
    Component.onCompleted: panel.visible = visible
}
