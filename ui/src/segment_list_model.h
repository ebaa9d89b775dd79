// The segments of one message (markdown_segments.h) as a list model, for the
// Repeater of MessageDelegate.qml. While a reply streams, appended text is
// split again only from the last stable point, and only the rows that changed
// are announced: the finished paragraphs and code blocks above keep their
// items (no re-creation, no new layout), only the last one grows.
#pragma once

#include <QAbstractListModel>
#include <QVariantList>

#include "markdown_segments.h"

namespace eg::ui {

class SegmentListModel : public QAbstractListModel {
    Q_OBJECT
    Q_PROPERTY(int count READ count NOTIFY countChanged)
public:
    enum Role { KindRole = Qt::UserRole + 1, TextRole, LangRole };
    Q_ENUM(Role)

    explicit SegmentListModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;
    int count() const { return (int)segments_.size(); }
    // [{kind, text, lang}] as split_markdown_segments gives them.
    const QVariantList& segments() const { return segments_; }

    // The segments of `text`, split from its start.
    void set_text(const QString& text);
    // `text` is the earlier text with more at its end: split from the last stable point.
    void extend(const QString& text);

signals:
    void countChanged();

private:
    void apply(MarkdownSplit split, int first_changed);

    QVariantList segments_;
    MarkdownSplit stable_;  // stable_count and stable_end of the last split (segments unused)
};

}  // namespace eg::ui
