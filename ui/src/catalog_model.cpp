#include "catalog_model.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSet>

#include <algorithm>
#include <cmath>

#include "model_list_model.h"

namespace eg::ui {

namespace {

constexpr int kSchema = 1;

// Reads one entry's fields, remembering the first problem found.
class FieldReader {
public:
    FieldReader(const QJsonObject& o, QString where) : o_(o), where_(std::move(where)) {}

    bool ok() const { return error_.isEmpty(); }
    QString error() const { return error_; }

    QString string(const char* key, const QRegularExpression* pattern = nullptr) {
        const QJsonValue v = o_.value(QLatin1String(key));
        if (v.isUndefined()) return fail(key, QStringLiteral("is missing")), QString();
        if (!v.isString() || v.toString().trimmed().isEmpty())
            return fail(key, QStringLiteral("must be a non-empty string")), QString();
        const QString s = v.toString();
        if (pattern && !pattern->match(s).hasMatch())
            return fail(key, QStringLiteral("has an invalid value \"%1\"").arg(s)), QString();
        return s;
    }
    // A whole number >= min_value (JSON numbers are doubles: exact up to 2^53).
    qint64 integer(const char* key, qint64 min_value) { return integer_in(o_, key, min_value); }
    qint64 integer_in(const QJsonObject& o, const char* key, qint64 min_value) {
        const QJsonValue v = o.value(QLatin1String(key));
        if (v.isUndefined()) return fail(key, QStringLiteral("is missing")), 0;
        const double d = v.toDouble(std::nan(""));
        if (!v.isDouble() || std::floor(d) != d || std::fabs(d) > 9007199254740992.0)
            return fail(key, QStringLiteral("must be a whole number")), 0;
        if ((qint64)d < min_value) return fail(key, QStringLiteral("must be at least %1").arg(min_value)), 0;
        return (qint64)d;
    }
    bool boolean(const char* key, bool optional = false) {
        const QJsonValue v = o_.value(QLatin1String(key));
        if (v.isUndefined() && optional) return false;
        if (v.isUndefined()) return fail(key, QStringLiteral("is missing")), false;
        if (!v.isBool()) return fail(key, QStringLiteral("must be true or false")), false;
        return v.toBool();
    }
    void fail(const char* key, const QString& what) {
        if (error_.isEmpty()) error_ = QStringLiteral("%1: \"%2\" %3").arg(where_, QLatin1String(key), what);
    }

private:
    const QJsonObject& o_;
    QString where_;
    QString error_;
};

bool parse_entry(const QJsonObject& o, const QString& where, CatalogEntry* e, QString* error) {
    static const QRegularExpression id_re(QStringLiteral("^[a-z0-9][a-z0-9._-]*$"));
    static const QRegularExpression repo_re(QStringLiteral("^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$"));
    static const QRegularExpression revision_re(QStringLiteral("^[A-Za-z0-9][A-Za-z0-9._/-]*$"));
    // A path inside the repo: no "..", no leading slash, a .gguf at the end.
    static const QRegularExpression file_re(
        QStringLiteral("^(?!.*\\.\\.)[A-Za-z0-9_][A-Za-z0-9._/+-]*\\.gguf$"), QRegularExpression::CaseInsensitiveOption);
    static const QRegularExpression sha_re(QStringLiteral("^[0-9a-f]{64}$"));
    static const QRegularExpression arch_re(QStringLiteral("^(llama|qwen2|qwen3)$"));

    FieldReader f(o, where);
    e->id = f.string("id", &id_re);
    e->name = f.string("name");
    e->repo = f.string("repo", &repo_re);
    e->revision = f.string("revision", &revision_re);
    e->file = f.string("file", &file_re);
    e->size_bytes = f.integer("size_bytes", 1);
    e->size_exact = f.boolean("size_exact");
    const QJsonValue sha = o.value(QLatin1String("sha256"));
    if (sha.isUndefined()) f.fail("sha256", QStringLiteral("is missing (null when unknown)"));
    else if (!sha.isNull()) e->sha256 = f.string("sha256", &sha_re);
    e->quantization = f.string("quantization");
    e->architecture = f.string("architecture", &arch_re);
    e->parameters = f.integer("parameters", 1);
    e->context_length = (int)f.integer("context_length", 1);
    e->license = f.string("license");
    e->memory_bytes = f.integer("memory_bytes", 1);
    const QJsonValue shape = o.value(QLatin1String("shape"));
    if (!shape.isObject()) {
        f.fail("shape", QStringLiteral("must be an object {n_layer, n_kv_head, head_dim}"));
    } else {
        const QJsonObject s = shape.toObject();
        e->n_layer = (int)f.integer_in(s, "n_layer", 1);
        e->n_kv_head = (int)f.integer_in(s, "n_kv_head", 1);
        e->head_dim = (int)f.integer_in(s, "head_dim", 1);
    }
    e->gated = f.boolean("gated");
    e->is_default = f.boolean("default", /*optional=*/true);
    if (f.ok() && e->context_length > (1 << 24)) f.fail("context_length", QStringLiteral("is implausibly large"));
    if (f.ok() && e->memory_bytes < e->size_bytes)
        f.fail("memory_bytes", QStringLiteral("must be at least size_bytes (the weights alone)"));
    if (!f.ok()) *error = f.error();
    return f.ok();
}

}  // namespace

bool parse_catalog(const QByteArray& json, Catalog* out, QString* error) {
    QJsonParseError pe{};
    const QJsonDocument doc = QJsonDocument::fromJson(json, &pe);
    if (pe.error != QJsonParseError::NoError) {
        *error = QStringLiteral("not valid JSON at byte %1: %2").arg(pe.offset).arg(pe.errorString());
        return false;
    }
    if (!doc.isObject()) {
        *error = QStringLiteral("the catalog must be a JSON object");
        return false;
    }
    const QJsonObject root = doc.object();
    const QJsonValue schema = root.value(QLatin1String("schema"));
    if (!schema.isDouble() || schema.toDouble() != kSchema) {
        *error = QStringLiteral("unsupported catalog schema (expected \"schema\": %1)").arg(kSchema);
        return false;
    }
    Catalog cat;
    const QJsonValue ctx = root.value(QLatin1String("default_context"));
    if (!ctx.isUndefined()) {
        if (!ctx.isDouble() || ctx.toDouble() < 1 || std::floor(ctx.toDouble()) != ctx.toDouble()) {
            *error = QStringLiteral("\"default_context\" must be a positive whole number");
            return false;
        }
        cat.default_context = (int)ctx.toDouble();
    }
    const QJsonValue models = root.value(QLatin1String("models"));
    if (!models.isArray() || models.toArray().isEmpty()) {
        *error = QStringLiteral("\"models\" must be a non-empty array");
        return false;
    }
    QSet<QString> ids;
    int defaults = 0;
    const QJsonArray arr = models.toArray();
    for (int i = 0; i < arr.size(); ++i) {
        const QString id_hint = arr[i].toObject().value(QLatin1String("id")).toString();
        const QString where =
            id_hint.isEmpty() ? QStringLiteral("model %1").arg(i) : QStringLiteral("model %1 (%2)").arg(i).arg(id_hint);
        if (!arr[i].isObject()) {
            *error = QStringLiteral("%1: must be an object").arg(where);
            return false;
        }
        CatalogEntry e;
        if (!parse_entry(arr[i].toObject(), where, &e, error)) return false;
        if (ids.contains(e.id)) {
            *error = QStringLiteral("%1: the id is used twice").arg(where);
            return false;
        }
        ids.insert(e.id);
        defaults += e.is_default ? 1 : 0;
        cat.entries.push_back(std::move(e));
    }
    if (defaults > 1) {
        *error = QStringLiteral("%1 models are marked \"default\"; at most one may be").arg(defaults);
        return false;
    }
    *out = std::move(cat);
    return true;
}

qint64 kv_cache_bytes(const CatalogEntry& e, int context) {
    // K and V, per layer: context x n_kv_head x head_dim F16 values.
    return 2LL * e.n_layer * context * e.n_kv_head * e.head_dim * 2;
}

CatalogModel::CatalogModel(const QString& catalog_path, QObject* parent) : QAbstractListModel(parent) {
    free_ram_bytes_ = read_mem_available_bytes();
    load(catalog_path);
}

bool CatalogModel::load(const QString& catalog_path) {
    QString error;
    Catalog cat;
    QFile f(catalog_path);
    if (!f.open(QIODevice::ReadOnly)) error = QStringLiteral("cannot read %1: %2").arg(catalog_path, f.errorString());
    else if (!parse_catalog(f.readAll(), &cat, &error))
        error = QStringLiteral("the model catalog %1 is not usable: %2").arg(catalog_path, error);

    beginResetModel();
    rows_.clear();
    for (CatalogEntry& e : cat.entries) {
        Row r;
        r.entry = std::move(e);
        rows_.push_back(std::move(r));
    }
    default_context_ = cat.default_context;
    endResetModel();
    emit countChanged();
    if (error != error_) {
        error_ = error;
        emit errorChanged();
    }
    return error_.isEmpty();
}

int CatalogModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : (int)rows_.size(); }

QVariant CatalogModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() < 0 || index.row() >= rows_.size()) return {};
    const Row& r = rows_[index.row()];
    const CatalogEntry& e = r.entry;
    const bool installed = !r.path.isEmpty();
    switch (role) {
        case IdRole: return e.id;
        case NameRole: return e.name;
        case RepoRole: return e.repo;
        case RevisionRole: return e.revision;
        case FileRole: return e.file;
        case SizeBytesRole: return e.size_bytes;
        case SizeTextRole: return (e.size_exact ? QString() : QStringLiteral("≈ ")) + size_text(e.size_bytes);
        case QuantizationRole: return e.quantization;
        case ArchitectureRole: return e.architecture;
        case ParametersTextRole: return parameters_text(e.parameters);
        case ContextLengthRole: return e.context_length;
        case LicenseRole: return e.license;
        case MemoryTextRole: return size_text(e.memory_bytes);
        case FitsRole: return fits(r);
        case FitTextRole: return fit_text(e.memory_bytes, free_ram_bytes_);
        case GatedRole: return e.gated;
        case IsDefaultRole: return e.is_default;
        case InstalledRole: return installed;
        case PathRole: return r.path;
        case DownloadingRole: return r.downloading;
        case PausedRole: return r.paused;
        case ProgressRole: {
            const qint64 total = r.total_bytes > 0 ? r.total_bytes : e.size_bytes;
            return r.downloading && total > 0 ? std::clamp((double)r.done_bytes / (double)total, 0.0, 1.0) : 0.0;
        }
        case ProgressTextRole: return row_progress_text(r);
        case ErrorRole: return r.error;
        case CanDownloadRole: return online_ && !installed && !r.downloading;
        case DownloadHintRole: return !online_ && !installed ? needs_connection_text() : QString();
        default: return {};
    }
}

QHash<int, QByteArray> CatalogModel::roleNames() const {
    return {{IdRole, "modelId"},
            {NameRole, "name"},
            {RepoRole, "repo"},
            {RevisionRole, "revision"},
            {FileRole, "file"},
            {SizeBytesRole, "sizeBytes"},
            {SizeTextRole, "sizeText"},
            {QuantizationRole, "quantization"},
            {ArchitectureRole, "architecture"},
            {ParametersTextRole, "parametersText"},
            {ContextLengthRole, "contextLength"},
            {LicenseRole, "license"},
            {MemoryTextRole, "memoryText"},
            {FitsRole, "fits"},
            {FitTextRole, "fitText"},
            {GatedRole, "gated"},
            {IsDefaultRole, "isDefault"},
            {InstalledRole, "installed"},
            {PathRole, "path"},
            {DownloadingRole, "downloading"},
            {PausedRole, "paused"},
            {ProgressRole, "progress"},
            {ProgressTextRole, "progressText"},
            {ErrorRole, "error"},
            {CanDownloadRole, "canDownload"},
            {DownloadHintRole, "downloadHint"}};
}

void CatalogModel::setOnline(bool online) {
    if (online == online_) return;
    online_ = online;
    if (!rows_.isEmpty()) emit dataChanged(index(0), index((int)rows_.size() - 1), {CanDownloadRole, DownloadHintRole});
    emit onlineChanged();
}

QString CatalogModel::freeRamText() const {
    return free_ram_bytes_ < 0 ? QString() : QStringLiteral("%1 free RAM").arg(size_text(free_ram_bytes_));
}

int CatalogModel::defaultRow() const {
    for (int i = 0; i < rows_.size(); ++i)
        if (rows_[i].entry.is_default) return i;
    return rows_.isEmpty() ? -1 : 0;
}

void CatalogModel::set_free_ram_bytes(qint64 bytes) {
    if (bytes == free_ram_bytes_) return;
    free_ram_bytes_ = bytes;
    if (!rows_.isEmpty()) emit dataChanged(index(0), index((int)rows_.size() - 1), {FitsRole, FitTextRole});
    emit freeRamChanged();
}

void CatalogModel::refreshFreeRam() { set_free_ram_bytes(read_mem_available_bytes()); }

void CatalogModel::setInstalledPaths(const QStringList& paths) {
    for (Row& r : rows_) {
        r.path.clear();
        for (const QString& p : paths) {
            if (QFileInfo(p).fileName() == r.entry.file) {
                r.path = p;
                break;
            }
        }
    }
    if (!rows_.isEmpty()) emit dataChanged(index(0), index((int)rows_.size() - 1));
}

int CatalogModel::row_of(const QString& key) const {
    for (int i = 0; i < rows_.size(); ++i) {
        const CatalogEntry& e = rows_[i].entry;
        if (e.id == key || key == e.repo + QLatin1Char('/') + e.file) return i;
    }
    return -1;
}

bool CatalogModel::download(int row) {
    if (row < 0 || row >= rows_.size()) return false;
    Row& r = rows_[row];
    if (!r.path.isEmpty() || r.downloading) return false;
    if (!online_) {
        set_row_error(row, QStringLiteral("Downloading %1 %2.").arg(r.entry.name, needs_connection_text()));
        return false;
    }
    r.downloading = true;
    r.paused = false;
    r.done_bytes = 0;
    r.total_bytes = r.entry.size_bytes;
    r.bytes_per_s = 0;
    r.error.clear();
    changed(row);
    const CatalogEntry& e = r.entry;
    emit downloadRequested(e.repo, e.revision, e.file, e.sha256, e.size_bytes);
    return true;
}

void CatalogModel::cancel(int row) {
    if (row < 0 || row >= rows_.size() || !rows_[row].downloading) return;
    const CatalogEntry& e = rows_[row].entry;
    emit cancelRequested(e.repo, e.revision, e.file);
    onCancelled(e.id);
}

void CatalogModel::pause(int row) {
    if (row < 0 || row >= rows_.size()) return;
    Row& r = rows_[row];
    if (!r.downloading || r.paused) return;
    r.paused = true;
    r.bytes_per_s = 0;
    changed(row);
    emit pauseRequested(r.entry.repo, r.entry.revision, r.entry.file);
}

void CatalogModel::resume(int row) {
    if (row < 0 || row >= rows_.size()) return;
    Row& r = rows_[row];
    if (!r.downloading || !r.paused) return;
    if (!online_) {
        set_row_error(row, QStringLiteral("Resuming %1 %2.").arg(r.entry.name, needs_connection_text()));
        return;
    }
    r.paused = false;
    r.error.clear();
    changed(row);
    const CatalogEntry& e = r.entry;
    emit resumeRequested(e.repo, e.revision, e.file, e.sha256, e.size_bytes);
}

void CatalogModel::clearError(int row) {
    if (row >= 0 && row < rows_.size() && !rows_[row].error.isEmpty()) set_row_error(row, QString());
}

QString CatalogModel::pathAt(int row) const { return row >= 0 && row < rows_.size() ? rows_[row].path : QString(); }

void CatalogModel::onProgress(const QString& id, qint64 done_bytes, qint64 total_bytes, double bytes_per_s) {
    const int row = row_of(id);
    if (row < 0) return;
    Row& r = rows_[row];
    // A download the app did not start here (resumed after a restart) shows too.
    r.downloading = true;
    r.done_bytes = done_bytes;
    if (total_bytes > 0) r.total_bytes = total_bytes;
    r.bytes_per_s = r.paused ? 0 : bytes_per_s;
    r.error.clear();
    changed(row);
}

void CatalogModel::onFinished(const QString& id, const QString& path) {
    const int row = row_of(id);
    if (row < 0) return;
    clear_download(rows_[row]);
    rows_[row].path = path;
    changed(row);
}

void CatalogModel::onFailed(const QString& id, const QString& error) {
    const int row = row_of(id);
    if (row < 0) return;
    Row& r = rows_[row];
    r.downloading = false;
    r.paused = false;
    r.bytes_per_s = 0;
    set_row_error(row, error);
}

void CatalogModel::onCancelled(const QString& id) {
    const int row = row_of(id);
    if (row < 0) return;
    clear_download(rows_[row]);
    changed(row);
}

void CatalogModel::clear_download(Row& r) {
    r.downloading = false;
    r.paused = false;
    r.done_bytes = 0;
    r.total_bytes = 0;
    r.bytes_per_s = 0;
    r.error.clear();
}

bool CatalogModel::fits(const Row& r) const {
    return free_ram_bytes_ >= 0 && r.entry.memory_bytes <= free_ram_bytes_;
}

QString CatalogModel::row_progress_text(const Row& r) const {
    if (!r.downloading) return {};
    const qint64 total = r.total_bytes > 0 ? r.total_bytes : r.entry.size_bytes;
    if (r.paused) return QStringLiteral("Paused · %1").arg(progress_text(r.done_bytes, total, 0));
    if (r.done_bytes == 0 && r.bytes_per_s <= 0) return QStringLiteral("Starting…");
    return progress_text(r.done_bytes, total, r.bytes_per_s);
}

void CatalogModel::changed(int row) { emit dataChanged(index(row), index(row)); }

void CatalogModel::set_row_error(int row, const QString& error) {
    rows_[row].error = error;
    changed(row);
}

qint64 CatalogModel::read_mem_available_bytes(const QString& meminfo_path) {
    QFile f(meminfo_path);
    if (!f.open(QIODevice::ReadOnly | QIODevice::Text)) return -1;
    // "MemAvailable:   12345678 kB" (the kernel's estimate of what can be
    // used without swapping, page cache included). readAll, not atEnd():
    // /proc files report a size of 0.
    const QList<QByteArray> lines = f.readAll().split('\n');
    for (const QByteArray& line : lines) {
        if (!line.startsWith("MemAvailable:")) continue;
        const QList<QByteArray> parts = line.mid(13).simplified().split(' ');
        bool ok = false;
        const qint64 value = parts.value(0).toLongLong(&ok);
        if (!ok || value < 0) return -1;
        return parts.value(1) == "kB" ? value * 1024 : value;
    }
    return -1;
}

QString CatalogModel::size_text(qint64 bytes) { return ModelListModel::size_text(bytes); }

QString CatalogModel::parameters_text(qint64 count) {
    if (count >= 1'000'000'000) return QStringLiteral("%1B").arg(count / 1e9, 0, 'f', 1);
    if (count >= 1'000'000) return QStringLiteral("%1M").arg(std::llround(count / 1e6));
    return QStringLiteral("%1K").arg(std::llround(count / 1e3));
}

QString CatalogModel::fit_text(qint64 memory_bytes, qint64 free_bytes) {
    if (free_bytes < 0) return QStringLiteral("needs %1 of RAM").arg(size_text(memory_bytes));
    if (memory_bytes <= free_bytes) return QStringLiteral("fits in %1 free RAM").arg(size_text(free_bytes));
    return QStringLiteral("needs %1, %2 free").arg(size_text(memory_bytes), size_text(free_bytes));
}

QString CatalogModel::duration_text(qint64 seconds) {
    if (seconds < 60) return QStringLiteral("%1 s").arg(std::max<qint64>(seconds, 0));
    if (seconds < 3600) {
        const qint64 s = seconds % 60;
        return s ? QStringLiteral("%1 min %2 s").arg(seconds / 60).arg(s) : QStringLiteral("%1 min").arg(seconds / 60);
    }
    const qint64 m = seconds % 3600 / 60;
    return m ? QStringLiteral("%1 h %2 min").arg(seconds / 3600).arg(m) : QStringLiteral("%1 h").arg(seconds / 3600);
}

QString CatalogModel::speed_text(double bytes_per_s) {
    if (bytes_per_s >= 1e9) return QStringLiteral("%1 GB/s").arg(bytes_per_s / 1e9, 0, 'f', 1);
    if (bytes_per_s >= 1e6)
        return QStringLiteral("%1 MB/s").arg(bytes_per_s / 1e6, 0, 'f', bytes_per_s >= 1e7 ? 0 : 1);
    return QStringLiteral("%1 kB/s").arg(std::llround(bytes_per_s / 1e3));
}

QString CatalogModel::progress_text(qint64 done_bytes, qint64 total_bytes, double bytes_per_s) {
    QStringList parts;
    if (total_bytes > 0) {
        // Both amounts in the total's unit: "1.2 / 4.4 GB", "120 / 491 MB".
        const bool gb = total_bytes >= 1'000'000'000;
        const bool mb = !gb && total_bytes >= 1'000'000;
        const double unit = gb ? 1e9 : mb ? 1e6 : 1e3;
        const int decimals = gb ? 1 : 0;
        parts << QStringLiteral("%1 / %2 %3")
                     .arg(done_bytes / unit, 0, 'f', decimals)
                     .arg(total_bytes / unit, 0, 'f', decimals)
                     .arg(gb ? QStringLiteral("GB") : mb ? QStringLiteral("MB") : QStringLiteral("kB"));
    } else {
        parts << size_text(done_bytes);
    }
    if (bytes_per_s > 0) {
        parts << speed_text(bytes_per_s);
        if (total_bytes > done_bytes)
            parts << QStringLiteral("%1 left").arg(
                duration_text((qint64)std::ceil((double)(total_bytes - done_bytes) / bytes_per_s)));
    }
    return parts.join(QStringLiteral(" · "));
}

QString CatalogModel::needs_connection_text() { return QStringLiteral("needs a connection"); }

}  // namespace eg::ui
