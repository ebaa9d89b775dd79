// Models other programs downloaded, found where those programs keep them: the
// Hugging Face cache, LM Studio's, GPT4All's and Jan's models folders, and
// Ollama's blob store (its manifests say which blob is the GGUF), plus the
// folders the user adds. Nothing outside these places is read, and of a file
// only its first bytes (the GGUF magic): the engine checks the rest when it
// loads the model. Files are listed where they are, never copied.
#pragma once

#include <QList>
#include <QProcessEnvironment>
#include <QString>

namespace eg::library {

// Where one program keeps its models.
struct ScanPlace {
    QString source;  // kSource* below
    QString root;    // the folder the layout starts at
};

inline const QString kSourceHfCache = QStringLiteral("hf-cache");    // models--ORG--NAME/snapshots/REV/FILE
inline const QString kSourceLmStudio = QStringLiteral("lm-studio");  // PUBLISHER/REPO/FILE.gguf
inline const QString kSourceGpt4All = QStringLiteral("gpt4all");     // FILE.gguf
inline const QString kSourceJan = QStringLiteral("jan");             // any depth below models/
inline const QString kSourceOllama = QStringLiteral("ollama");       // manifests/HOST/NS/MODEL/TAG -> blobs/sha256-HEX
inline const QString kSourceUserFolder = QStringLiteral("user-folder");  // a folder the user added: any depth
// Not scanned: the model in use, opened by path from outside the library
// (listed, never registered).
inline const QString kSourceOpened = QStringLiteral("opened");

// True for the sources this file scans (the registry keeps their entries
// when the file goes: they are shown as missing, not forgotten).
bool is_other_app_source(const QString& source);
// "Hugging Face cache", "LM Studio", ... for the Installed tab.
QString source_label(const QString& source);

// The places of this user's programs, from HOME, HF_HOME, HF_HUB_CACHE,
// XDG_CACHE_HOME, XDG_CONFIG_HOME, XDG_DATA_HOME and OLLAMA_MODELS (each as the program
// itself reads it). Only folders that exist are returned.
QList<ScanPlace> other_app_places(const QProcessEnvironment& env = QProcessEnvironment::systemEnvironment());

struct FoundModel {
    QString path;    // where the file is (the HF snapshot's link, the Ollama blob, ...)
    QString source;  // the place's
    QString name;    // what the user knows it as: "org/name", "publisher/repo", "llama3.2:1b"
    QString file;    // the file inside it ("Q4_K_M/x.gguf"), or the Ollama blob's name
    qint64 size_bytes = 0;
    QString template_path;  // Ollama's template layer (Go template), when the manifest has one
    QString params_path;    // Ollama's params layer (JSON), when the manifest has one
};

// The GGUF models of one place (a split model once, by its first part).
QList<FoundModel> scan_place(const ScanPlace& place);

}  // namespace eg::library
