// The memory panel's Engram section: DRAM hit rate (overall and over the
// last second), rows and bytes read from the SSD, bytes/s per tier, prefetch
// stall and lead, and a heat strip of the most-read rows. `panel` is the
// C++ MemoryPanel view-model.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    id: root

    required property var panel
    readonly property var engram: panel.live && panel.live.engram ? panel.live.engram : null

    function percent(x) { return x === undefined || x === null ? "–" : Math.round(x * 100) + "%" }

    FontMetrics { id: fm }

    SectionTitle { text: qsTr("Engram") }
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
        Label {
            text: root.engram ? qsTr("%1 rows, %2 read").arg(root.engram.tiers.ssd.hits)
                                                        .arg(root.panel.formatBytes(root.engram.tiers.ssd.bytes_read))
                              : "–"
        }
        Label { text: qsTr("Read rate") }
        Label {
            text: qsTr("DRAM %1/s, SSD %2/s").arg(root.panel.formatBytes(root.panel.rates.dram_bytes_per_s || 0))
                                          .arg(root.panel.formatBytes(root.panel.rates.ssd_bytes_per_s || 0))
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
