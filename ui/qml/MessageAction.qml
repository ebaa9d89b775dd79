// A small flat text button under a message (Copy, Edit, Regenerate): Tab
// reaches it (a click leaves the focus where it was), Enter or Space presses it.
import QtQuick
import QtQuick.Controls

ToolButton {
    FontMetrics { id: fm }
    font.pointSize: Math.max(1, fm.font.pointSize * 0.85)
    padding: 2
    leftPadding: 6
    rightPadding: 6
    focusPolicy: Qt.TabFocus
    Accessible.role: Accessible.Button
    Keys.onReturnPressed: clicked()
    Keys.onEnterPressed: clicked()
    // Where the keyboard is: a ring the style would not draw on a flat button.
    Rectangle {
        anchors.fill: parent
        visible: parent.visualFocus
        color: "transparent"
        radius: 3
        border.width: 2
        border.color: parent.palette.highlight
    }
}
