#include "library/remote_engines.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>

#include "core/log.h"
#include "library/remote_engine.h"

namespace eg::library {

namespace {

const QString kPrefix = QStringLiteral("remote:");

eg::Error error(const QString& text) { return eg::Error{text.toStdString()}; }

QString engine_id_for(const QUrl& base) {
    return QString::fromLatin1(
        QCryptographicHash::hash(base.toString().toUtf8(), QCryptographicHash::Sha256).toHex().left(10));
}

}  // namespace

QString RemoteEngineEntry::label() const {
    const int port = base_url.port();
    return port > 0 ? QStringLiteral("%1:%2").arg(base_url.host()).arg(port) : base_url.host();
}

eg::Result<QUrl> parse_engine_url(const QString& text) {
    QString t = text.trimmed();
    if (t.isEmpty()) return error(QObject::tr("Type the engine's address, e.g. http://gpu-box:8000/v1."));
    if (!t.contains(QStringLiteral("://"))) t.prepend(QStringLiteral("http://"));
    QUrl url(t, QUrl::StrictMode);
    if (!url.isValid()) return error(QObject::tr("\"%1\" is not an address: %2").arg(text.trimmed(), url.errorString()));
    const QString scheme = url.scheme().toLower();
    if (scheme != QLatin1String("http") && scheme != QLatin1String("https"))
        return error(QObject::tr("\"%1\" is not an http:// or https:// address.").arg(text.trimmed()));
    if (url.host().isEmpty()) return error(QObject::tr("\"%1\" names no host.").arg(text.trimmed()));
    if (!url.userInfo().isEmpty())
        return error(QObject::tr("Put the API key in its own field, not in the address."));
    if (url.hasQuery() || url.hasFragment())
        return error(QObject::tr("\"%1\": the address of an engine has no ?query or #fragment.").arg(text.trimmed()));
    QString path = url.path();
    while (path.endsWith(QLatin1Char('/'))) path.chop(1);
    // The API root: every OpenAI-compatible server serves it at /v1.
    if (!path.endsWith(QLatin1String("/v1"))) path += QStringLiteral("/v1");
    url.setPath(path);
    url.setScheme(scheme);
    return url;
}

QString remote_model_ref(const QString& engine_id, const QString& model) {
    return kPrefix + engine_id + QLatin1Char('/') + model;
}

bool is_remote_model_ref(const QString& ref) { return ref.startsWith(kPrefix); }

eg::Result<RemoteModelRef> parse_remote_model_ref(const QString& ref) {
    if (!is_remote_model_ref(ref)) return error(QObject::tr("%1 does not name a remote model.").arg(ref));
    const QString rest = ref.mid(kPrefix.size());
    const qsizetype slash = rest.indexOf(QLatin1Char('/'));
    if (slash <= 0 || slash + 1 >= rest.size())
        return error(QObject::tr("%1 does not name a remote model (remote:<engine>/<model>).").arg(ref));
    return RemoteModelRef{rest.left(slash), rest.mid(slash + 1)};
}

RemoteEngineList::RemoteEngineList(const QString& data_dir) : dir_(data_dir) {}

QString RemoteEngineList::file_path() const { return QDir(dir_).filePath(QStringLiteral("remote-engines.json")); }

QString RemoteEngineList::key_path(const QString& id) const {
    return QDir(dir_).filePath(QStringLiteral("remote-keys/") + id + QStringLiteral(".key"));
}

const RemoteEngineEntry* RemoteEngineList::find(const QString& id) const {
    for (const RemoteEngineEntry& e : engines_)
        if (e.id == id) return &e;
    return nullptr;
}

eg::Status RemoteEngineList::load() {
    engines_.clear();
    QFile f(file_path());
    if (!f.exists()) return {};
    if (!f.open(QIODevice::ReadOnly))
        return error(QObject::tr("Cannot read %1: %2").arg(file_path(), f.errorString()));
    QJsonParseError pe{};
    const QJsonDocument doc = QJsonDocument::fromJson(f.read(4 << 20), &pe);
    if (pe.error != QJsonParseError::NoError || !doc.isObject())
        return error(QObject::tr("%1 is damaged (%2): the remote engines in it are not shown.")
                         .arg(file_path(), pe.error != QJsonParseError::NoError ? pe.errorString()
                                                                               : QObject::tr("not a JSON object")));
    for (const QJsonValue v : doc.object().value(QStringLiteral("engines")).toArray()) {
        const QJsonObject o = v.toObject();
        const auto url = parse_engine_url(o.value(QStringLiteral("url")).toString());
        if (!url) {
            EG_LOG_WARN("{}: an engine entry is skipped: {}", file_path().toStdString(), url.error().message);
            continue;
        }
        RemoteEngineEntry e;
        e.base_url = url.value();
        e.id = engine_id_for(e.base_url);
        for (const QJsonValue m : o.value(QStringLiteral("models")).toArray())
            if (const QString id = m.toString(); !id.isEmpty()) e.models.push_back(id);
        e.has_key = QFile::exists(key_path(e.id));
        if (!find(e.id)) engines_.push_back(std::move(e));
    }
    return {};
}

eg::Status RemoteEngineList::save() const {
    QJsonArray list;
    for (const RemoteEngineEntry& e : engines_)
        list.push_back(QJsonObject{{QStringLiteral("url"), e.base_url.toString()},
                                   {QStringLiteral("models"), QJsonArray::fromStringList(e.models)}});
    if (!QDir().mkpath(dir_)) return error(QObject::tr("Cannot make the folder %1").arg(dir_));
    QSaveFile f(file_path());
    const QByteArray data = QJsonDocument(QJsonObject{{QStringLiteral("engines"), list}}).toJson();
    if (!f.open(QIODevice::WriteOnly) || f.write(data) != data.size() || !f.commit())
        return error(QObject::tr("Cannot write %1: %2").arg(file_path(), f.errorString()));
    return {};
}

eg::Result<RemoteEngineEntry> RemoteEngineList::add(const QUrl& base_url, const QString& api_key,
                                                    const QStringList& models) {
    const auto url = parse_engine_url(base_url.toString());
    if (!url) return url.error();
    RemoteEngineEntry e;
    e.base_url = url.value();
    e.id = engine_id_for(e.base_url);
    e.models = models;
    const QList<RemoteEngineEntry> before = engines_;
    if (!api_key.trimmed().isEmpty()) {
        if (auto saved = save_api_key(key_path(e.id), api_key); !saved) return saved.error();
        e.has_key = true;
    } else {
        QFile::remove(key_path(e.id));
    }
    bool replaced = false;
    for (RemoteEngineEntry& old : engines_)
        if (old.id == e.id) old = e, replaced = true;
    if (!replaced) engines_.push_back(e);
    if (auto saved = save(); !saved) {
        engines_ = before;
        return saved.error();
    }
    EG_LOG_INFO("remote engine {} added at {} ({} models{})", e.id.toStdString(), e.base_url.toString().toStdString(),
                e.models.size(), e.has_key ? ", with an API key" : "");
    return e;
}

eg::Status RemoteEngineList::set_models(const QString& id, const QStringList& models) {
    for (RemoteEngineEntry& e : engines_)
        if (e.id == id) {
            if (e.models == models) return {};
            e.models = models;
            return save();
        }
    return error(QObject::tr("No remote engine %1").arg(id));
}

eg::Status RemoteEngineList::remove(const QString& id) {
    const QList<RemoteEngineEntry> before = engines_;
    const qsizetype n = engines_.removeIf([&](const RemoteEngineEntry& e) { return e.id == id; });
    if (n == 0) return error(QObject::tr("No remote engine %1").arg(id));
    if (auto saved = save(); !saved) {
        engines_ = before;
        return saved;
    }
    QFile::remove(key_path(id));
    EG_LOG_INFO("remote engine {} removed", id.toStdString());
    return {};
}

eg::Result<QString> RemoteEngineList::api_key(const QString& id) const {
    const RemoteEngineEntry* e = find(id);
    if (!e) return error(QObject::tr("No remote engine %1").arg(id));
    if (!e->has_key) return QString();
    return load_api_key(key_path(id));
}

}  // namespace eg::library
