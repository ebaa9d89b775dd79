// The memory panel's section on a mixture-of-experts model's expert cache
// (model/expert_tier.h): its hit rate next to the best any cache of its
// size could have had on the same accesses, the bytes read from the SSD and
// the time the forward waited for them, and a heat strip of the busiest
// experts (brighter: more uses; a green foot: held in DRAM). `panel` is the
// C++ MemoryPanel view-model.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    id: root

    required property var panel
    readonly property var experts: panel.live && panel.live.experts ? panel.live.experts : null

    function percent(x) { return x === undefined || x === null ? "–" : Math.round(x * 100) + "%" }

    FontMetrics { id: fm }

    SectionTitle { text: qsTr("Experts") }
    Label {
        objectName: "expertsAllInDram"
        visible: root.experts === null
        Layout.fillWidth: true
        wrapMode: Text.Wrap
        opacity: 0.8
        text: qsTr("All the experts are held in DRAM: none are read from the SSD.")
    }
    GridLayout {
        visible: root.experts !== null
        Layout.fillWidth: true
        columns: 2
        columnSpacing: fm.height
        Label { text: qsTr("DRAM hit rate") }
        Label {
            objectName: "expertHitRate"
            text: root.experts ? qsTr("%1 — best possible %2").arg(root.percent(root.experts.hit_rate))
                                                               .arg(root.percent(root.experts.optimal_hit_rate))
                               : "–"
        }
        Label { text: qsTr("In DRAM") }
        Label {
            text: root.experts ? qsTr("%1 of %2 slots (%3 each), %4").arg(root.experts.resident)
                                                                     .arg(root.experts.capacity)
                                                                     .arg(root.panel.formatBytes(root.experts.expert_bytes))
                                                                     .arg(root.experts.policy)
                               : "–"
        }
        Label { text: qsTr("Read from SSD") }
        Label {
            objectName: "expertBytesRead"
            text: root.experts ? qsTr("%1 (%2 expert reads)").arg(root.panel.formatBytes(root.experts.bytes_read))
                                                             .arg(root.experts.misses)
                               : "–"
        }
        Label { text: qsTr("Waited") }
        Label {
            objectName: "expertStall"
            text: root.experts ? qsTr("%1 ms").arg((root.experts.stall_us / 1000).toFixed(1)) : "–"
        }
    }
    // The busiest experts, busiest left: one cell per expert.
    Item {
        objectName: "expertHeatStrip"
        visible: root.experts !== null
        Layout.fillWidth: true
        implicitHeight: fm.height
        Row {
            anchors.fill: parent
            Repeater {
                model: root.panel.expertHeat
                Rectangle {
                    required property var modelData
                    width: parent.width / Math.max(1, root.panel.expertHeat.length)
                    height: parent.height
                    // Purple for the busiest, fading to pale; a green foot when DRAM holds it.
                    color: Qt.rgba(0.42 + 0.5 * (1 - modelData.level), 0.2 + 0.7 * (1 - modelData.level),
                                   0.55 + 0.4 * (1 - modelData.level), 1)
                    border.color: root.palette.window
                    border.width: width > 4 ? 1 : 0
                    Rectangle {
                        anchors.bottom: parent.bottom
                        width: parent.width
                        height: 3
                        color: modelData.resident ? "#59a14f" : "transparent"
                    }
                    readonly property string tip: qsTr("Block %1, expert %2: %3 uses, %4")
                                                  .arg(modelData.layer).arg(modelData.expert).arg(modelData.uses)
                                                  .arg(modelData.resident ? qsTr("in DRAM") : qsTr("read from the SSD"))
                    HoverHandler { id: hover }
                    ToolTip.visible: hover.hovered
                    ToolTip.text: tip
                }
            }
        }
    }
    Label {
        visible: root.experts !== null
        Layout.fillWidth: true
        wrapMode: Text.Wrap
        opacity: 0.7
        font.pointSize: Math.max(1, fm.font.pointSize * 0.8)
        text: root.panel.expertHeat.length > 0
              ? qsTr("The %1 busiest experts, busiest left; green foot: held in DRAM.").arg(root.panel.expertHeat.length)
              : qsTr("No expert has run yet.")
    }
}
