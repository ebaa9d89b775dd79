#include "core/log.h"

#include <atomic>
#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace eg {

namespace {
std::mutex g_mu;
std::shared_ptr<spdlog::logger> make_default() {
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    auto l = std::make_shared<spdlog::logger>("engram", sink);
    l->set_level(spdlog::level::warn);
    l->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    return l;
}
std::shared_ptr<spdlog::logger>& slot() {
    static std::shared_ptr<spdlog::logger> l = make_default();
    return l;
}
std::atomic<LoggerSource> g_source{nullptr};
}  // namespace

std::shared_ptr<spdlog::logger> logger() {
    if (LoggerSource src = g_source.load(std::memory_order_acquire)) return src();
    std::lock_guard<std::mutex> lock(g_mu);
    return slot();
}

void set_logger_source(LoggerSource source) {
    if (source != &logger) g_source.store(source, std::memory_order_release);
}

void set_log_sinks(std::vector<spdlog::sink_ptr> sinks) {
    std::lock_guard<std::mutex> lock(g_mu);
    auto level = slot()->level();
    auto l = std::make_shared<spdlog::logger>("engram", sinks.begin(), sinks.end());
    l->set_level(level);
    slot() = l;
}

void set_log_level(spdlog::level::level_enum level) {
    std::lock_guard<std::mutex> lock(g_mu);
    slot()->set_level(level);
}

}  // namespace eg
