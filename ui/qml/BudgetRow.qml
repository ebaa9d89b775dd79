// A budget slider with a numeric field ("2G", "512M", "5%") and, when the
// budget cannot be set, the reason instead of the slider.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    id: root

    property string label
    property string enabledReason     // non-empty: disabled, this is why
    property real value: 0
    property real to: 0
    property real whole: 0            // what "%" refers to
    property string suffix
    required property var panel      // MemoryPanel: formatBytes, parseBudget

    // What the field made of the last input when it was not taken as typed:
    // the parser's sentence, or that it was held to the most there is.
    property string inputMessage
    signal moved(real value)

    FontMetrics { id: fm }
    Layout.fillWidth: true
    spacing: 0

    RowLayout {
        Layout.fillWidth: true
        HoverHandler { id: rowHover }
        Label { text: root.label; Layout.fillWidth: true }
        TextField {
            id: field
            objectName: root.objectName + "Field"
            enabled: root.enabledReason.length === 0
            Layout.preferredWidth: Math.round(fm.height * 6)
            text: root.panel.formatBytes(root.value)
            selectByMouse: true
            onEditingFinished: {
                const typed = text
                const b = root.panel.parseBudget(typed, root.whole, root.label)
                if (b < 0) {
                    // Said where it was typed; the field keeps the text to correct.
                    root.inputMessage = root.panel.error
                    return
                }
                root.inputMessage = b > root.to
                    ? qsTr("%1 is more than this machine can give; held to %2.").arg(root.panel.formatBytes(b))
                                                                                .arg(root.panel.formatBytes(root.to))
                    : ""
                root.moved(b)
                text = Qt.binding(() => root.panel.formatBytes(root.value))
            }
            // Disabled, it gets no hover: the row's handler below says why.
            ToolTip.visible: activeFocus || (!enabled && rowHover.hovered)
            ToolTip.text: enabled ? qsTr("Bytes (2G, 512M) or a share (5%)") : root.enabledReason
        }
    }
    Label {
        objectName: root.objectName + "Message"
        visible: root.inputMessage.length > 0
        Layout.fillWidth: true
        wrapMode: Text.Wrap
        color: "#b9770e"
        font.pointSize: Math.max(1, fm.font.pointSize * 0.85)
        text: root.inputMessage
    }
    Slider {
        objectName: root.objectName + "Slider"
        Layout.fillWidth: true
        visible: root.enabledReason.length === 0
        from: 0
        to: Math.max(1, root.to)
        value: root.value
        onMoved: {
            root.inputMessage = ""
            root.moved(value)
        }
        Accessible.name: root.label
    }
    Label {
        visible: root.enabledReason.length === 0 && root.suffix.length > 0
        Layout.fillWidth: true
        text: root.suffix.trim()
        opacity: 0.7
        font.pointSize: Math.max(1, fm.font.pointSize * 0.85)
    }
    Label {
        objectName: root.objectName + "Reason"
        visible: root.enabledReason.length > 0
        Layout.fillWidth: true
        wrapMode: Text.Wrap
        text: root.enabledReason
        opacity: 0.75
        font.pointSize: Math.max(1, fm.font.pointSize * 0.85)
    }
}
