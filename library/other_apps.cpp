#include "library/other_apps.h"

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include "core/log.h"
#include "library/gguf_check.h"

namespace eg::library {

namespace {

// A GGUF by its magic: the four bytes are all that is read.
bool has_gguf_magic(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return false;
    return f.read(4) == QByteArrayLiteral("GGUF");
}

// Model files below `root`, at most `depth` folders down, by name (*.gguf),
// not the later parts of split models nor vision projectors (mmproj-*).
QStringList gguf_files(const QString& root, int depth) {
    QStringList out;
    QDirIterator it(root, {QStringLiteral("*.gguf")}, QDir::Files | QDir::Readable,
                    QDirIterator::Subdirectories);
    const int base = QDir::cleanPath(root).count(u'/');
    while (it.hasNext()) {
        const QString path = it.next();
        if (QDir::cleanPath(path).count(u'/') - base > depth + 1) continue;
        const QString name = it.fileName();
        if (is_later_split_part(name) || name.startsWith(QStringLiteral("mmproj"), Qt::CaseInsensitive)) continue;
        out << path;
    }
    out.sort();
    return out;
}

FoundModel found(const QString& path, const QString& source, const QString& name, const QString& file) {
    FoundModel m;
    m.path = QFileInfo(path).absoluteFilePath();  // a link stays a link
    m.source = source;
    m.name = name;
    m.file = file;
    m.size_bytes = model_bytes(m.path);
    return m;
}

QList<FoundModel> scan_hf_cache(const ScanPlace& p) {
    QList<FoundModel> out;
    const QDir root(p.root);
    for (const QString& repo_dir : root.entryList({QStringLiteral("models--*")}, QDir::Dirs | QDir::NoDotAndDotDot)) {
        // models--ORG--NAME (a repository without an org has one part).
        const QString repo = repo_dir.mid(8).replace(QStringLiteral("--"), QStringLiteral("/"));
        const QDir snapshots(root.filePath(repo_dir + QStringLiteral("/snapshots")));
        for (const QString& rev : snapshots.entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
            const QString rev_dir = snapshots.filePath(rev);
            for (const QString& path : gguf_files(rev_dir, 4))
                if (has_gguf_magic(path)) out << found(path, p.source, repo, QDir(rev_dir).relativeFilePath(path));
        }
    }
    return out;
}

// LM Studio (PUBLISHER/REPO/FILE), Jan and user folders (any layout): the
// folder above the file names it.
QList<FoundModel> scan_tree(const ScanPlace& p, int depth) {
    QList<FoundModel> out;
    const QDir root(p.root);
    for (const QString& path : gguf_files(p.root, depth)) {
        if (!has_gguf_magic(path)) continue;
        const QString rel = root.relativeFilePath(path);
        const QString folder = QFileInfo(rel).path();
        out << found(path, p.source, folder == QStringLiteral(".") ? QFileInfo(path).completeBaseName() : folder,
                     QFileInfo(path).fileName());
    }
    return out;
}

QString blob_path(const QDir& root, const QString& digest) {
    // "sha256:HEX" is stored as blobs/sha256-HEX.
    QString name = digest;
    name.replace(u':', u'-');
    if (name.contains(u'/') || name.contains(QStringLiteral(".."))) return {};
    return root.filePath(QStringLiteral("blobs/") + name);
}

QList<FoundModel> scan_ollama(const ScanPlace& p) {
    QList<FoundModel> out;
    const QDir root(p.root);
    const QString manifests = root.filePath(QStringLiteral("manifests"));
    // manifests/HOST/NAMESPACE/MODEL/TAG
    QDirIterator it(manifests, QDir::Files | QDir::Readable, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString path = it.next();
        const QStringList parts = QDir(manifests).relativeFilePath(path).split(u'/');
        if (parts.size() != 4) continue;
        QFile f(path);
        if (!f.open(QIODevice::ReadOnly) || f.size() > (1 << 20)) continue;
        const QJsonObject manifest = QJsonDocument::fromJson(f.readAll()).object();
        FoundModel m;
        for (const QJsonValue& v : manifest.value(QStringLiteral("layers")).toArray()) {
            const QJsonObject layer = v.toObject();
            const QString type = layer.value(QStringLiteral("mediaType")).toString();
            const QString blob = blob_path(root, layer.value(QStringLiteral("digest")).toString());
            if (blob.isEmpty()) continue;
            if (type == QStringLiteral("application/vnd.ollama.image.model")) m.path = blob;
            else if (type == QStringLiteral("application/vnd.ollama.image.template")) m.template_path = blob;
            else if (type == QStringLiteral("application/vnd.ollama.image.params")) m.params_path = blob;
        }
        // A manifest whose model is not one GGUF blob (safetensors tensor layers) is not ours to run.
        if (m.path.isEmpty() || !has_gguf_magic(m.path)) continue;
        const QString& ns = parts[1];
        const QString name = (ns == QStringLiteral("library") ? QString() : ns + u'/') + parts[2] + u':' + parts[3];
        FoundModel fm = found(m.path, p.source, name, QFileInfo(m.path).fileName());
        fm.template_path = m.template_path;
        fm.params_path = m.params_path;
        out << fm;
    }
    return out;
}

QString env_or(const QProcessEnvironment& env, const QString& key, const QString& fallback) {
    const QString v = env.value(key);
    return v.isEmpty() ? fallback : v;
}

}  // namespace

bool is_other_app_source(const QString& source) {
    return source == kSourceHfCache || source == kSourceLmStudio || source == kSourceGpt4All || source == kSourceJan ||
           source == kSourceOllama || source == kSourceUserFolder;
}

QString source_label(const QString& source) {
    if (source == kSourceHfCache) return QStringLiteral("Hugging Face cache");
    if (source == kSourceLmStudio) return QStringLiteral("LM Studio");
    if (source == kSourceGpt4All) return QStringLiteral("GPT4All");
    if (source == kSourceJan) return QStringLiteral("Jan");
    if (source == kSourceOllama) return QStringLiteral("Ollama");
    if (source == kSourceUserFolder) return QStringLiteral("Your folder");
    if (source == kSourceOpened) return QStringLiteral("Opened by path");
    if (source == QStringLiteral("huggingface")) return QStringLiteral("Downloaded");
    if (source == QStringLiteral("imported")) return QStringLiteral("Imported");
    if (source == QStringLiteral("folder")) return QStringLiteral("Models folder");
    return source;
}

QList<ScanPlace> other_app_places(const QProcessEnvironment& env) {
    const QString home = env.value(QStringLiteral("HOME"));
    if (home.isEmpty()) return {};
    const QString cache = env_or(env, QStringLiteral("XDG_CACHE_HOME"), home + QStringLiteral("/.cache"));
    const QString data = env_or(env, QStringLiteral("XDG_DATA_HOME"), home + QStringLiteral("/.local/share"));
    const QString config = env_or(env, QStringLiteral("XDG_CONFIG_HOME"), home + QStringLiteral("/.config"));
    // huggingface_hub: HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub.
    const QString hf_home = env_or(env, QStringLiteral("HF_HOME"), cache + QStringLiteral("/huggingface"));
    const QString hf_hub = env_or(env, QStringLiteral("HF_HUB_CACHE"), hf_home + QStringLiteral("/hub"));
    const QList<ScanPlace> candidates{
        {kSourceHfCache, hf_hub},
        {kSourceLmStudio, home + QStringLiteral("/.lmstudio/models")},
        {kSourceLmStudio, home + QStringLiteral("/.cache/lm-studio/models")},  // LM Studio before 0.3
        {kSourceGpt4All, data + QStringLiteral("/nomic.ai/GPT4All")},
        // Jan (jan.ai/docs/data-folder): ~/jan before 0.5, then its data
        // folder $XDG_CONFIG_HOME/Jan/data (~/.config/Jan/data); models/
        // holds PROVIDER/MODEL/x.gguf, llamacpp/models/ since 0.6.
        {kSourceJan, home + QStringLiteral("/jan/models")},
        {kSourceJan, config + QStringLiteral("/Jan/data/models")},
        {kSourceJan, config + QStringLiteral("/Jan/data/llamacpp/models")},
        {kSourceJan, data + QStringLiteral("/Jan/data/models")},
        {kSourceOllama, env_or(env, QStringLiteral("OLLAMA_MODELS"), home + QStringLiteral("/.ollama/models"))},
    };
    QList<ScanPlace> out;
    for (const ScanPlace& p : candidates)
        if (QFileInfo(p.root).isDir()) out << ScanPlace{p.source, QFileInfo(p.root).absoluteFilePath()};
    return out;
}

QList<FoundModel> scan_place(const ScanPlace& place) {
    if (!QFileInfo(place.root).isDir()) return {};
    QList<FoundModel> out;
    if (place.source == kSourceHfCache) out = scan_hf_cache(place);
    else if (place.source == kSourceOllama) out = scan_ollama(place);
    else if (place.source == kSourceGpt4All) out = scan_tree(place, 0);
    else if (place.source == kSourceLmStudio) out = scan_tree(place, 3);
    else out = scan_tree(place, 4);  // Jan, the user's folders
    EG_LOG_INFO("library: {} ({}): {} model(s)", place.root.toStdString(), place.source.toStdString(), out.size());
    return out;
}

}  // namespace eg::library
