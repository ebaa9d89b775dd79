// A fenced code block of a reply: monospace text in a tinted box, its language
// and a Copy button.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Rectangle {
    id: root

    property string code: ""
    property string lang: ""

    signal copyRequested(string text)

    FontMetrics { id: fm }

    implicitHeight: layout.implicitHeight
    radius: Math.round(fm.height * 0.35)
    color: Qt.tint(palette.base, Qt.rgba(palette.text.r, palette.text.g, palette.text.b, 0.06))
    border.color: Qt.tint(palette.base, Qt.rgba(palette.text.r, palette.text.g, palette.text.b, 0.15))
    border.width: 1

    ColumnLayout {
        id: layout
        width: parent.width
        spacing: 0

        RowLayout {
            Layout.fillWidth: true
            Layout.leftMargin: Math.round(fm.height * 0.6)
            Layout.rightMargin: Math.round(fm.height * 0.2)
            Label {
                Layout.fillWidth: true
                text: root.lang.length > 0 ? root.lang : qsTr("code")
                font.pointSize: Math.max(1, fm.font.pointSize * 0.8)
                opacity: 0.6
            }
            MessageAction {
                objectName: "copyCodeButton"
                text: copied.running ? qsTr("Copied") : qsTr("Copy")
                onClicked: {
                    root.copyRequested(root.code)
                    copied.restart()
                }
                Timer { id: copied; interval: 1500 }
            }
        }
        TextEdit {
            Layout.fillWidth: true
            Layout.leftMargin: Math.round(fm.height * 0.6)
            Layout.rightMargin: Math.round(fm.height * 0.6)
            Layout.bottomMargin: Math.round(fm.height * 0.5)
            text: root.code
            textFormat: TextEdit.PlainText
            wrapMode: TextEdit.Wrap
            readOnly: true
            selectByMouse: true
            font.family: "monospace"
            font.pointSize: fm.font.pointSize * 0.95
            color: root.palette.text
            selectionColor: root.palette.highlight
            selectedTextColor: root.palette.highlightedText
        }
    }
}
