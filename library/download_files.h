// What a download leaves on disk and how it is named: the resolve URL, the
// .part.json sidecar beside a .part, and the parts of a split model. Shared
// by downloader.cpp and download_files.cpp (partial_downloads, adopt) only:
// the sidecar's format is known nowhere else.
#pragma once

#include <QString>
#include <QStringList>
#include <QUrl>

#include <optional>

namespace eg::library::download_files {

// {endpoint}/{repo}/resolve/{revision}/{file}: the revision is one path
// segment ("refs/pr/1" -> refs%2Fpr%2F1); the file's own folders stay folders.
QUrl resolve_url(const QString& endpoint, const QString& repo, const QString& revision, const QString& file);

// The sidecar <file>.part.json: what the .part was fetched from, so that a
// later run continues only the same file (and knows which one it is).
struct Sidecar {
    QString url;
    QString etag;             // the server's etag the bytes were fetched under
    QString expected_sha256;  // the request's, when it had one
    qint64 total_bytes = -1;
};

QString sidecar_path_of(const QString& part_path);
std::optional<Sidecar> read_sidecar(const QString& part_path);
void write_sidecar(const QString& part_path, const Sidecar& s, qint64 bytes);

// All parts of the split model that `file` is a part of (any part); empty
// when it is a single file.
QStringList split_of_part(const QString& file);

}  // namespace eg::library::download_files
