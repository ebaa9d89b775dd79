// A section heading in a side panel: bold text over a thin rule.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    id: root
    property alias text: label.text
    Layout.fillWidth: true
    spacing: 2
    Rectangle { Layout.fillWidth: true; implicitHeight: 1; color: root.palette.mid; opacity: 0.6 }
    Label { id: label; font.bold: true; Layout.fillWidth: true; elide: Text.ElideRight }
}
