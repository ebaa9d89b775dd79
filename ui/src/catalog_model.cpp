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

#include "download_center.h"
#include "format.h"
#include "installed_models.h"
#include "store/result_qt.h"
#include "model/runnable.h"
#include "plan/probe.h"
#include "quant/types.h"

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
    static const QRegularExpression arch_re(
        QStringLiteral("^(llama|qwen2|qwen3|qwen3moe|gpt-oss|gemma3|phi3|smollm3)$"));
    static const QRegularExpression type_re(QStringLiteral("^[A-Z][A-Z0-9_]*$"));
    static const QRegularExpression moe_arch_re(QStringLiteral("^(qwen3moe|gpt-oss)$"));

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
    if (o.contains(QLatin1String("needs_type"))) e->needs_type = f.string("needs_type", &type_re);
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
    // Mixture-of-experts architectures say how many experts they have; dense ones do not.
    const QJsonValue experts = o.value(QLatin1String("experts"));
    const bool moe = moe_arch_re.match(e->architecture).hasMatch();
    if (f.ok() && moe && !experts.isObject()) {
        f.fail("experts", QStringLiteral("must be an object {count, used, width} for a %1 model").arg(e->architecture));
    } else if (f.ok() && !moe && !experts.isUndefined()) {
        f.fail("experts", QStringLiteral("is only for mixture-of-experts models, not %1").arg(e->architecture));
    } else if (f.ok() && moe) {
        const QJsonObject x = experts.toObject();
        e->n_expert = (int)f.integer_in(x, "count", 2);
        e->n_expert_used = (int)f.integer_in(x, "used", 1);
        e->expert_width = (int)f.integer_in(x, "width", 1);
        if (f.ok() && e->n_expert_used > e->n_expert)
            f.fail("used", QStringLiteral("must be at most the expert count %1").arg(e->n_expert));
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

eg::Result<Catalog> parse_catalog(const QByteArray& json) {
    using eg::to_error;
    QJsonParseError pe{};
    const QJsonDocument doc = QJsonDocument::fromJson(json, &pe);
    if (pe.error != QJsonParseError::NoError)
        return to_error(QStringLiteral("not valid JSON at byte %1: %2").arg(pe.offset).arg(pe.errorString()));
    if (!doc.isObject()) return to_error(QStringLiteral("the catalog must be a JSON object"));
    const QJsonObject root = doc.object();
    const QJsonValue schema = root.value(QLatin1String("schema"));
    if (!schema.isDouble() || schema.toDouble() != kSchema)
        return to_error(QStringLiteral("unsupported catalog schema (expected \"schema\": %1)").arg(kSchema));
    Catalog cat;
    const QJsonValue ctx = root.value(QLatin1String("default_context"));
    if (!ctx.isUndefined()) {
        if (!ctx.isDouble() || ctx.toDouble() < 1 || std::floor(ctx.toDouble()) != ctx.toDouble())
            return to_error(QStringLiteral("\"default_context\" must be a positive whole number"));
        cat.default_context = (int)ctx.toDouble();
    }
    const QJsonValue models = root.value(QLatin1String("models"));
    if (!models.isArray() || models.toArray().isEmpty())
        return to_error(QStringLiteral("\"models\" must be a non-empty array"));
    QSet<QString> ids;
    int defaults = 0;
    const QJsonArray arr = models.toArray();
    for (int i = 0; i < arr.size(); ++i) {
        const QString id_hint = arr[i].toObject().value(QLatin1String("id")).toString();
        const QString where =
            id_hint.isEmpty() ? QStringLiteral("model %1").arg(i) : QStringLiteral("model %1 (%2)").arg(i).arg(id_hint);
        if (!arr[i].isObject()) return to_error(QStringLiteral("%1: must be an object").arg(where));
        CatalogEntry e;
        QString error;
        if (!parse_entry(arr[i].toObject(), where, &e, &error)) return to_error(error);
        if (ids.contains(e.id)) return to_error(QStringLiteral("%1: the id is used twice").arg(where));
        ids.insert(e.id);
        defaults += e.is_default ? 1 : 0;
        cat.entries.push_back(std::move(e));
    }
    if (defaults > 1)
        return to_error(QStringLiteral("%1 models are marked \"default\"; at most one may be").arg(defaults));
    return cat;
}

Fit judge_fit(qint64 memory_bytes, qint64 free_bytes) {
    if (free_bytes < 0) return Fit::Unknown;
    if (memory_bytes > free_bytes) return Fit::TooBig;
    // The window, the engine's scratch and every other program share what is
    // left; under a quarter of the free RAM is a tight fit.
    return memory_bytes > free_bytes - free_bytes / 4 ? Fit::Barely : Fit::Fits;
}

bool engine_runs_type(const QString& type_name) {
    for (uint32_t id = 0; id < 64; ++id)
        if (eg::type_traits(id) && QLatin1String(eg::type_name(id).data(), (qsizetype)eg::type_name(id).size()) == type_name)
            return eg::is_runnable_type((eg::GgmlType)id);
    return false;
}

qint64 kv_cache_bytes(const CatalogEntry& e, int context) {
    // K and V, per layer: context x n_kv_head x head_dim F16 values.
    return 2LL * e.n_layer * context * e.n_kv_head * e.head_dim * 2;
}

CatalogModel::CatalogModel(const QString& catalog_path, DownloadCenter& downloads, InstalledModels& installed,
                           QObject* parent)
    : QAbstractListModel(parent), downloads_(downloads), installed_(installed) {
    free_ram_bytes_ = read_mem_available_bytes();
    (void)load(catalog_path);  // a failure is kept in error()
    connect(&downloads_, &DownloadCenter::changed, this, [this](const QString& key) {
        if (const int row = row_of(key); row >= 0) emit dataChanged(index(row), index(row));
    });
    connect(&downloads_, &DownloadCenter::onlineChanged, this, [this] {
        all_changed({CanDownloadRole, DownloadHintRole});
        emit onlineChanged();
    });
    connect(&installed_, &InstalledModels::changed, this, &CatalogModel::installed_changed);
}

eg::Status CatalogModel::load(const QString& catalog_path) {
    QString error;
    Catalog cat;
    QFile f(catalog_path);
    if (!f.open(QIODevice::ReadOnly)) {
        error = QStringLiteral("cannot read %1: %2").arg(catalog_path, f.errorString());
    } else if (auto parsed = parse_catalog(f.readAll()); !parsed) {
        error = QStringLiteral("the model catalog %1 is not usable: %2")
                    .arg(catalog_path, eg::error_text(parsed));
    } else {
        cat = std::move(parsed.value());
    }

    beginResetModel();
    rows_.clear();
    for (CatalogEntry& e : cat.entries)
        if (e.needs_type.isEmpty() || engine_runs_type(e.needs_type)) rows_.push_back({std::move(e), {}});
    for (Row& r : rows_) r.path = installed_.path_for(r.entry.repo, r.entry.file);
    default_context_ = cat.default_context;
    endResetModel();
    emit countChanged();
    if (error != error_) {
        error_ = error;
        emit errorChanged();
    }
    if (!error_.isEmpty()) return eg::to_error(error_);
    return {};
}

int CatalogModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : (int)rows_.size(); }

QVariant CatalogModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() < 0 || index.row() >= rows_.size()) return {};
    const Row& r = rows_[index.row()];
    const CatalogEntry& e = r.entry;
    const bool installed = !r.path.isEmpty();
    // The row's download, as the DownloadCenter keeps it for every view.
    static const DownloadState none;
    const DownloadState* found = downloads_.state(download_key(index.row()));
    const DownloadState& d = found ? *found : none;
    switch (role) {
        case IdRole: return e.id;
        case NameRole: return e.name;
        case RepoRole: return e.repo;
        case RevisionRole: return e.revision;
        case FileRole: return e.file;
        case SizeBytesRole: return e.size_bytes;
        case SizeTextRole: return (e.size_exact ? QString() : QStringLiteral("≈ ")) + format_bytes(e.size_bytes);
        case QuantizationRole: return e.quantization;
        case ArchitectureRole: return e.architecture;
        case ParametersTextRole: return parameters_text(e.parameters);
        case ContextLengthRole: return e.context_length;
        case LicenseRole: return e.license;
        case MemoryTextRole: return format_bytes(e.memory_bytes);
        case FitsRole: return fits(r);
        case FitTextRole: return fit_text(e.memory_bytes, free_ram_bytes_);
        case GatedRole: return e.gated;
        case IsDefaultRole: return e.is_default;
        case InstalledRole: return installed;
        case PathRole: return r.path;
        case DownloadingRole: return d.downloading;
        case PausedRole: return d.paused;
        case ProgressRole: return d.progress();
        case ProgressTextRole: return d.progress_text();
        case ErrorRole: return d.error;
        case NoticeRole: return d.notice;
        case CanDownloadRole: return online() && !installed && !d.downloading;
        case DownloadHintRole: return !online() && !installed ? DownloadCenter::needs_connection_text() : QString();
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
            {NoticeRole, "notice"},
            {CanDownloadRole, "canDownload"},
            {DownloadHintRole, "downloadHint"}};
}

bool CatalogModel::online() const { return downloads_.online(); }

bool CatalogModel::onlineKnown() const { return downloads_.onlineKnown(); }

void CatalogModel::setOnline(bool online) { downloads_.setOnline(online); }

QString CatalogModel::freeRamText() const {
    return free_ram_bytes_ < 0 ? QString() : QStringLiteral("%1 free RAM").arg(format_bytes(free_ram_bytes_));
}

int CatalogModel::defaultRow() const {
    for (int i = 0; i < rows_.size(); ++i)
        if (rows_[i].entry.is_default) return i;
    return rows_.isEmpty() ? -1 : 0;
}

void CatalogModel::set_free_ram_bytes(qint64 bytes) {
    if (bytes == free_ram_bytes_) return;
    free_ram_bytes_ = bytes;
    all_changed({FitsRole, FitTextRole});
    emit freeRamChanged();
}

void CatalogModel::refreshFreeRam() { set_free_ram_bytes(read_mem_available_bytes()); }

void CatalogModel::installed_changed() {
    for (Row& r : rows_) r.path = installed_.path_for(r.entry.repo, r.entry.file);
    all_changed();
}

void CatalogModel::all_changed(const QList<int>& roles) {
    if (!rows_.isEmpty()) emit dataChanged(index(0), index((int)rows_.size() - 1), roles);
}

int CatalogModel::row_of(const QString& key) const {
    for (int i = 0; i < rows_.size(); ++i) {
        const CatalogEntry& e = rows_[i].entry;
        if (e.id == key || key == DownloadCenter::key(e.repo, e.file)) return i;
    }
    return -1;
}

QString CatalogModel::download_key(int row) const {
    if (row < 0 || row >= rows_.size()) return {};
    return DownloadCenter::key(rows_[row].entry.repo, rows_[row].entry.file);
}

bool CatalogModel::download(int row) {
    if (row < 0 || row >= rows_.size()) return false;
    const Row& r = rows_[row];
    const DownloadState* d = downloads_.state(download_key(row));
    if (!r.path.isEmpty() || (d && d->downloading)) return false;
    const CatalogEntry& e = r.entry;
    // size_bytes is the catalog's (approximate unless size_exact); an empty
    // sha256 means Hugging Face's etag is trusted.
    return downloads_.start(e.repo, e.revision, e.file, e.sha256, e.size_bytes, e.name);
}

void CatalogModel::cancel(int row) {
    const DownloadState* d = downloads_.state(download_key(row));
    if (d && d->downloading) downloads_.cancel(download_key(row));
}

void CatalogModel::pause(int row) { downloads_.pause(download_key(row)); }

void CatalogModel::resume(int row) {
    const DownloadState* d = downloads_.state(download_key(row));
    if (d && d->downloading && d->paused) downloads_.resume(download_key(row), rows_[row].entry.name);
}

void CatalogModel::clearError(int row) { downloads_.clear_error(download_key(row)); }

QString CatalogModel::pathAt(int row) const { return row >= 0 && row < rows_.size() ? rows_[row].path : QString(); }

bool CatalogModel::fits(const Row& r) const {
    // The whole file must be in RAM, a mixture of experts' unused experts
    // too: memory_bytes counts them all.
    const Fit fit = judge_fit(r.entry.memory_bytes, free_ram_bytes_);
    return fit == Fit::Fits || fit == Fit::Barely;
}

qint64 CatalogModel::read_mem_available_bytes() {
    uint64_t total = 0, available = 0;
    if (!eg::read_meminfo(&total, &available)) return -1;
    return (qint64)available;
}

QString CatalogModel::parameters_text(qint64 count) {
    if (count >= 1'000'000'000) return QStringLiteral("%1B").arg(count / 1e9, 0, 'f', 1);
    if (count >= 1'000'000) return QStringLiteral("%1M").arg(std::llround(count / 1e6));
    return QStringLiteral("%1K").arg(std::llround(count / 1e3));
}

QString CatalogModel::fit_text(qint64 memory_bytes, qint64 free_bytes) {
    switch (judge_fit(memory_bytes, free_bytes)) {
        case Fit::Unknown: return QStringLiteral("needs %1 of RAM").arg(format_bytes(memory_bytes));
        case Fit::Fits: return QStringLiteral("fits in %1 free RAM").arg(format_bytes(free_bytes));
        case Fit::Barely:
            return QStringLiteral("fits barely: needs %1 of %2 free")
                .arg(format_bytes(memory_bytes), format_bytes(free_bytes));
        case Fit::TooBig: break;
    }
    return QStringLiteral("needs %1, %2 free").arg(format_bytes(memory_bytes), format_bytes(free_bytes));
}

}  // namespace eg::ui
