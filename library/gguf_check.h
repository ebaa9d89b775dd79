// Checks applied to a model file before it is listed as installed: SHA-256 of
// the bytes, and a GGUF header + tensor table that the engine can read.
#pragma once

#include <QCryptographicHash>
#include <QString>
#include <QStringList>

#include "core/result.h"

namespace eg::library {

// Feeds the first `limit_bytes` of `path` (all of it when negative) into
// `hash`; an error when the file cannot be read that far.
eg::Status hash_file_into(const QString& path, QCryptographicHash& hash, qint64 limit_bytes);

// Lower-case hex SHA-256 of the whole file.
eg::Result<QString> sha256_of_file(const QString& path);

// Succeeds when GgufFile::open accepts the file (header and tensor table);
// otherwise the error is the engine's reason.
eg::Status check_gguf(const QString& path);

// The files of one model: the N parts NAME-00001-of-0000N.gguf ... of a
// split model when `file` is its first part (llama.cpp's naming; a path or a
// repository file name), else `file` alone.
QStringList model_files(const QString& file);
// Whether `file` is part 2..N of a split model: listed under its first part, never alone.
bool is_later_split_part(const QString& file);
// Bytes of all of a model's files that exist (model_files).
qint64 model_bytes(const QString& path);

// check_gguf for one file alone, also one part of a split model (what a
// download checks before the other parts are there).
eg::Status check_gguf_part(const QString& path);

// Whether the engine runs a local GGUF, from its header alone (all parts of
// a split model): eg::check_runnable's sentence when it does not. Import
// says it before copying anything.
eg::Status check_runnable_file(const QString& path);

// Whether the engine runs a file of the Hub, from what is known before a
// byte of it is fetched: the quant tag in its name ("...IQ4_XS.gguf") and
// the repository's architecture (the Hub API's gguf.architecture; empty
// when unknown). The sentence names what it is and what the engine runs.
eg::Status runnable_on_hub(const QString& repo, const QString& file, const QString& architecture);

// True for 64 hex digits (what Hugging Face's LFS etag holds).
bool looks_like_sha256(const QString& text);

}  // namespace eg::library
