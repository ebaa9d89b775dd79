#include "appearance.h"

#include <QSettings>

#include "core/log.h"

namespace eg::ui {

namespace {
const QString kKey = QStringLiteral("appearance/theme");
bool known(const QString& t) {
    return t == QLatin1String("system") || t == QLatin1String("light") || t == QLatin1String("dark");
}
}  // namespace

Appearance::Appearance(QSettings* prefs, QObject* parent) : QObject(parent), prefs_(prefs) {
    if (!prefs_) return;
    const QString saved = prefs_->value(kKey, theme_).toString();
    if (known(saved)) theme_ = saved;
    else EG_LOG_WARN("settings: appearance/theme \"{}\" is not system, light or dark; following the system",
                     saved.toStdString());
}

void Appearance::setTheme(const QString& theme) {
    if (!known(theme) || theme == theme_) return;
    theme_ = theme;
    if (prefs_) prefs_->setValue(kKey, theme_);
    emit themeChanged();
}

}  // namespace eg::ui
