// The remote engines the user added ("Add remote engine…" in the model
// picker): each an OpenAI-compatible server's base URL, the models it listed
// when added, and whether it has an API key. The list lives in
// <data>/remote-engines.json; each key in its own owner-only file under
// <data>/remote-keys/ (save_api_key), never in the list, the settings or the
// log. Nothing here connects anywhere.
//
// A remote model is named in the app by a reference "remote:<engine id>/<model id>"
// (the model id may itself hold slashes), where a local model has its path.
#pragma once

#include <QList>
#include <QString>
#include <QStringList>
#include <QUrl>

#include "core/result.h"

namespace eg::library {

struct RemoteEngineEntry {
    QString id;          // short, stable, made from the URL
    QUrl base_url;       // the API root, ending in /v1
    QStringList models;  // as the engine listed them when added or last listed
    bool has_key = false;
    QString label() const;  // "gpu-box:8000" — what the picker shows beside a model
};

// What a user types ("gpu-box:8000", "http://10.0.0.5:30000", "https://x/v1/")
// made into the API root (http(s), a host, a path ending in /v1); or why not.
eg::Result<QUrl> parse_engine_url(const QString& text);

// "remote:<id>/<model>" and back.
QString remote_model_ref(const QString& engine_id, const QString& model);
bool is_remote_model_ref(const QString& ref);
struct RemoteModelRef {
    QString engine_id, model;
};
eg::Result<RemoteModelRef> parse_remote_model_ref(const QString& ref);

class RemoteEngineList {
public:
    explicit RemoteEngineList(const QString& data_dir);

    // Reads the list; a missing file is an empty list, a damaged one an error
    // naming the file (the list is then empty, and the file is left alone
    // until the next successful add or remove rewrites it).
    eg::Status load();
    const QList<RemoteEngineEntry>& engines() const { return engines_; }
    const RemoteEngineEntry* find(const QString& id) const;

    // Adds (or updates, same URL) an engine with the models it listed; an
    // empty key removes a stored one. The entry as saved.
    eg::Result<RemoteEngineEntry> add(const QUrl& base_url, const QString& api_key, const QStringList& models);
    eg::Status set_models(const QString& id, const QStringList& models);
    // Removes the engine and its key file.
    eg::Status remove(const QString& id);
    // The engine's key ("" when it has none).
    eg::Result<QString> api_key(const QString& id) const;

    QString file_path() const;
    QString key_path(const QString& id) const;

private:
    eg::Status save() const;
    QString dir_;
    QList<RemoteEngineEntry> engines_;
};

}  // namespace eg::library
