// The sidebar: conversations by last activity, or the FTS search results
// when a filter is set.
#pragma once

#include <QAbstractListModel>
#include <QDateTime>

namespace eg::store {
class ChatStore;
}

namespace eg::ui {

class ConversationListModel : public QAbstractListModel {
    Q_OBJECT
    Q_PROPERTY(int count READ count NOTIFY countChanged)
    Q_PROPERTY(QString filter READ filter WRITE setFilter NOTIFY filterChanged)
    // Why the last rename, delete or search failed ("" after one that worked).
    Q_PROPERTY(QString error READ error NOTIFY errorChanged)
public:
    enum Role { ConversationIdRole = Qt::UserRole + 1, TitleRole, UpdatedAtRole, SnippetRole };
    Q_ENUM(Role)

    explicit ConversationListModel(eg::store::ChatStore& store, QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;
    int count() const { return (int)rows_.size(); }
    QString filter() const { return filter_; }
    QString error() const { return error_; }

    Q_INVOKABLE void refresh();
    Q_INVOKABLE void setFilter(const QString& text);  // FTS search; empty: all
    Q_INVOKABLE bool rename(qint64 id, const QString& title);
    Q_INVOKABLE bool remove(qint64 id);
    Q_INVOKABLE int rowOf(qint64 id) const;  // -1 when not listed

    // "14:05" today, "Yesterday", a weekday this week, else the date.
    static QString format_updated_at(const QDateTime& utc, const QDateTime& now_local);

signals:
    void countChanged();
    void filterChanged();
    void errorChanged();
    void conversationRemoved(qint64 id);
    void conversationRenamed(qint64 id, const QString& title);

private:
    struct Row {
        qint64 id = 0;
        QString title;
        QDateTime updated_at;
        QString snippet;
    };
    void set_error(const QString& e);

    eg::store::ChatStore& store_;
    QString filter_;
    QString error_;
    QList<Row> rows_;
};

}  // namespace eg::ui
