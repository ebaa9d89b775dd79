// The memory panel's throughput section: measured and predicted decode
// tokens/s, prefill tokens/s and time to first token, over a Qt Charts line
// chart of the last minutes (decode left axis, prefill right). Points are
// appended as the view-model samples them and dropped as they age out, so
// each sample costs one point, not a redraw of the series.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtCharts

ColumnLayout {
    id: root

    required property var panel
    readonly property var tput: panel.live && panel.live.throughput ? panel.live.throughput : ({})

    function rate(x) { return x === undefined || x === null ? "–" : Number(x).toFixed(1) }
    function last(points, fallback) { return points.length ? points[points.length - 1].y : fallback }

    // Brings `series` in line with the view-model's `points` (oldest first).
    function sync(series, axis, points) {
        while (series.count > 0 && (points.length === 0 || series.at(0).x < points[0].x))
            series.remove(0)
        const lastX = series.count > 0 ? series.at(series.count - 1).x : -1
        let top = 1
        for (const p of points) {
            if (p.x > lastX) series.append(p.x, p.y)
            top = Math.max(top, p.y)
        }
        axis.max = Math.ceil(top * 1.15)
    }

    FontMetrics { id: fm }

    SectionTitle { text: qsTr("Throughput") }
    Label {
        objectName: "throughputLine"
        Layout.fillWidth: true
        wrapMode: Text.Wrap
        text: qsTr("Decode %1 tok/s measured, %2 predicted · prefill %3 tok/s · first token %4")
              .arg(root.rate(root.last(root.panel.decodeSeries, root.tput.decode_tokens_per_s)))
              .arg(root.rate(root.panel.live.predicted ? root.panel.live.predicted.decode_tokens_per_s : null))
              .arg(root.rate(root.last(root.panel.prefillSeries, root.tput.prefill_tokens_per_s)))
              .arg(root.tput.ttft_ms !== undefined && root.tput.ttft_ms !== null ? Math.round(root.tput.ttft_ms) + " ms" : "–")
    }
    ChartView {
        objectName: "throughputChart"
        Layout.fillWidth: true
        Layout.preferredHeight: Math.round(fm.height * 11)
        antialiasing: true
        legend.alignment: Qt.AlignBottom
        margins { left: 2; right: 2; top: 2; bottom: 2 }
        backgroundColor: root.palette.base
        legend.labelColor: root.palette.text
        plotAreaColor: root.palette.base

        ValueAxis {
            id: axisX
            min: Math.max(0, root.panel.now - root.panel.seriesSpan)
            max: Math.max(root.panel.seriesSpan, root.panel.now)
            labelFormat: "%.0f s"
            labelsFont.pointSize: Math.max(1, fm.font.pointSize * 0.75)
            labelsColor: root.palette.text
            gridLineColor: Theme.chartGrid
            lineVisible: false
            tickCount: 4
            titleText: qsTr("seconds since the window opened")
            // Qt Charts 6.4 takes the title's colour only as a brush, which QML
            // cannot give: on dark, the labels and the legend carry the units.
            titleVisible: !Theme.dark
            titleFont.pointSize: Math.max(1, fm.font.pointSize * 0.75)
        }
        ValueAxis {
            id: axisDecode
            min: 0
            labelFormat: "%.0f"
            tickCount: 3
            labelsFont.pointSize: Math.max(1, fm.font.pointSize * 0.75)
            labelsColor: Theme.dark ? "#7fa7d6" : "#4e79a7"
            gridLineColor: Theme.chartGrid
            lineVisible: false
            titleText: qsTr("tok/s")
            titleVisible: !Theme.dark
            titleFont.pointSize: Math.max(1, fm.font.pointSize * 0.75)
        }
        ValueAxis {
            id: axisPrefill
            min: 0
            labelFormat: "%.0f"
            tickCount: 3
            labelsFont.pointSize: Math.max(1, fm.font.pointSize * 0.75)
            labelsColor: "#f28e2b"
            titleText: qsTr("tok/s")
            titleVisible: !Theme.dark
            titleFont.pointSize: Math.max(1, fm.font.pointSize * 0.75)
        }
        LineSeries {
            id: decodeSeries
            objectName: "decodeSeries"
            name: qsTr("decode tok/s"); axisX: axisX; axisY: axisDecode; color: "#4e79a7"; width: 2; pointsVisible: true
        }
        LineSeries {
            id: prefillSeries
            name: qsTr("prefill tok/s"); axisX: axisX; axisYRight: axisPrefill; color: "#f28e2b"; width: 2; pointsVisible: true
        }
    }

    Connections {
        target: root.panel
        function onSampled() {
            root.sync(decodeSeries, axisDecode, root.panel.decodeSeries)
            root.sync(prefillSeries, axisPrefill, root.panel.prefillSeries)
        }
    }
}
