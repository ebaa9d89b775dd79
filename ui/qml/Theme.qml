// The one visual system of the window: light and dark palettes (the
// system's choice by default, or the user's from Settings → Appearance), an
// accent colour, a spacing scale, a type scale and corner radii. Main.qml
// hands the palette to every control; components read the rest from here.
pragma Singleton
import QtQuick

QtObject {
    id: theme

    // "system", "light" or "dark" (the app's Appearance setting).
    property string mode: "system"
    // The desktop's palette, read only to tell whether it is dark.
    readonly property SystemPalette system: SystemPalette { colorGroup: SystemPalette.Active }
    readonly property bool systemDark: system.window.hslLightness < 0.45
    readonly property bool dark: mode === "dark" || (mode === "system" && systemDark)

    // --- colours --------------------------------------------------------
    readonly property color accent: dark ? "#6ea8fe" : "#2f6fde"
    readonly property color accentText: dark ? "#0b1220" : "#ffffff"
    readonly property color window: dark ? "#1e2126" : "#f6f7f9"
    readonly property color surface: dark ? "#17191d" : "#eceef2"      // the sidebar, the header
    readonly property color base: dark ? "#262a30" : "#ffffff"         // fields, lists, the chart
    readonly property color alternateBase: dark ? "#2c3138" : "#f1f3f6"
    readonly property color text: dark ? "#e6e8eb" : "#1c1f24"
    readonly property color mutedText: dark ? "#a3a9b3" : "#5c6370"
    readonly property color border: dark ? "#3a4048" : "#d3d7de"
    readonly property color button: dark ? "#2e333a" : "#f3f4f6"
    readonly property color userBubble: dark ? "#24344d" : "#e4edfc"
    readonly property color codeBackground: dark ? "#15171a" : "#f3f4f6"
    readonly property color toolTipBase: dark ? "#33383f" : "#2b2f35"
    readonly property color toolTipText: "#f2f3f5"
    readonly property color success: dark ? "#5cc98a" : "#2e9d5b"
    readonly property color warning: dark ? "#e0a84a" : "#b9770e"
    readonly property color danger: dark ? "#f07171" : "#c0392b"
    readonly property color chartGrid: dark ? "#3a4048" : "#e1e4e9"

    // --- spacing, type and corners (in pixels / points of the UI font) ----
    readonly property FontMetrics metrics: FontMetrics {}
    readonly property real unit: Math.round(metrics.height * 0.25)   // 1 step of the spacing scale
    readonly property int spacingXS: unit
    readonly property int spacingS: unit * 2
    readonly property int spacingM: unit * 3
    readonly property int spacingL: unit * 4
    readonly property int spacingXL: unit * 6
    readonly property real fontSmall: metrics.font.pointSize * 0.85
    readonly property real fontBody: metrics.font.pointSize
    readonly property real fontTitle: metrics.font.pointSize * 1.15
    readonly property real fontHeading: metrics.font.pointSize * 1.4
    readonly property int radiusS: 4
    readonly property int radiusM: 8
    readonly property int radiusL: 14

    // An icon of the bundled set (ui/qml/icons, drawn for this app).
    function icon(name) { return "qrc:/EngramDesktop/icons/" + name + ".svg" }
}
