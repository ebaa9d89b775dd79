#include "model_list_model.h"

#include <QDir>
#include <QFileInfo>

#include <algorithm>

namespace eg::ui {

ModelListModel::ModelListModel(const QString& cache_dir, QObject* parent)
    : QAbstractListModel(parent), cache_dir_(cache_dir) {
    refresh();
}

int ModelListModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : (int)rows_.size(); }

QVariant ModelListModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() < 0 || index.row() >= rows_.size()) return {};
    const Row& r = rows_[index.row()];
    switch (role) {
        case NameRole: return r.name;
        case PathRole: return r.path;
        case SizeTextRole: return size_text(r.size_bytes);
        default: return {};
    }
}

QHash<int, QByteArray> ModelListModel::roleNames() const {
    return {{NameRole, "name"}, {PathRole, "path"}, {SizeTextRole, "sizeText"}};
}

void ModelListModel::refresh() {
    QList<Row> rows;
    const QFileInfoList files =
        QDir(cache_dir_).entryInfoList({QStringLiteral("*.gguf")}, QDir::Files | QDir::Readable, QDir::Name);
    for (const QFileInfo& f : files) rows.push_back({f.completeBaseName(), f.absoluteFilePath(), f.size()});
    for (const QString& p : extra_paths_) {
        const QFileInfo f(p);
        const bool listed = std::any_of(rows.cbegin(), rows.cend(),
                                        [&](const Row& r) { return r.path == f.absoluteFilePath(); });
        if (f.isFile() && f.isReadable() && !listed) rows.push_back({f.completeBaseName(), f.absoluteFilePath(), f.size()});
    }
    beginResetModel();
    rows_ = std::move(rows);
    endResetModel();
    emit countChanged();
}

QString ModelListModel::pathAt(int row) const { return row >= 0 && row < rows_.size() ? rows_[row].path : QString(); }

int ModelListModel::rowOfPath(const QString& path) const {
    const QString abs = QFileInfo(path).absoluteFilePath();
    for (int i = 0; i < rows_.size(); ++i)
        if (rows_[i].path == abs) return i;
    return -1;
}

QString ModelListModel::size_text(qint64 bytes) {
    if (bytes >= 1000LL * 1000 * 1000) return QStringLiteral("%1 GB").arg(bytes / 1e9, 0, 'f', 1);
    if (bytes >= 1000LL * 1000) return QStringLiteral("%1 MB").arg(bytes / 1e6, 0, 'f', 1);
    return QStringLiteral("%1 kB").arg(bytes / 1e3, 0, 'f', 1);
}

}  // namespace eg::ui
