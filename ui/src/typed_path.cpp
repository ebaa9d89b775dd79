#include "typed_path.h"

#include <QDir>
#include <QFileInfo>
#include <QUrl>

namespace eg::ui {

QString local_path_from_typed(const QString& typed) {
    QString t = typed.trimmed();
    if (t.isEmpty()) return {};
    if (t == QLatin1String("~")) t = QDir::homePath();
    else if (t.startsWith(QLatin1String("~/"))) t = QDir::homePath() + t.mid(1);
    else if (const QUrl url(t); url.isLocalFile()) t = url.toLocalFile();
    else if (url.scheme().size() > 1) return {};  // http:, remote:, … ("C:" would be a drive)
    return QFileInfo(t).absoluteFilePath();
}

}  // namespace eg::ui
