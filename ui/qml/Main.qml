// The Engram Desktop window: a conversation sidebar beside the chat pane, or a
// first-start page while no model is installed. Objects come in as context
// properties set by the Application (chat, conversations, models).
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtQuick.Dialogs

ThemedWindow {
    id: window

    width: Math.min(Math.round(fm.height * 72), Screen.desktopAvailableWidth * 0.9)
    height: Math.min(Math.round(fm.height * 48), Screen.desktopAvailableHeight * 0.9)
    minimumWidth: Math.round(fm.height * 30)
    minimumHeight: Math.round(fm.height * 20)
    visible: true
    title: chat.modelName ? qsTr("Engram Desktop — %1").arg(chat.modelName) : qsTr("Engram Desktop")


    FontMetrics { id: fm }

    // A model given with --model may live outside the models folder.
    readonly property bool hasModels: models.count > 0 || chat.modelLoaded || chat.loadingModel
    // The model library (LibraryPage) instead of the chat or first-start page.
    property bool showLibrary: false
    // The memory tiers panel beside the chat (Ctrl+M).
    property bool showMemory: false
    // Wide enough for the sidebar, the chat with its message box, and the memory panel side by side.
    readonly property bool wide: width >= Math.round(fm.height * 60)
    readonly property var memoryPanel: typeof memory !== "undefined" ? memory : null
    readonly property var libraryTools: typeof libraryActions !== "undefined" ? libraryActions : null
    // A dialog has the keyboard: the window's shortcuts stand aside, so that
    // a dialog's own keys (a file dialog's Ctrl+L, say) reach it.
    readonly property bool dialogOpen: exportDialog.visible || deleteDialog.visible
                                       || (remoteDialogLoader.item !== null && remoteDialogLoader.item.visible)
    // Remote engines (the app sets them; a test window may not).
    readonly property var remoteEngines: typeof remoteModels !== "undefined" ? remoteModels : null
    readonly property var pickerList: typeof pickerModels !== "undefined" ? pickerModels : models

    Shortcut {
        sequences: [StandardKey.New]
        context: Qt.ApplicationShortcut
        enabled: !window.dialogOpen
        onActivated: window.startNewChat()
    }
    Shortcut {
        sequences: [StandardKey.Find]
        context: Qt.ApplicationShortcut
        enabled: !window.dialogOpen
        onActivated: sidebar.focusSearch()
    }
    // Esc stops the reply on screen only when nothing else would take it: a
    // drawer, dialog or search closes first (each handles its own Esc).
    Shortcut {
        sequence: "Esc"
        context: Qt.ApplicationShortcut
        enabled: chat.busy && chat.replyingConversationId === chat.currentConversationId
                 && !settingsDrawer.opened && !memoryDrawer.opened && !window.dialogOpen && !sidebar.escapeHasWork
                 && !window.showLibrary
        onActivated: chat.stop()
    }
    Shortcut {
        sequence: "Ctrl+L"
        context: Qt.ApplicationShortcut
        enabled: !window.dialogOpen
        onActivated: window.showLibrary = !window.showLibrary
    }
    Shortcut {
        sequence: "Ctrl+M"
        context: Qt.ApplicationShortcut
        enabled: window.memoryPanel !== null && !window.dialogOpen
        onActivated: window.showMemory = !window.showMemory
    }
    Shortcut {
        sequence: "Ctrl+,"
        context: Qt.ApplicationShortcut
        enabled: !window.dialogOpen
        onActivated: settingsDrawer.open()
    }
    // Export the conversation on screen (as Markdown; the header's Export has JSON too).
    Shortcut {
        sequence: "Ctrl+Shift+S"
        context: Qt.ApplicationShortcut
        enabled: !window.dialogOpen && !window.showLibrary && chat.messages.count > 0
        onActivated: window.exportConversation("markdown")
    }
    function exportConversation(format) { exportDialog.ask(format) }
    Shortcut {
        sequence: "Ctrl+Shift+R"
        context: Qt.ApplicationShortcut
        enabled: window.remoteEngines !== null && !window.dialogOpen
        onActivated: window.openRemoteEngines()
    }
    function openRemoteEngines() {
        window.showLibrary = false
        remoteDialogLoader.active = true
        remoteDialogLoader.item.open()
    }

    function startNewChat() {
        if (sidebar.newChatBlockedReason.length > 0)
            return
        window.showLibrary = false
        chat.newConversation()
        chatView.focusComposer()
    }

    SplitView {
        anchors.fill: parent
        orientation: Qt.Horizontal

        Sidebar {
            id: sidebar
            SplitView.preferredWidth: Math.round(fm.height * 15)
            SplitView.minimumWidth: Math.round(fm.height * 10)
            SplitView.maximumWidth: Math.round(fm.height * 26)
            conversationList: conversations
            currentConversationId: chat.currentConversationId
            replyingConversationId: chat.replyingConversationId
            newChatBlockedReason: chat.modelLoaded || chat.loadingModel ? ""
                                  : qsTr("No model is loaded: choose one in the model picker or under Models.")
            onNewChatRequested: window.startNewChat()
            onLibraryRequested: window.showLibrary = true
            onConversationSelected: id => {
                window.showLibrary = false
                chat.selectConversation(id)
                chatView.focusComposer()
            }
            onRenameRequested: (id, title) => conversations.rename(id, title)
            onDeleteRequested: (id, title) => deleteDialog.ask(id, title)
        }

        StackLayout {
            SplitView.fillWidth: true
            currentIndex: window.showLibrary ? 2 : (window.hasModels ? 0 : 1)

            ChatView {
                id: chatView
                controller: chat
                modelList: window.pickerList
                onAddRemoteRequested: window.openRemoteEngines()
                onSettingsRequested: settingsDrawer.open()
                onMemoryRequested: window.showMemory = !window.showMemory
                onExportRequested: format => window.exportConversation(format)
            }

            FirstStartPage {
                modelList: models
                actions: window.libraryTools
                onLibraryRequested: window.showLibrary = true
                // (Registering it may already have started loading it: the list's first model.)
                onModelChosen: path => { if (!chat.loadingModel && chat.modelPath !== path) chat.loadModel(path) }
            }

            LibraryPage {
                id: libraryPage
                onUseRequested: path => {
                    chat.loadModel(path)
                    window.showLibrary = false
                }
                onCloseRequested: window.showLibrary = false
            }
        }

        // Beside the chat on a wide window; on a narrow one a drawer (below).
        Loader {
            active: window.memoryPanel !== null && window.wide
            visible: window.showMemory && active
            SplitView.preferredWidth: Math.round(fm.height * 28)
            SplitView.minimumWidth: Math.round(fm.height * 16)
            sourceComponent: MemoryPanel {
                panel: window.memoryPanel
                remote: window.remoteEngines
                replyRunning: chat.busy
                visible: window.showMemory
                onCloseRequested: window.showMemory = false
            }
        }
    }

    // The memory panel over the chat when the window is too narrow to keep
    // both usable side by side (Esc or a click beside it closes it).
    Drawer {
        id: memoryDrawer
        objectName: "memoryDrawer"
        edge: Qt.RightEdge
        width: Math.min(window.width * 0.92, Math.round(fm.height * 28))
        height: window.height
        onClosed: if (!window.wide) window.showMemory = false
        Loader {
            anchors.fill: parent
            active: window.memoryPanel !== null && !window.wide && window.showMemory
            sourceComponent: MemoryPanel {
                panel: window.memoryPanel
                remote: window.remoteEngines
                replyRunning: chat.busy
                visible: true
                onCloseRequested: window.showMemory = false
            }
        }
    }
    function placeMemoryPanel() {
        if (window.showMemory && !window.wide && window.memoryPanel !== null) memoryDrawer.open()
        else memoryDrawer.close()
    }
    onShowMemoryChanged: placeMemoryPanel()
    onWideChanged: placeMemoryPanel()

    // Drag a .gguf onto the window: imported (copied into the models folder).
    DropArea {
        id: dropArea
        objectName: "modelDropArea"
        anchors.fill: parent
        keys: ["text/uri-list"]
        onEntered: drag => {
            const ok = window.libraryTools !== null && drag.hasUrls
                       && drag.urls.some(u => String(u).toLowerCase().endsWith(".gguf"))
            drag.accepted = ok
        }
        onDropped: drop => {
            let imported = false
            for (const u of drop.urls) {
                if (String(u).toLowerCase().endsWith(".gguf"))
                    imported = window.libraryTools.importModel(String(u), true) || imported
            }
            // Failures are shown on the library page.
            if (!imported) window.showLibrary = true
            drop.accept()
        }
        Rectangle {
            anchors.fill: parent
            visible: dropArea.containsDrag
            color: Qt.rgba(0.2, 0.5, 0.9, 0.12)
            border.color: window.palette.highlight
            border.width: 2
            Label {
                anchors.centerIn: parent
                text: qsTr("Drop to import the model")
                font.pointSize: fm.font.pointSize * 1.4
            }
        }
    }

    SettingsDrawer {
        id: settingsDrawer
        objectName: "settingsDrawer"
        controller: chat
        server: typeof apiServer !== "undefined" ? apiServer : null
        look: typeof appearance !== "undefined" ? appearance : null
        width: Math.min(window.width * 0.9, Math.round(fm.height * 22))
        height: window.height
    }

    ExportDialog {
        id: exportDialog
        parent: Overlay.overlay
        controller: chat
        onClosed: chatView.focusComposer()
    }

    // "Add remote engine…" (the model picker's last entry, Ctrl+Shift+R).
    Loader {
        id: remoteDialogLoader
        active: false
        sourceComponent: RemoteEngineDialog {
            parent: Overlay.overlay
            remote: window.remoteEngines
            onUseRequested: ref => chat.loadModel(ref)
            onClosed: chatView.focusComposer()
        }
    }

    ConfirmDeleteDialog {
        id: deleteDialog
        onConfirmed: id => {
            conversations.remove(id)
            if (id === chat.currentConversationId)
                chat.newConversation()
        }
    }

    // Models turned up (first start, "Check again"): load the first if none is loaded.
    Connections {
        target: models
        function onCountChanged() {
            if (models.count > 0 && !chat.modelLoaded && !chat.loadingModel && typeof models.pathAt === "function")
                chat.loadModel(models.pathAt(0))
        }
    }

    // The library marks the chat's model "In use", lists it when it was opened
    // by path (--model) and refuses to delete it.
    Binding {
        when: window.libraryTools !== null
        target: window.libraryTools
        property: "inUsePath"
        value: chat.modelLoaded ? chat.modelPath : ""
    }

    Component.onCompleted: chatView.focusComposer()
}
