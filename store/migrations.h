// Schema versions of the conversation store and the SQL steps between them
// (internal to the store; ChatStore::open() is the only caller).
#pragma once

#include <QSqlDatabase>
#include <QString>

namespace eg::store::migrations {

// The version recorded in `schema_version`; 0 for an empty file (a new store).
// -1 with *error set when the file is not a store or cannot be read.
int read_version(QSqlDatabase& db, QString* error);

// Runs every step from `from` up to `to`, each in its own transaction that
// also records the new version, so an interrupted migration resumes cleanly.
bool migrate(QSqlDatabase& db, int from, int to, QString* error);

}  // namespace eg::store::migrations
