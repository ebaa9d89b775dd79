// The headless front end of the library: `engram-desktop --pull` and
// `--list-models`, for scripts and terminals (like `ollama pull`). Both need
// only a QCoreApplication, so they run without a display.
#pragma once

#include <QString>

namespace eg::library {

// Downloads repo/file@revision into models_dir with progress on stderr,
// resuming an earlier .part, verifies it and registers it in
// <data_dir>/models.sqlite3. Returns the process exit status (0 on success).
int run_pull(const QString& data_dir, const QString& models_dir, const QString& repo, const QString& file,
             const QString& revision);

// Prints the installed models as a JSON array on stdout: the registry, with
// the .gguf files found in models_dir registered first (as the window does).
// Returns the exit status.
int run_list_models(const QString& data_dir, const QString& models_dir);

// Where the registry lives inside the data dir.
QString registry_path(const QString& data_dir);

}  // namespace eg::library
