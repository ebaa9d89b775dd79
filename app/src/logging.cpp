#include "logging.h"

#include <QDir>

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "core/log.h"

namespace eg::app {

namespace {

void qt_message_handler(QtMsgType type, const QMessageLogContext& ctx, const QString& msg) {
    const std::string text = msg.toStdString();
    const char* category = ctx.category && std::string_view(ctx.category) != "default" ? ctx.category : nullptr;
    auto l = eg::logger();
    spdlog::level::level_enum level = spdlog::level::info;
    switch (type) {
        case QtDebugMsg: level = spdlog::level::debug; break;
        case QtInfoMsg: level = spdlog::level::info; break;
        case QtWarningMsg: level = spdlog::level::warn; break;
        case QtCriticalMsg: level = spdlog::level::err; break;
        case QtFatalMsg: level = spdlog::level::critical; break;
    }
    if (category) l->log(level, "[qt:{}] {}", category, text);
    else l->log(level, "[qt] {}", text);
    if (type == QtFatalMsg) {
        l->flush();
        std::abort();
    }
}

}  // namespace

QString init_logging(const QString& data_dir, bool verbose) {
    const QString log_dir = data_dir + QStringLiteral("/logs");
    QDir().mkpath(log_dir);
    const QString path = log_dir + QStringLiteral("/engram-desktop.log");
    std::vector<spdlog::sink_ptr> sinks;
    sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    try {
        // 5 MiB per file, 3 files kept.
        sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(path.toStdString(), 5u << 20, 3));
    } catch (const spdlog::spdlog_ex& e) {
        eg::logger()->warn("cannot open the log file {}: {}", path.toStdString(), e.what());
    }
    for (auto& s : sinks) s->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] [t%t] %v");
    eg::set_log_sinks(sinks);
    eg::set_log_level(verbose ? spdlog::level::debug : spdlog::level::info);
    eg::logger()->flush_on(spdlog::level::warn);
    qInstallMessageHandler(qt_message_handler);
    return path;
}

}  // namespace eg::app
