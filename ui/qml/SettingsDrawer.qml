// The conversation's system prompt and sampling settings, sliding in from the
// right. Every change is written straight back to the controller, which keeps
// them per conversation.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Drawer {
    id: root

    required property var controller
    // The local API server's switch (ServerSwitch); null where there is none.
    property var server: null
    // The window's look (Appearance: system, light or dark); null where there is none.
    property var look: null

    // The controller's settings always hold every key (their defaults live in
    // the engine's GenerationSettings), so nothing here repeats a default.
    function setting(key) { return controller.settings[key] }
    function setSetting(key, value) {
        const s = Object.assign({}, controller.settings)
        s[key] = value
        controller.settings = s
    }

    FontMetrics { id: fm }

    edge: Qt.RightEdge

    ScrollView {
        id: scroll
        anchors.fill: parent
        anchors.margins: Math.round(fm.height * 0.8)
        contentWidth: availableWidth

        ColumnLayout {
            // The view's width, not the content item's (which follows the
            // widest child: long labels pushed the spin boxes off the drawer).
            width: scroll.availableWidth
            spacing: Math.round(fm.height * 0.5)

            Label {
                text: qsTr("Conversation settings")
                font.pointSize: fm.font.pointSize * 1.3
            }

            Label { text: qsTr("System prompt"); font.bold: true }
            TextArea {
                id: systemPrompt
                objectName: "systemPromptInput"
                Layout.fillWidth: true
                Layout.minimumHeight: fm.height * 5
                wrapMode: TextEdit.Wrap
                selectByMouse: true
                placeholderText: qsTr("e.g. You are a concise assistant.")
                background: Rectangle {
                    color: root.palette.base
                    radius: 3
                    border.width: systemPrompt.activeFocus ? 2 : 1
                    border.color: systemPrompt.activeFocus ? root.palette.highlight : root.palette.mid
                }
                text: root.controller.systemPrompt
                onEditingFinished: if (text !== root.controller.systemPrompt) root.controller.systemPrompt = text
            }

            Label { text: qsTr("Sampling"); font.bold: true; Layout.topMargin: fm.height * 0.5 }

            SettingSlider {
                label: qsTr("Temperature"); from: 0; to: 2; stepSize: 0.05; decimals: 2
                hint: qsTr("Higher is more varied, 0 always picks the likeliest token.")
                value: root.setting("temperature")
                onMoved: v => root.setSetting("temperature", v)
            }
            SettingSlider {
                label: qsTr("Top-p"); from: 0; to: 1; stepSize: 0.01; decimals: 2
                value: root.setting("top_p")
                onMoved: v => root.setSetting("top_p", v)
            }
            SettingSlider {
                label: qsTr("Min-p"); from: 0; to: 1; stepSize: 0.01; decimals: 2
                value: root.setting("min_p")
                onMoved: v => root.setSetting("min_p", v)
            }
            SettingSlider {
                label: qsTr("Repetition penalty"); from: 1; to: 2; stepSize: 0.01; decimals: 2
                value: root.setting("repeat_penalty")
                onMoved: v => root.setSetting("repeat_penalty", v)
            }
            SettingSpin {
                label: qsTr("Top-k"); from: 0; to: 1000
                hint: qsTr("0 turns it off.")
                value: root.setting("top_k")
                onModified: v => root.setSetting("top_k", v)
            }
            SettingSpin {
                label: qsTr("Max tokens"); from: 1; to: 32768
                value: root.setting("max_tokens")
                onModified: v => root.setSetting("max_tokens", v)
            }
            SettingSpin {
                label: qsTr("Seed"); from: -1; to: 2147483647
                hint: qsTr("The same seed and settings give the same reply.")
                value: root.setting("seed")
                onModified: v => root.setSetting("seed", v)
            }
            RowLayout {
                Layout.topMargin: fm.height * 0.5
                visible: root.controller.defaultSettings !== undefined
                Button {
                    text: qsTr("Reset to defaults")
                    onClicked: {
                        root.controller.settings = root.controller.defaultSettings
                        root.controller.systemPrompt = root.controller.defaultSystemPrompt
                    }
                }
                Button {
                    text: qsTr("Make these the defaults")
                    onClicked: {
                        root.controller.defaultSettings = root.controller.settings
                        root.controller.defaultSystemPrompt = root.controller.systemPrompt
                    }
                    ToolTip.visible: hovered
                    ToolTip.delay: 600
                    ToolTip.text: qsTr("New conversations start with these settings")
                }
            }
            ColumnLayout {
                visible: root.server !== null
                Layout.topMargin: fm.height
                Layout.fillWidth: true
                Label {
                    text: qsTr("Local API server")
                    font.pointSize: fm.font.pointSize * 1.3
                }
                Switch {
                    objectName: "serverSwitch"
                    text: qsTr("Serve to other programs (OpenAI API)")
                    checked: root.server ? root.server.enabled : false
                    onToggled: root.server.enabled = checked
                }
                SettingSpin {
                    label: qsTr("Port")
                    hint: qsTr("http://127.0.0.1:PORT/v1, on this computer only. Takes effect when switched on.")
                    from: 1
                    to: 65535
                    value: root.server ? root.server.port : 8080
                    onModified: v => root.server.port = v
                }
                Label {
                    objectName: "serverStatus"
                    Layout.fillWidth: true
                    wrapMode: Text.Wrap
                    text: root.server ? root.server.status : ""
                    color: root.server && root.server.serving ? root.palette.text : root.palette.mid
                }
            }
            ColumnLayout {
                visible: root.look !== null
                Layout.fillWidth: true
                Layout.topMargin: fm.height
                Label {
                    text: qsTr("Appearance")
                    font.pointSize: fm.font.pointSize * 1.3
                }
                ComboBox {
                    id: lookChoice
                    objectName: "themeChoice"
                    Layout.fillWidth: true
                    textRole: "text"
                    valueRole: "value"
                    model: [
                        { value: "system", text: qsTr("As the system (light or dark)") },
                        { value: "light", text: qsTr("Light") },
                        { value: "dark", text: qsTr("Dark") }
                    ]
                    currentIndex: root.look ? Math.max(0, indexOfValue(root.look.theme)) : 0
                    onActivated: root.look.theme = currentValue
                    Accessible.name: qsTr("Appearance")
                }
            }
            Item { Layout.fillHeight: true }
        }
    }
}
