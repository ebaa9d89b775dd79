#include "paths.h"

#include <QDir>
#include <QStandardPaths>

namespace eg::app {

QString cache_root_dir() {
    const QString explicit_dir = qEnvironmentVariable("ENGRAM_CACHE_DIR");
    if (!explicit_dir.isEmpty()) return explicit_dir;
    const QString xdg = qEnvironmentVariable("XDG_CACHE_HOME");
    if (!xdg.isEmpty()) return xdg + QStringLiteral("/engram-desktop");
    return QDir::homePath() + QStringLiteral("/.cache/engram-desktop");
}

QString model_cache_dir() { return cache_root_dir() + QStringLiteral("/models"); }

QString default_model_path() { return model_cache_dir() + QStringLiteral("/SmolLM2-135M-Instruct.Q4_1.gguf"); }

QString data_dir(const QString& override_dir) {
    QString dir = override_dir.isEmpty() ? QStandardPaths::writableLocation(QStandardPaths::AppDataLocation)
                                         : QDir(override_dir).absolutePath();
    QDir().mkpath(dir);
    return dir;
}

}  // namespace eg::app
