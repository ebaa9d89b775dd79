#include "library/download_files.h"

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>

#include <algorithm>

#include "library/downloader.h"
#include "library/gguf_check.h"

namespace eg::library {

namespace download_files {

QUrl resolve_url(const QString& endpoint, const QString& repo, const QString& revision, const QString& file) {
    return QUrl(QStringLiteral("%1/%2/resolve/%3/%4")
                    .arg(endpoint, repo, QString::fromLatin1(QUrl::toPercentEncoding(revision)), file));
}

QString sidecar_path_of(const QString& part_path) { return part_path + QStringLiteral(".json"); }

std::optional<Sidecar> read_sidecar(const QString& part_path) {
    QFile side(sidecar_path_of(part_path));
    if (!side.open(QIODevice::ReadOnly)) return std::nullopt;
    const QJsonObject o = QJsonDocument::fromJson(side.readAll()).object();
    Sidecar s;
    s.url = o.value(QStringLiteral("url")).toString();
    s.etag = o.value(QStringLiteral("etag")).toString();
    s.expected_sha256 = o.value(QStringLiteral("expected_sha256")).toString();
    s.total_bytes = o.value(QStringLiteral("total_bytes")).toInteger(-1);
    return s;
}

void write_sidecar(const QString& part_path, const Sidecar& s, qint64 bytes) {
    QJsonObject o;
    o[QStringLiteral("url")] = s.url;
    o[QStringLiteral("etag")] = s.etag;
    o[QStringLiteral("expected_sha256")] = s.expected_sha256;
    o[QStringLiteral("bytes")] = qMax<qint64>(bytes, 0);
    o[QStringLiteral("total_bytes")] = s.total_bytes;
    QFile f(sidecar_path_of(part_path));
    if (f.open(QIODevice::WriteOnly | QIODevice::Truncate)) f.write(QJsonDocument(o).toJson(QJsonDocument::Compact));
}

QStringList split_of_part(const QString& file) {
    static const QRegularExpression re(QStringLiteral("^(.*)-(\\d{5})-of-(\\d{5})\\.gguf$"));
    const auto m = re.match(file);
    if (!m.hasMatch() || m.captured(3).toInt() < 2) return {};
    const QStringList parts =
        model_files(QStringLiteral("%1-00001-of-%2.gguf").arg(m.captured(1), m.captured(3)));
    return parts.size() > 1 && parts.contains(file) ? parts : QStringList();
}

}  // namespace download_files

using namespace download_files;

QList<PartialDownload> Downloader::partial_downloads(const QString& dir) const {
    QList<PartialDownload> out;
    const QString prefix = endpoint_ + QLatin1Char('/');
    QFileInfoList parts;
    // Downloads keep the repository's folders: their .part files are below dir.
    for (QDirIterator it(dir, {QStringLiteral("*.part")}, QDir::Files, QDirIterator::Subdirectories); it.hasNext();)
        parts << QFileInfo(it.next());
    std::sort(parts.begin(), parts.end(),
              [](const QFileInfo& a, const QFileInfo& b) { return a.absoluteFilePath() < b.absoluteFilePath(); });
    for (const QFileInfo& part : std::as_const(parts)) {
        if (part.size() <= 0) continue;
        const std::optional<Sidecar> side = read_sidecar(part.absoluteFilePath());
        // Another endpoint's (or no sidecar): start() would not continue these bytes.
        if (!side || !side->url.startsWith(prefix)) continue;
        const QString rest = side->url.mid(prefix.size());
        const int at = rest.indexOf(QStringLiteral("/resolve/"));
        if (at <= 0) continue;
        const QString rev_file = rest.mid(at + 9);
        const int slash = rev_file.indexOf(QLatin1Char('/'));
        if (slash <= 0 || slash + 1 >= rev_file.size()) continue;
        PartialDownload p;
        p.request.repo = rest.left(at);
        p.request.revision = QUrl::fromPercentEncoding(rev_file.left(slash).toUtf8());
        p.request.file = rev_file.mid(slash + 1);
        p.request.dest_dir = dir;
        p.request.expected_sha256 = side->expected_sha256;
        p.request.expected_size_bytes = side->total_bytes;
        // Only what start() would resolve to the same URL and .part.
        if (resolve_url(endpoint_, p.request.repo, p.request.revision, p.request.file).toString() != side->url ||
            QFileInfo(part_path_for(p.request)).absoluteFilePath() != part.absoluteFilePath())
            continue;
        p.part_path = part.absoluteFilePath();
        p.bytes_done = part.size();
        p.bytes_total = side->total_bytes;
        const QStringList split = split_of_part(p.request.file);
        if (!split.isEmpty()) {
            // A part of a split model continues as the whole model, under its first part's name.
            p.request.file = split[0];
            p.request.expected_size_bytes = -1;
            p.bytes_total = -1;
            DownloadRequest r = p.request;
            for (const QString& f : split) {
                r.file = f;
                if (QFileInfo(final_path_for(r)).isFile()) p.bytes_done += QFileInfo(final_path_for(r)).size();
            }
            if (std::any_of(out.cbegin(), out.cend(),
                            [&](const PartialDownload& o) { return o.request.file == p.request.file; }))
                continue;
        }
        out.push_back(p);
    }
    return out;
}

}  // namespace eg::library
