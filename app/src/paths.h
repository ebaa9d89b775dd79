// Where Engram Desktop keeps its files: the data dir (SQLite, logs) and the
// model cache dir shared with engram-cli and the fetch scripts.
#pragma once

#include <QString>

namespace eg::app {

// The cache root: $ENGRAM_CACHE_DIR, else $XDG_CACHE_HOME/engram-desktop,
// else ~/.cache/engram-desktop (as scripts/fetch-model.sh uses it).
QString cache_root_dir();
// Installed models (*.gguf): <cache root>/models.
QString model_cache_dir();
// The default model, SmolLM2-135M-Instruct Q4_1, inside model_cache_dir().
QString default_model_path();
// QStandardPaths::AppDataLocation unless `override_dir` is given; created if missing.
QString data_dir(const QString& override_dir = {});

}  // namespace eg::app
