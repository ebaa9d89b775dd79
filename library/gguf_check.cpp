#include "library/gguf_check.h"

#include <QFile>

#include "gguf/gguf.h"

namespace eg::library {

bool hash_file_into(const QString& path, QCryptographicHash& hash, qint64 limit_bytes, QString* error) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        if (error) *error = QStringLiteral("cannot read %1: %2").arg(path, f.errorString());
        return false;
    }
    qint64 left = limit_bytes < 0 ? f.size() : limit_bytes;
    QByteArray buf(1 << 20, Qt::Uninitialized);
    while (left > 0) {
        const qint64 n = f.read(buf.data(), std::min<qint64>(left, buf.size()));
        if (n <= 0) {
            if (error) *error = QStringLiteral("cannot read %1: ended early (%2)").arg(path, f.errorString());
            return false;
        }
        hash.addData(QByteArrayView(buf.constData(), n));
        left -= n;
    }
    return true;
}

QString sha256_of_file(const QString& path, QString* error) {
    QCryptographicHash hash(QCryptographicHash::Sha256);
    if (!hash_file_into(path, hash, -1, error)) return {};
    return QString::fromLatin1(hash.result().toHex());
}

QString gguf_problem(const QString& path) {
    auto file = eg::GgufFile::open(path.toStdString());
    if (file.ok()) return {};
    return QString::fromStdString(file.message());
}

bool looks_like_sha256(const QString& text) {
    if (text.size() != 64) return false;
    for (QChar c : text)
        if (!c.isDigit() && !(c.toLower() >= u'a' && c.toLower() <= u'f')) return false;
    return true;
}

}  // namespace eg::library
