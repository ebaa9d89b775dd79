// Engine logging through spdlog. The engine logs to the logger named "engram";
// the app may replace its sinks (file, Qt) through set_log_sinks().
#pragma once

#include <memory>
#include <vector>

#include <spdlog/spdlog.h>

namespace eg {

std::shared_ptr<spdlog::logger> logger();
void set_log_sinks(std::vector<spdlog::sink_ptr> sinks);
void set_log_level(spdlog::level::level_enum level);

// A GPU plugin carries its own copy of this file: it hands every log line
// to the program's logger through the program's logger() (backend/gpu_plugin.h).
using LoggerSource = std::shared_ptr<spdlog::logger> (*)();
void set_logger_source(LoggerSource source);

}  // namespace eg

#define EG_LOG_DEBUG(...) SPDLOG_LOGGER_DEBUG(::eg::logger(), __VA_ARGS__)
#define EG_LOG_INFO(...) SPDLOG_LOGGER_INFO(::eg::logger(), __VA_ARGS__)
#define EG_LOG_WARN(...) SPDLOG_LOGGER_WARN(::eg::logger(), __VA_ARGS__)
#define EG_LOG_ERROR(...) SPDLOG_LOGGER_ERROR(::eg::logger(), __VA_ARGS__)
