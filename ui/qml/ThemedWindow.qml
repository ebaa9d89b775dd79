// The window every page sits in, dressed by the visual system (Theme.qml):
// the user's Appearance choice handed to the theme, and the theme's colours
// as the palette every control reads, group by group.
import QtQuick
import QtQuick.Controls

ApplicationWindow {
    // One palette for every control, from the visual system (Theme.qml):
    // light or dark as the system is, or as the user chose in Settings.
    Binding {
        target: Theme
        property: "mode"
        value: typeof appearance !== "undefined" ? appearance.theme : "system"
    }
    // Group by group: with one colour for all, a disabled control would look
    // like an enabled one (Qt greys disabled text through its group).
    palette.active.window: Theme.window
    palette.active.windowText: Theme.text
    palette.active.base: Theme.base
    palette.active.alternateBase: Theme.alternateBase
    palette.active.text: Theme.text
    palette.active.button: Theme.button
    palette.active.buttonText: Theme.text
    palette.active.brightText: Theme.accentText
    palette.active.highlight: Theme.accent
    palette.active.highlightedText: Theme.accentText
    palette.active.link: Theme.accent
    palette.active.mid: Theme.border
    palette.active.midlight: Theme.alternateBase
    palette.active.dark: Theme.border
    palette.active.light: Theme.base
    palette.active.shadow: Qt.rgba(0, 0, 0, Theme.dark ? 0.6 : 0.25)
    palette.active.placeholderText: Theme.mutedText
    palette.active.toolTipBase: Theme.toolTipBase
    palette.active.toolTipText: Theme.toolTipText
    palette.inactive.window: Theme.window
    palette.inactive.windowText: Theme.text
    palette.inactive.base: Theme.base
    palette.inactive.alternateBase: Theme.alternateBase
    palette.inactive.text: Theme.text
    palette.inactive.button: Theme.button
    palette.inactive.buttonText: Theme.text
    palette.inactive.brightText: Theme.accentText
    palette.inactive.highlight: Theme.accent
    palette.inactive.highlightedText: Theme.accentText
    palette.inactive.link: Theme.accent
    palette.inactive.mid: Theme.border
    palette.inactive.midlight: Theme.alternateBase
    palette.inactive.dark: Theme.border
    palette.inactive.light: Theme.base
    palette.inactive.shadow: Qt.rgba(0, 0, 0, Theme.dark ? 0.6 : 0.25)
    palette.inactive.placeholderText: Theme.mutedText
    palette.inactive.toolTipBase: Theme.toolTipBase
    palette.inactive.toolTipText: Theme.toolTipText
    palette.disabled.window: Theme.window
    palette.disabled.windowText: Theme.mutedText
    palette.disabled.base: Theme.base
    palette.disabled.alternateBase: Theme.alternateBase
    palette.disabled.text: Theme.mutedText
    palette.disabled.button: Theme.alternateBase
    palette.disabled.buttonText: Theme.mutedText
    palette.disabled.brightText: Theme.accentText
    palette.disabled.highlight: Theme.border
    palette.disabled.highlightedText: Theme.mutedText
    palette.disabled.link: Theme.accent
    palette.disabled.mid: Theme.border
    palette.disabled.midlight: Theme.alternateBase
    palette.disabled.dark: Theme.border
    palette.disabled.light: Theme.base
    palette.disabled.shadow: Qt.rgba(0, 0, 0, Theme.dark ? 0.6 : 0.25)
    palette.disabled.placeholderText: Theme.mutedText
    palette.disabled.toolTipBase: Theme.toolTipBase
    palette.disabled.toolTipText: Theme.toolTipText

    color: palette.window
}
