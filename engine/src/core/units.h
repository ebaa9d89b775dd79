// How the program words a size: one formatter, IEC units (KiB, MiB, GiB),
// for the planner's sentences, file errors, the CLI and, through
// ui/src/format.h, every figure in the window.
#pragma once

#include <cstdint>
#include <string>

namespace eg {

// "1.5 GiB", "312 MiB", "12 KiB", "900 bytes"; GiB is the largest unit.
std::string format_bytes(uint64_t bytes);

}  // namespace eg
