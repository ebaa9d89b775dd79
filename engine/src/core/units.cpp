#include "core/units.h"

#include <cstdio>

namespace eg {

std::string format_bytes(uint64_t bytes) {
    char buf[64];
    const double b = (double)bytes;
    constexpr double KiB = 1024.0, MiB = KiB * 1024, GiB = MiB * 1024;
    // 0.95: "1.0 GiB" rather than "1019 MiB". No TiB: the largest tables
    // (hundreds of GiB) read best beside the GiB of memory they compete for.
    if (b >= GiB * 0.95) std::snprintf(buf, sizeof buf, "%.1f GiB", b / GiB);
    else if (b >= MiB * 0.95) std::snprintf(buf, sizeof buf, "%.0f MiB", b / MiB);
    else if (b >= KiB) std::snprintf(buf, sizeof buf, "%.0f KiB", b / KiB);
    else std::snprintf(buf, sizeof buf, "%llu bytes", (unsigned long long)bytes);
    return buf;
}

}  // namespace eg
