// A labelled slider with its value, for one real-valued sampling setting.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    FontMetrics { id: fm }
    id: root

    property string label
    property string hint
    property real from: 0
    property real to: 1
    property real stepSize: 0.01
    property int decimals: 2
    property real value: 0

    signal moved(real value)

    Layout.fillWidth: true
    spacing: 0

    RowLayout {
        Layout.fillWidth: true
        Label { Layout.fillWidth: true; text: root.label }
        Label { text: Number(slider.value).toFixed(root.decimals); opacity: 0.8 }
    }
    Slider {
        id: slider
        Layout.fillWidth: true
        from: root.from
        to: root.to
        stepSize: root.stepSize
        value: root.value
        onMoved: root.moved(Math.round(value / root.stepSize) * root.stepSize)
        Accessible.name: root.label
    }
    Label {
        visible: root.hint.length > 0
        Layout.fillWidth: true
        text: root.hint
        wrapMode: Text.Wrap
        opacity: 0.6
        font.pointSize: Math.max(1, fm.font.pointSize * 0.8)
    }
}
