#include "segment_list_model.h"

#include <QVariantMap>

namespace eg::ui {

SegmentListModel::SegmentListModel(QObject* parent) : QAbstractListModel(parent) {}

int SegmentListModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : (int)segments_.size();
}

QVariant SegmentListModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() < 0 || index.row() >= segments_.size()) return {};
    const QVariantMap m = segments_[index.row()].toMap();
    switch (role) {
        case KindRole: return m.value(QStringLiteral("kind"));
        case TextRole: return m.value(QStringLiteral("text"));
        case LangRole: return m.value(QStringLiteral("lang"));
        default: return {};
    }
}

QHash<int, QByteArray> SegmentListModel::roleNames() const {
    return {{KindRole, "kind"}, {TextRole, "text"}, {LangRole, "lang"}};
}

void SegmentListModel::set_text(const QString& text) { apply(split_markdown_from(text, 0), 0); }

void SegmentListModel::extend(const QString& text) {
    if (text.size() < stable_.stable_end) return set_text(text);
    MarkdownSplit tail = split_markdown_from(text, stable_.stable_end);
    // The stable segments stay as they are; the tail's follow them.
    MarkdownSplit whole;
    whole.segments = segments_.mid(0, stable_.stable_count);
    whole.segments.append(tail.segments);
    whole.stable_count = stable_.stable_count + tail.stable_count;
    whole.stable_end = tail.stable_end;
    apply(std::move(whole), stable_.stable_count);
}

// Rows before first_changed are known to be equal; later ones are compared,
// so that a delegate is told only about its own segment growing.
void SegmentListModel::apply(MarkdownSplit split, int first_changed) {
    const int old_n = (int)segments_.size(), new_n = (int)split.segments.size();
    const int common = std::min(old_n, new_n);
    for (int i = first_changed; i < common; ++i) {
        const QVariantMap a = segments_[i].toMap(), b = split.segments[i].toMap();
        if (a == b) continue;
        QList<int> roles;
        if (a.value(QStringLiteral("kind")) != b.value(QStringLiteral("kind"))) roles << KindRole;
        if (a.value(QStringLiteral("text")) != b.value(QStringLiteral("text"))) roles << TextRole;
        if (a.value(QStringLiteral("lang")) != b.value(QStringLiteral("lang"))) roles << LangRole;
        segments_[i] = split.segments[i];
        emit dataChanged(index(i), index(i), roles);
    }
    if (new_n < old_n) {
        beginRemoveRows({}, new_n, old_n - 1);
        segments_.erase(segments_.begin() + new_n, segments_.end());
        endRemoveRows();
    } else if (new_n > old_n) {
        beginInsertRows({}, old_n, new_n - 1);
        for (int i = old_n; i < new_n; ++i) segments_.push_back(split.segments[i]);
        endInsertRows();
    }
    stable_.stable_count = split.stable_count;
    stable_.stable_end = split.stable_end;
    if (new_n != old_n) emit countChanged();
}

}  // namespace eg::ui
