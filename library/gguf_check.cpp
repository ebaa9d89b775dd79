#include "library/gguf_check.h"

#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>

#include "gguf/gguf.h"
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
