// The window's switch for the local OpenAI-compatible server (Settings):
// off by default, remembered in the preferences with its port. It only asks
// (startRequested/stopRequested); app/ runs the server on the window's engine
// worker and says how it went (onStarted/onFailed/onStopped).
#pragma once

#include <QObject>
#include <QString>

class QSettings;

namespace eg::ui {

class ServerSwitch : public QObject {
    Q_OBJECT
    Q_PROPERTY(bool enabled READ enabled WRITE setEnabled NOTIFY enabledChanged)
    Q_PROPERTY(int port READ port WRITE setPort NOTIFY portChanged)
    Q_PROPERTY(bool serving READ serving NOTIFY statusChanged)
    Q_PROPERTY(QString status READ status NOTIFY statusChanged)
public:
    // prefs may be null: off, port 8080, nothing remembered.
    explicit ServerSwitch(QSettings* prefs, QObject* parent = nullptr);

    bool enabled() const { return enabled_; }
    void setEnabled(bool on);
    int port() const { return port_; }
    void setPort(int port);  // 1..65535; takes effect at the next start
    bool serving() const { return serving_; }
    QString status() const { return status_; }

    // At start: asks for the server when the switch was left on.
    void restore();

public slots:
    void onStarted(const QString& base_url);
    void onFailed(const QString& why);  // the switch goes back off
    void onStopped();

signals:
    void enabledChanged();
    void portChanged();
    void statusChanged();
    void startRequested(int port);
    void stopRequested();

private:
    void set_status(bool serving, const QString& status);
    QSettings* prefs_ = nullptr;
    bool enabled_ = false;
    int port_ = 8080;
    bool serving_ = false;
    QString status_;
};

}  // namespace eg::ui
