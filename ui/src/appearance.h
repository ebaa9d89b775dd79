// The window's look the user chose (QML `appearance`, Settings →
// Appearance): follow the system's light or dark (the default), or always
// light, or always dark. Remembered in the preferences (appearance/theme);
// Theme.qml turns it into colours.
#pragma once

#include <QObject>
#include <QString>

class QSettings;

namespace eg::ui {

class Appearance : public QObject {
    Q_OBJECT
    // "system", "light" or "dark".
    Q_PROPERTY(QString theme READ theme WRITE setTheme NOTIFY themeChanged)
public:
    // prefs may be null: "system", nothing remembered.
    explicit Appearance(QSettings* prefs, QObject* parent = nullptr);
    QString theme() const { return theme_; }
    // An unknown name is ignored (the setting stays as it was).
    void setTheme(const QString& theme);

signals:
    void themeChanged();

private:
    QSettings* prefs_ = nullptr;
    QString theme_ = QStringLiteral("system");
};

}  // namespace eg::ui
