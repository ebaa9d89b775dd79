#include "message_list_model.h"

#include <utility>

#include "markdown_segments.h"

namespace eg::ui {

MessageListModel::MessageListModel(QObject* parent) : QAbstractListModel(parent) {
    flush_timer_.setSingleShot(true);
    connect(&flush_timer_, &QTimer::timeout, this, &MessageListModel::flush);
}

void MessageListModel::flush() {
    flush_timer_.stop();
    const int row = std::exchange(pending_row_, -1);
    if (row < 0 || row >= items_.size()) return;
    since_flush_.start();
    MessageItem& m = items_[row];
    m.segments->extend(m.content);  // split again from the last closed fence or paragraph only
    const QModelIndex i = index(row);
    emit dataChanged(i, i, {ContentRole});
}

MessageListModel::~MessageListModel() = default;  // the segment models are children

void MessageListModel::own_segments(MessageItem& m) {
    m.segments = new SegmentListModel(this);
    m.segments->set_text(m.content);
}

int MessageListModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : (int)items_.size(); }

QVariant MessageListModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() < 0 || index.row() >= items_.size()) return {};
    const MessageItem& m = items_[index.row()];
    switch (role) {
        case RoleRole: return m.role;
        case ContentRole: return m.content;
        case MessageIdRole: return m.message_id;
        case StreamingRole: return m.streaming;
        case StatsTextRole: return m.stats_text;
        case SegmentsRole: return QVariant::fromValue<QObject*>(m.segments);
        case NoticeRole: return m.notice;
        case VersionRole: return m.version;
        case VersionsRole: return m.versions;
        default: return {};
    }
}

QHash<int, QByteArray> MessageListModel::roleNames() const {
    return {{RoleRole, "role"},           {ContentRole, "content"},     {MessageIdRole, "messageId"},
            {StreamingRole, "streaming"}, {StatsTextRole, "statsText"}, {SegmentsRole, "segments"},
            {NoticeRole, "notice"},       {VersionRole, "version"},     {VersionsRole, "versions"}};
}

QVariantMap MessageListModel::get(int row) const {
    if (row < 0 || row >= items_.size()) return {};
    const MessageItem& m = items_[row];
    return {{QStringLiteral("role"), m.role},
            {QStringLiteral("content"), m.content},
            {QStringLiteral("messageId"), m.message_id},
            {QStringLiteral("streaming"), m.streaming},
            {QStringLiteral("statsText"), m.stats_text},
            {QStringLiteral("notice"), m.notice},
            {QStringLiteral("version"), m.version},
            {QStringLiteral("versions"), m.versions}};
}

void MessageListModel::set_items(QList<MessageItem> items) {
    flush();
    QList<SegmentListModel*> old;
    for (const MessageItem& m : std::as_const(items_)) old << m.segments;
    beginResetModel();
    items_ = std::move(items);
    for (MessageItem& m : items_) own_segments(m);
    endResetModel();
    // Deleted later: the delegates of the old rows may still hold them this turn.
    for (SegmentListModel* s : old)
        if (s) s->deleteLater();
    emit countChanged();
}

int MessageListModel::append(MessageItem item) {
    flush();
    const int row = (int)items_.size();
    own_segments(item);
    beginInsertRows({}, row, row);
    items_.push_back(std::move(item));
    endInsertRows();
    emit countChanged();
    return row;
}

void MessageListModel::append_content(int row, const QString& text) {
    if (row < 0 || row >= items_.size() || text.isEmpty()) return;
    if (pending_row_ >= 0 && pending_row_ != row) flush();
    items_[row].content += text;
    pending_row_ = row;
    // The first piece after a pause shows at once; later ones at most every kShowIntervalMs.
    const qint64 since = since_flush_.isValid() ? since_flush_.elapsed() : kShowIntervalMs;
    if (since >= kShowIntervalMs) flush();
    else if (!flush_timer_.isActive()) flush_timer_.start(int(kShowIntervalMs - since));
}

void MessageListModel::set_content(int row, const QString& text) {
    if (row < 0 || row >= items_.size()) return;
    flush();
    items_[row].content = text;
    items_[row].segments->set_text(text);  // (same model: the delegate keeps its rows that did not change)
    const QModelIndex i = index(row);
    emit dataChanged(i, i, {ContentRole});
}

void MessageListModel::finish(int row, const QString& stats) {
    if (row < 0 || row >= items_.size()) return;
    flush();  // the whole reply is on screen before its stats
    items_[row].streaming = false;
    items_[row].stats_text = stats;
    const QModelIndex i = index(row);
    emit dataChanged(i, i, {StreamingRole, StatsTextRole});
}

void MessageListModel::set_notice(int row, const QString& notice) {
    if (row < 0 || row >= items_.size() || items_[row].notice == notice) return;
    flush();
    items_[row].notice = notice;
    const QModelIndex i = index(row);
    emit dataChanged(i, i, {NoticeRole});
}

void MessageListModel::remove_from(int row) {
    if (row < 0 || row >= items_.size()) return;
    flush();
    QList<SegmentListModel*> old;
    for (int i = row; i < items_.size(); ++i) old << items_[i].segments;
    beginRemoveRows({}, row, (int)items_.size() - 1);
    items_.erase(items_.begin() + row, items_.end());
    endRemoveRows();
    for (SegmentListModel* s : old) s->deleteLater();
    emit countChanged();
}

int MessageListModel::row_of(qint64 message_id) const {
    for (int i = 0; i < items_.size(); ++i)
        if (items_[i].message_id == message_id) return i;
    return -1;
}

QString MessageListModel::stats_text(int completion_tokens, double tokens_per_s, double ttft_ms) {
    if (completion_tokens <= 0) return {};
    QString s = completion_tokens == 1 ? QStringLiteral("1 token") : QStringLiteral("%1 tokens").arg(completion_tokens);
    if (tokens_per_s > 0) s += QStringLiteral(" · %1 tok/s").arg(tokens_per_s, 0, 'f', 1);
    if (ttft_ms > 0) s += QStringLiteral(" · first token %1 ms").arg(qRound(ttft_ms));
    return s;
}

}  // namespace eg::ui
