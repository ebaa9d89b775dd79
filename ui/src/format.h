// How the window words sizes, rates and durations: one formatter and one unit
// system (IEC: KiB, MiB, GiB), the engine's eg::format_bytes, as the planner
// and the memory panel word sizes. Every view-model formats through here.
#pragma once

#include <QString>

namespace eg::ui {

QString format_bytes(qint64 bytes);       // "94 MiB", "4.1 GiB"; negative counts as 0
QString format_rate(double bytes_per_s);  // "38 MiB/s"
QString format_duration(qint64 seconds);  // "45 s", "1 min 20 s", "2 h 5 min"
// "1.1 GiB / 4.1 GiB · 38 MiB/s · 1 min 20 s left": the total, the rate and
// the time left only where known (total <= 0, rate <= 0: left out).
QString format_progress(qint64 done_bytes, qint64 total_bytes, double bytes_per_s);

}  // namespace eg::ui
