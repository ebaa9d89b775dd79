// The messages of the conversation on screen, for the chat pane's ListView.
// The assistant's reply grows in place while it streams: a piece appended
// changes its content and the last of its segments, not the rows above. The
// view is told at most every kShowIntervalMs (the first piece at once, the
// last with finish()): each telling costs a layout and a frame, and a reply
// drawn 30 times a second reads as smoothly as one drawn 60 times.
#pragma once

#include <QAbstractListModel>
#include <QElapsedTimer>
#include <QTimer>
#include <QVariantList>
#include <QVariantMap>

#include "segment_list_model.h"

namespace eg::ui {

struct MessageItem {
    qint64 message_id = 0;
    QString role;  // user | assistant | system
    QString content;
    bool streaming = false;
    QString stats_text;
    // split_markdown_segments(content) as a list model; the model makes and owns it.
    SegmentListModel* segments = nullptr;
    QString notice;  // said above a reply, e.g. that the oldest turns were left out of its context
    int version = 1, versions = 1;  // this message among the versions of its place (edits, regenerations)
};

class MessageListModel : public QAbstractListModel {
    Q_OBJECT
    Q_PROPERTY(int count READ count NOTIFY countChanged)
public:
    enum Role {
        RoleRole = Qt::UserRole + 1,
        ContentRole,
        MessageIdRole,
        StreamingRole,
        StatsTextRole,
        SegmentsRole,
        NoticeRole,
        VersionRole,
        VersionsRole,
    };
    Q_ENUM(Role)

    explicit MessageListModel(QObject* parent = nullptr);
    ~MessageListModel() override;

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;
    int count() const { return (int)items_.size(); }

    // {role, content, messageId, streaming, statsText, notice, version, versions} of a row; {} if out of range.
    Q_INVOKABLE QVariantMap get(int row) const;

    const QList<MessageItem>& items() const { return items_; }
    void set_items(QList<MessageItem> items);
    void clear() { set_items({}); }
    int append(MessageItem item);  // returns the row
    void append_content(int row, const QString& text);
    void set_content(int row, const QString& text);
    void finish(int row, const QString& stats_text);
    void set_notice(int row, const QString& notice);
    void remove_from(int row);  // removes row and every later row
    int row_of(qint64 message_id) const;  // -1 when absent

    static constexpr int kShowIntervalMs = 33;

    // Tells the view about appended text not shown yet (done by every other change, and by a timer).
    void flush();

    // "42 tokens · 31.5 tok/s · first token 180 ms"
    static QString stats_text(int completion_tokens, double tokens_per_s, double ttft_ms);

signals:
    void countChanged();

private:
    void own_segments(MessageItem& m);  // a new segment model for m.content

    QList<MessageItem> items_;
    int pending_row_ = -1;       // a row with appended text the view has not been told about
    QTimer flush_timer_;
    QElapsedTimer since_flush_;
};

}  // namespace eg::ui
