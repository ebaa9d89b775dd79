// One memory tier as a stacked bar: what it holds by category (measured),
// against its capacity, with the user's budget marked and the preview's
// categories drawn thin underneath, in the same colours.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    id: root

    property string title
    property var tier: ({})          // plan/live.h tier: bytes, capacity_bytes, budget_bytes, by_category
    property var previewTier: ({})   // the planner's tier for the sliders' budgets
    property var categories: []      // [{key, label, color}]
    property string budgetLabel
    property var formatBytes: b => String(b)

    readonly property real capacity: Math.max(1, tier && tier.capacity_bytes ? tier.capacity_bytes : 0,
                                              tier && tier.bytes ? tier.bytes : 0,
                                              previewTier && previewTier.bytes ? previewTier.bytes : 0)

    FontMetrics { id: fm }
    spacing: 2
    Layout.fillWidth: true

    RowLayout {
        Layout.fillWidth: true
        Label { text: root.title; font.bold: true }
        Label {
            Layout.fillWidth: true
            horizontalAlignment: Text.AlignRight
            elide: Text.ElideLeft
            opacity: 0.8
            text: root.tier && root.tier.capacity_bytes
                  ? qsTr("%1 of %2").arg(root.formatBytes(root.tier.bytes || 0)).arg(root.formatBytes(root.tier.capacity_bytes))
                  : root.formatBytes(root.tier && root.tier.bytes ? root.tier.bytes : 0)
        }
    }

    Item {
        objectName: "tierBar_" + root.title
        Layout.fillWidth: true
        implicitHeight: Math.round(fm.height * 1.1)

        Rectangle {
            anchors.fill: parent
            color: "transparent"
            border.color: root.palette.mid
            radius: 2
        }
        Row {
            anchors.fill: parent
            anchors.margins: 1
            Repeater {
                model: root.categories
                Rectangle {
                    required property var modelData
                    readonly property real bytes: root.tier && root.tier.by_category
                                                  ? (root.tier.by_category[modelData.key] || 0) : 0
                    // Small parts stay visible: a tier of 24 GiB holding 90 MiB of KV.
                    width: bytes > 0 ? Math.max(3, (root.width - 2) * bytes / root.capacity) : 0
                    height: parent.height
                    color: modelData.color
                    ToolTip.visible: hover.hovered
                    ToolTip.text: modelData.label + ": " + root.formatBytes(bytes)
                    HoverHandler { id: hover }
                }
            }
        }
        // The budget the user gave this tier.
        Rectangle {
            visible: root.tier && root.tier.budget_bytes > 0
            x: Math.min(parent.width - width, parent.width * (root.tier.budget_bytes || 0) / root.capacity)
            width: 2
            height: parent.height + 4
            y: -2
            color: root.palette.windowText
        }
    }
    // The preview: what the tier would hold, by category, under the sliders' budgets.
    Row {
        objectName: "tierPreview_" + root.title
        Layout.fillWidth: true
        Layout.preferredHeight: 3
        Repeater {
            model: root.categories
            Rectangle {
                required property var modelData
                readonly property real bytes: root.previewTier && root.previewTier.by_category
                                              ? (root.previewTier.by_category[modelData.key] || 0) : 0
                width: bytes > 0 ? Math.max(2, root.width * bytes / root.capacity) : 0
                height: 3
                color: modelData.color
                opacity: 0.8
            }
        }
    }
    // The legend: category sizes (non-zero ones) and the budget.
    Label {
        Layout.fillWidth: true
        wrapMode: Text.Wrap
        textFormat: Text.StyledText
        font.pointSize: Math.max(1, fm.font.pointSize * 0.85)
        text: {
            let parts = []
            for (const c of root.categories) {
                const b = root.tier && root.tier.by_category ? (root.tier.by_category[c.key] || 0) : 0
                // Experts: what the plan puts here too, when the measure differs (a cache is whole experts).
                const pb = root.previewTier && root.previewTier.by_category ? (root.previewTier.by_category[c.key] || 0) : 0
                const planned = c.key === "experts" && pb !== b ? " " + qsTr("(plan %1)").arg(root.formatBytes(pb)) : ""
                if (b > 0 || planned.length > 0)
                    parts.push("<font color='" + c.color + "'>■</font> " + c.label + " " + root.formatBytes(b) + planned)
            }
            if (root.budgetLabel.length > 0) parts.push("<i>" + root.budgetLabel + "</i>")
            return parts.join("&nbsp;&nbsp; ")
        }
    }
}
