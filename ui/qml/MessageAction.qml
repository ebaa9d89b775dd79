// A small flat text button under a message (Copy, Edit, Regenerate).
import QtQuick
import QtQuick.Controls

ToolButton {
    FontMetrics { id: fm }
    font.pointSize: Math.max(1, fm.font.pointSize * 0.85)
    padding: 2
    leftPadding: 6
    rightPadding: 6
    focusPolicy: Qt.NoFocus
}
