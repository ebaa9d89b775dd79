// Installed models and remote engines' models in a combo box; shows which
// one is loaded, and a busy bar while the engine loads the chosen one. The
// list ends with "Add remote engine…".
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

RowLayout {
    id: root

    required property var controller
    required property var modelList
    signal addRemoteRequested()

    FontMetrics { id: fm }
    spacing: Math.round(fm.height * 0.4)

    ComboBox {
        id: combo
        objectName: "modelPicker"
        Layout.fillWidth: true
        model: root.modelList
        textRole: "name"
        valueRole: "path"
        enabled: !root.controller.loadingModel && !root.controller.busy
        displayText: root.controller.loadingModel ? qsTr("Loading %1…").arg(root.controller.modelName || currentText)
                   : root.controller.modelLoaded
                     ? (String(root.controller.modelPath).startsWith("remote:")
                        ? qsTr("%1 · remote").arg(root.controller.modelName) : root.controller.modelName)
                   : qsTr("Choose a model")
        // Select the loaded model's row without loading it again.
        function isLoaded(i) {
            const loadedPath = root.controller.modelPath
            return loadedPath !== undefined && loadedPath.length > 0 ? valueAt(i) === loadedPath
                                                                     : textAt(i) === root.controller.modelName
        }
        function syncToLoaded() {
            for (let i = 0; i < count; ++i) {
                if (isLoaded(i)) {
                    currentIndex = i
                    return
                }
            }
        }
        onActivated: index => {
            const path = valueAt(index)
            if (path && (!isLoaded(index) || !root.controller.modelLoaded))
                root.controller.loadModel(path)
        }
        Connections {
            target: root.controller
            function onModelNameChanged() { combo.syncToLoaded() }
        }
        onCountChanged: syncToLoaded()
        Component.onCompleted: syncToLoaded()

        delegate: ItemDelegate {
            required property string name
            required property string sizeText
            required property int index
            width: combo.popup.width
            highlighted: combo.highlightedIndex === index
            contentItem: RowLayout {
                Label { Layout.fillWidth: true; text: name; elide: Text.ElideRight }
                Label { text: sizeText; opacity: 0.6 }
            }
        }
        popup: Popup {
            y: combo.height
            width: Math.max(combo.width, Math.round(fm.height * 22))
            padding: 1
            contentItem: ListView {
                clip: true
                implicitHeight: Math.min(contentHeight, Math.round(fm.height * 24))
                model: combo.popup.visible ? combo.delegateModel : null
                currentIndex: combo.highlightedIndex
                ScrollIndicator.vertical: ScrollIndicator {}
                footer: ItemDelegate {
                    objectName: "addRemoteEngine"
                    width: ListView.view ? ListView.view.width : implicitWidth
                    text: qsTr("Add remote engine…")
                    onClicked: {
                        combo.popup.close()
                        root.addRemoteRequested()
                    }
                }
            }
            background: Rectangle {
                color: root.palette.base
                border.color: root.palette.mid
            }
        }
        ToolTip.visible: hovered && !root.controller.loadingModel
        ToolTip.delay: 600
        ToolTip.text: qsTr("The model that answers in this window")
    }

    // Load progress: a bar when the controller reports a fraction, else a spinner.
    ProgressBar {
        objectName: "modelLoadProgress"
        Layout.preferredWidth: Math.round(fm.height * 5)
        visible: root.controller.loadingModel
        from: 0
        to: 1
        value: root.controller.loadProgress !== undefined ? root.controller.loadProgress : 0
        indeterminate: root.controller.loadProgress === undefined || value <= 0
    }
    Label {
        visible: !root.controller.loadingModel
        text: root.controller.modelLoaded ? "●" : "○"
        color: root.controller.modelLoaded ? "#2e9d5b" : root.palette.mid
        ToolTip.visible: dotArea.containsMouse
        ToolTip.text: root.controller.modelLoaded ? qsTr("Model loaded") : qsTr("No model loaded")
        MouseArea { id: dotArea; anchors.fill: parent; hoverEnabled: true }
    }
}
