// A command or path in a monospace box, selectable, with a Copy button.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Rectangle {
    id: root

    property string text

    FontMetrics { id: fm }

    implicitHeight: row.implicitHeight + Math.round(fm.height * 0.5)
    radius: Math.round(fm.height * 0.3)
    color: Qt.tint(palette.base, Qt.rgba(palette.text.r, palette.text.g, palette.text.b, 0.06))
    border.width: 1
    border.color: Qt.tint(palette.base, Qt.rgba(palette.text.r, palette.text.g, palette.text.b, 0.15))

    RowLayout {
        id: row
        anchors.fill: parent
        anchors.leftMargin: Math.round(fm.height * 0.6)
        anchors.rightMargin: Math.round(fm.height * 0.2)
        TextEdit {
            id: field
            Layout.fillWidth: true
            text: root.text
            readOnly: true
            selectByMouse: true
            wrapMode: TextEdit.WrapAnywhere
            font.family: "monospace"
            color: root.palette.text
            selectionColor: root.palette.highlight
            selectedTextColor: root.palette.highlightedText
        }
        MessageAction {
            text: copied.running ? qsTr("Copied") : qsTr("Copy")
            onClicked: {
                field.selectAll()
                field.copy()
                field.deselect()
                copied.restart()
            }
            Timer { id: copied; interval: 1500 }
        }
    }
}
