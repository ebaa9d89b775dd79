#include "format.h"

#include <QStringList>

#include <algorithm>
#include <cmath>

#include "plan/planner.h"

namespace eg::ui {

QString format_bytes(qint64 bytes) { return QString::fromStdString(eg::format_bytes(bytes > 0 ? quint64(bytes) : 0)); }

QString format_rate(double bytes_per_s) { return format_bytes(qint64(bytes_per_s)) + QStringLiteral("/s"); }

QString format_duration(qint64 seconds) {
    if (seconds < 60) return QStringLiteral("%1 s").arg(std::max<qint64>(seconds, 0));
    if (seconds < 3600) {
        const qint64 s = seconds % 60;
        return s ? QStringLiteral("%1 min %2 s").arg(seconds / 60).arg(s) : QStringLiteral("%1 min").arg(seconds / 60);
    }
    const qint64 m = seconds % 3600 / 60;
    return m ? QStringLiteral("%1 h %2 min").arg(seconds / 3600).arg(m) : QStringLiteral("%1 h").arg(seconds / 3600);
}

QString format_progress(qint64 done_bytes, qint64 total_bytes, double bytes_per_s) {
    QStringList parts;
    parts << (total_bytes > 0 ? QStringLiteral("%1 / %2").arg(format_bytes(done_bytes), format_bytes(total_bytes))
                              : format_bytes(done_bytes));
    if (bytes_per_s > 0) {
        parts << format_rate(bytes_per_s);
        if (total_bytes > done_bytes)
            parts << QStringLiteral("%1 left").arg(
                format_duration((qint64)std::ceil((double)(total_bytes - done_bytes) / bytes_per_s)));
    }
    return parts.join(QStringLiteral(" · "));
}

}  // namespace eg::ui
