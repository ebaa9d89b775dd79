// A labelled spin box for one integer sampling setting.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    FontMetrics { id: fm }
    id: root

    property string label
    property string hint
    property int from: 0
    property int to: 100
    property int value: 0

    signal modified(int value)

    Layout.fillWidth: true
    spacing: 0

    RowLayout {
        Layout.fillWidth: true
        Label { Layout.fillWidth: true; text: root.label }
        SpinBox {
            from: root.from
            to: root.to
            value: root.value
            editable: true
            onValueModified: root.modified(value)
            Accessible.name: root.label
        }
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
