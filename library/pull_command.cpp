#include "library/pull_command.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFileInfo>
#include <QJsonDocument>

#include <cstdio>
#include <unistd.h>

#include "library/downloader.h"
#include "library/model_registry.h"
#include "store/result_qt.h"
#include "plan/planner.h"

namespace eg::library {

QString registry_path(const QString& data_dir) { return data_dir + QStringLiteral("/models.sqlite3"); }

namespace {

// IEC units, as the planner and the window word sizes.
QString bytes_text(qint64 bytes) { return QString::fromStdString(eg::format_bytes(bytes > 0 ? quint64(bytes) : 0)); }

QString eta_text(double eta_s) {
    if (eta_s < 0) return QStringLiteral("--");
    const qint64 s = qint64(eta_s + 0.5);
    if (s >= 3600) return QStringLiteral("%1h%2m").arg(s / 3600).arg((s % 3600) / 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1m%2s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
}

}  // namespace

int run_pull(const QString& data_dir, const QString& models_dir, const QString& repo, const QString& file,
             const QString& revision) {
    ModelRegistry registry(QStringLiteral("engram-pull"));
    if (auto opened = registry.open(registry_path(data_dir)); !opened) {
        std::fprintf(stderr, "engram-desktop: cannot open the model registry: %s\n", opened.message().c_str());
        return 1;
    }
    Downloader downloader(data_dir);
    DownloadRequest req;
    req.repo = repo;
    req.file = file;
    req.revision = revision.isEmpty() ? QStringLiteral("main") : revision;
    req.dest_dir = models_dir;

    const bool tty = isatty(STDERR_FILENO);
    qint64 last_line_ms = -1;
    QElapsedTimer clock;
    clock.start();
    int rc = 1;
    QEventLoop loop;
    QObject::connect(&downloader, &Downloader::progress, &loop,
                     [&](qint64, qint64 done, qint64 total, double bytes_per_s, double eta_s) {
                         // A terminal gets one updating line; a log gets a line every 2 s.
                         if (!tty && last_line_ms >= 0 && clock.elapsed() - last_line_ms < 2000) return;
                         last_line_ms = clock.elapsed();
                         const QString line =
                             QStringLiteral("%1 / %2  %3/s  ETA %4")
                                 .arg(bytes_text(done), total >= 0 ? bytes_text(total) : QStringLiteral("?"),
                                      bytes_text(qint64(bytes_per_s)), eta_text(eta_s));
                         std::fprintf(stderr, tty ? "\r%-60s" : "%s\n", qPrintable(line));
                     });
    QObject::connect(&downloader, &Downloader::notice, &loop, [&](qint64, const QString& message) {
        std::fprintf(stderr, "%s%s\n", tty ? "\n" : "", qPrintable(message));
    });
    QObject::connect(&downloader, &Downloader::failed, &loop, [&](qint64, const DownloadError& error) {
        std::fprintf(stderr, "%sengram-desktop: %s/%s: %s\n", tty ? "\n" : "", qPrintable(repo), qPrintable(file),
                     qPrintable(error.message));
        rc = 1;
        loop.quit();
    });
    QObject::connect(&downloader, &Downloader::finished, &loop,
                     [&](qint64, const QString& final_path, const QString& sha256) {
                         const auto added =
                             registry.add(downloaded_model(repo, req.revision, file, final_path, sha256));
                         if (!added) {
                             std::fprintf(stderr, "%sengram-desktop: downloaded %s but cannot register it: %s\n",
                                          tty ? "\n" : "", qPrintable(final_path), added.message().c_str());
                             rc = 1;
                         } else {
                             std::fprintf(stderr, "%sverified sha256 %s\n%s\n", tty ? "\n" : "", qPrintable(sha256),
                                          qPrintable(final_path));
                             rc = 0;
                         }
                         loop.quit();
                     });
    const QString part = Downloader::part_path_for(req);
    if (QFileInfo::exists(part))
        std::fprintf(stderr, "resuming from %s (%s already here)\n", qPrintable(part),
                     qPrintable(bytes_text(QFileInfo(part).size())));
    downloader.start(req);
    loop.exec();
    return rc;
}

int run_list_models(const QString& data_dir, const QString& models_dir) {
    ModelRegistry registry(QStringLiteral("engram-list"));
    if (auto opened = registry.open(registry_path(data_dir)); !opened) {
        std::fprintf(stderr, "engram-desktop: cannot open the model registry: %s\n", opened.message().c_str());
        return 1;
    }
    if (auto scanned = registry.scan_folder(models_dir); !scanned)
        std::fprintf(stderr, "engram-desktop: cannot list %s: %s\n", qPrintable(models_dir), scanned.message().c_str());
    const QByteArray json = QJsonDocument(ModelRegistry::to_json(registry.list())).toJson(QJsonDocument::Indented);
    std::fwrite(json.constData(), 1, size_t(json.size()), stdout);
    return 0;
}

}  // namespace eg::library
