// Asks before a conversation and all its messages are deleted for good.
import QtQuick
import QtQuick.Controls

Dialog {
    id: root

    property var conversationId: -1
    property string conversationTitle: ""

    signal confirmed(var id)

    function ask(id, title) {
        conversationId = id
        conversationTitle = title
        open()
    }

    anchors.centerIn: Overlay.overlay
    modal: true
    title: qsTr("Delete conversation?")
    standardButtons: Dialog.Cancel | Dialog.Discard

    FontMetrics { id: fm }

    Label {
        width: Math.round(fm.averageCharacterWidth * 48)
        wrapMode: Text.Wrap
        text: qsTr("“%1” and all its messages will be deleted. This cannot be undone.")
              .arg(root.conversationTitle.length > 0 ? root.conversationTitle : qsTr("New chat"))
    }

    Component.onCompleted: {
        const discard = standardButton(Dialog.Discard)
        if (discard)
            discard.text = qsTr("Delete")
    }
    onDiscarded: {
        confirmed(conversationId)
        close()
    }
}
