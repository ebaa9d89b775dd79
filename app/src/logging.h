// Logging of the desktop app: one spdlog logger (the engine's "engram") writing
// to a rotating file in the data dir and to stderr; Qt's own messages go there too.
#pragma once

#include <QString>

namespace eg::app {

// Returns the log file's path. verbose: debug level, else info.
QString init_logging(const QString& data_dir, bool verbose);

}  // namespace eg::app
