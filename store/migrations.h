// Schema versions of the conversation store and the SQL steps between them
// (internal to the store; ChatStore::open() is the only caller).
#pragma once

#include <QSqlDatabase>
#include <QString>

#include "core/result.h"

namespace eg::store::migrations {

// The version recorded in `schema_version`; 0 for an empty file (a new store).
// An error when the file is not a store or cannot be read.
eg::Result<int> read_version(QSqlDatabase& db);

// Runs every step from `from` up to `to`, each in its own transaction that
// also records the new version, so an interrupted migration resumes cleanly.
eg::Status migrate(QSqlDatabase& db, int from, int to);

}  // namespace eg::store::migrations
