// A small coloured badge: green when a model fits in free memory, amber when not.
import QtQuick
import QtQuick.Controls

Rectangle {
    id: root

    property bool fits: false
    property alias text: label.text

    FontMetrics { id: fm }

    implicitWidth: label.implicitWidth + Math.round(fm.height * 0.8)
    implicitHeight: label.implicitHeight + Math.round(fm.height * 0.3)
    radius: height / 2
    color: root.fits ? Qt.rgba(0.18, 0.62, 0.36, 0.18) : Qt.rgba(0.9, 0.6, 0.1, 0.22)
    visible: label.text.length > 0

    Label {
        id: label
        anchors.centerIn: parent
        font.pointSize: fm.font.pointSize * 0.9
    }
}
