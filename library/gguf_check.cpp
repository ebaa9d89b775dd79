#include "library/gguf_check.h"

#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>

#include "gguf/gguf.h"
#include "model/arch.h"
#include "model/runnable.h"
#include "store/result_qt.h"

namespace eg::library {

eg::Status hash_file_into(const QString& path, QCryptographicHash& hash, qint64 limit_bytes) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return to_error(QStringLiteral("cannot read %1: %2").arg(path, f.errorString()));
    qint64 left = limit_bytes < 0 ? f.size() : limit_bytes;
    QByteArray buf(1 << 20, Qt::Uninitialized);
    while (left > 0) {
        const qint64 n = f.read(buf.data(), std::min<qint64>(left, buf.size()));
        if (n <= 0) return to_error(QStringLiteral("cannot read %1: ended early (%2)").arg(path, f.errorString()));
        hash.addData(QByteArrayView(buf.constData(), n));
        left -= n;
    }
    return {};
}

eg::Result<QString> sha256_of_file(const QString& path) {
    QCryptographicHash hash(QCryptographicHash::Sha256);
    if (auto s = hash_file_into(path, hash, -1); !s) return s.error();
    return QString::fromLatin1(hash.result().toHex());
}

eg::Status check_gguf(const QString& path) {
    auto file = eg::GgufFile::open(path.toStdString());
    if (file.ok()) return {};
    return file.error();
}

eg::Status check_gguf_part(const QString& path) {
    auto file = eg::GgufFile::open_single(path.toStdString());
    if (file.ok()) return {};
    return file.error();
}

eg::Status check_runnable_file(const QString& path) {
    auto file = eg::GgufFile::open(path.toStdString());
    if (!file) return file.error();
    return eg::check_runnable(*file.value());
}

eg::Status runnable_on_hub(const QString& repo, const QString& file, const QString& architecture) {
    if (!architecture.isEmpty() && !eg::find_arch(architecture.toStdString()))
        return to_error(QStringLiteral("%1: the architecture '%2' (the Hub's GGUF metadata) is not one this engine "
                                       "runs (it runs %3)")
                            .arg(repo, architecture, QString::fromStdString(eg::supported_archs())));
    // The quant tag as publishers write it: the last Q4_K_M, IQ4_XS, TQ1_0,
    // BF16, Q8_1... between separators of the name.
    static const QRegularExpression tag_re(
        QStringLiteral("(?:^|[-._])(I?Q[0-9]_[0-9A-Z]+(?:_[0-9A-Z]+)?|TQ[0-9]_[0-9]|BF16|F16|F32|MXFP4)(?=[-._])"));
    const QString name = QFileInfo(file).fileName().toUpper();
    QString tag;
    for (auto it = tag_re.globalMatch(name); it.hasNext();) tag = it.next().captured(1);
    if (tag.isEmpty()) return {};
    // Q4_K_M / Q3_K_L are mixes of the K types: the K type decides.
    static const QRegularExpression k_mix(QStringLiteral("^(Q[0-9]_K)_[SML]$"));
    if (const auto m = k_mix.match(tag); m.hasMatch()) tag = m.captured(1);
    for (uint32_t id = 0; id < 64; ++id) {
        const eg::TypeTraits* tr = eg::type_traits(id);
        if (!tr || QString::fromLatin1(tr->name.data(), qsizetype(tr->name.size())).toUpper() != tag) continue;
        if (eg::is_runnable_type((eg::GgmlType)id)) return {};
        break;
    }
    // A known type the engine lacks. The i-quant mixes (IQ2_M, IQ3_M, IQ3_XS:
    // no type of that name) are made of i-quants, which all run: the header
    // decides.
    bool known = false;
    for (uint32_t id = 0; id < 64 && !known; ++id)
        if (const eg::TypeTraits* tr = eg::type_traits(id))
            known = QString::fromLatin1(tr->name.data(), qsizetype(tr->name.size())).toUpper() == tag;
    if (!known) return {};
    return to_error(QStringLiteral("%1: its quant type %2 is not one this engine runs (it runs %3); choose another "
                                   "file of the repository")
                        .arg(QFileInfo(file).fileName(), tag, QString::fromStdString(eg::runnable_types())));
}

namespace {
const QRegularExpression& split_name() {
    static const QRegularExpression re(QStringLiteral("-(\\d{5})-of-(\\d{5})\\.gguf$"));
    return re;
}
}  // namespace

QStringList model_files(const QString& file) {
    const auto m = split_name().match(file);
    const int count = m.hasMatch() ? m.captured(2).toInt() : 0;
    if (count < 2 || m.captured(1).toInt() != 1) return {file};
    QStringList out;
    const std::string first = file.toStdString();
    for (int k = 0; k < count; ++k)
        out << QString::fromStdString(eg::gguf_split_part_path(first, uint32_t(k), uint32_t(count)));
    return out;
}

bool is_later_split_part(const QString& file) {
    const auto m = split_name().match(file);
    return m.hasMatch() && m.captured(2).toInt() > 1 && m.captured(1).toInt() > 1;
}

qint64 model_bytes(const QString& path) {
    qint64 n = 0;
    for (const QString& f : model_files(path)) n += QFileInfo(f).size();
    return n;
}

bool looks_like_sha256(const QString& text) {
    if (text.size() != 64) return false;
    for (QChar c : text)
        if (!c.isDigit() && !(c.toLower() >= u'a' && c.toLower() <= u'f')) return false;
    return true;
}

}  // namespace eg::library
