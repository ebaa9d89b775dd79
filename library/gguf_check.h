// Checks applied to a model file before it is listed as installed: SHA-256 of
// the bytes, and a GGUF header + tensor table that the engine can read.
#pragma once

#include <QCryptographicHash>
#include <QString>

namespace eg::library {

// Feeds the first `limit_bytes` of `path` (all of it when negative) into
// `hash`. False with `error` set when the file cannot be read that far.
bool hash_file_into(const QString& path, QCryptographicHash& hash, qint64 limit_bytes, QString* error);

// Lower-case hex SHA-256 of the whole file; empty with `error` on failure.
QString sha256_of_file(const QString& path, QString* error);

// Empty when GgufFile::open accepts the file (header and tensor table);
// otherwise the engine's reason.
QString gguf_problem(const QString& path);

// True for 64 hex digits (what Hugging Face's LFS etag holds).
bool looks_like_sha256(const QString& text);

}  // namespace eg::library
