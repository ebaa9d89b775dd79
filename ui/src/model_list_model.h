// Installed models: the *.gguf files in the model cache dir, for the model
// picker. Empty means first start: the UI shows how to get a model.
#pragma once

#include <QAbstractListModel>
#include <QStringList>

namespace eg::ui {

class ModelListModel : public QAbstractListModel {
    Q_OBJECT
    Q_PROPERTY(int count READ count NOTIFY countChanged)
    Q_PROPERTY(QString cacheDir READ cacheDir CONSTANT)
public:
    enum Role { NameRole = Qt::UserRole + 1, PathRole, SizeTextRole };
    Q_ENUM(Role)

    explicit ModelListModel(const QString& cache_dir, QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;
    int count() const { return (int)rows_.size(); }
    QString cacheDir() const { return cache_dir_; }

    // Models kept outside the cache dir (imported in place), listed too.
    void setExtraPaths(const QStringList& paths) { extra_paths_ = paths; }
    Q_INVOKABLE void refresh();
    Q_INVOKABLE QString pathAt(int row) const;
    Q_INVOKABLE int rowOfPath(const QString& path) const;  // -1 when absent

    static QString size_text(qint64 bytes);  // "98.7 MB"

signals:
    void countChanged();

private:
    struct Row {
        QString name, path;
        qint64 size_bytes = 0;
    };
    QString cache_dir_;
    QStringList extra_paths_;
    QList<Row> rows_;
};

}  // namespace eg::ui
