#include "conversation_list_model.h"

#include <QHash>
#include <QLocale>

#include <algorithm>

#include "store/chat_store.h"

namespace {
// The store marks matches with control characters; the sidebar shows them in
// bold (StyledText), with the text itself escaped.
QString snippet_html(const QString& marked) {
    QString out = marked.toHtmlEscaped();
    out.replace(QChar(eg::store::ChatStore::kMatchBegin), QStringLiteral("<b>"));
    out.replace(QChar(eg::store::ChatStore::kMatchEnd), QStringLiteral("</b>"));
    return out;
}
}  // namespace

namespace eg::ui {

ConversationListModel::ConversationListModel(eg::store::ChatStore& store, QObject* parent)
    : QAbstractListModel(parent), store_(store) {
    refresh();
}

int ConversationListModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : (int)rows_.size(); }

QVariant ConversationListModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() < 0 || index.row() >= rows_.size()) return {};
    const Row& r = rows_[index.row()];
    switch (role) {
        case ConversationIdRole: return r.id;
        case TitleRole: return r.title;
        case UpdatedAtRole: return format_updated_at(r.updated_at, QDateTime::currentDateTime());
        case SnippetRole: return r.snippet;
        default: return {};
    }
}

QHash<int, QByteArray> ConversationListModel::roleNames() const {
    return {{ConversationIdRole, "conversationId"},
            {TitleRole, "title"},
            {UpdatedAtRole, "updatedAt"},
            {SnippetRole, "snippet"}};
}

void ConversationListModel::refresh() {
    QList<Row> rows;
    const QList<eg::store::ConversationRow> all = store_.conversations();  // recent first
    if (filter_.trimmed().isEmpty()) {
        for (const auto& c : all) rows.push_back({c.id, c.title, c.updated_at, {}});
    } else {
        QHash<qint64, const eg::store::ConversationRow*> by_id;
        for (const auto& c : all) by_id.insert(c.id, &c);
        QHash<qint64, QString> snippet_of;
        const eg::Result<QList<eg::store::SearchHit>> hits = store_.search(filter_);
        set_error(hits ? QString() : eg::error_text(hits));
        for (const eg::store::SearchHit& h : hits ? hits.value() : QList<eg::store::SearchHit>()) {
            if (!by_id.contains(h.conversation_id)) continue;
            // A title hit has no snippet; the first message hit supplies one.
            QString& s = snippet_of[h.conversation_id];
            if (s.isEmpty() && h.message_id != 0) s = snippet_html(h.snippet);
        }
        for (auto it = snippet_of.cbegin(); it != snippet_of.cend(); ++it) {
            const auto* c = by_id.value(it.key());
            rows.push_back({c->id, c->title, c->updated_at, it.value()});
        }
        std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.updated_at > b.updated_at; });
    }
    beginResetModel();
    rows_ = std::move(rows);
    endResetModel();
    emit countChanged();
}

void ConversationListModel::setFilter(const QString& text) {
    if (text == filter_) return;
    filter_ = text;
    emit filterChanged();
    refresh();
}

bool ConversationListModel::rename(qint64 id, const QString& title) {
    const QString t = title.simplified();
    if (t.isEmpty()) return false;
    if (const eg::Status r = store_.rename_conversation(id, t); !r) return set_error(eg::error_text(r)), false;
    set_error({});
    const int row = rowOf(id);
    if (row >= 0) {
        rows_[row].title = t;
        emit dataChanged(index(row), index(row), {TitleRole});
    }
    emit conversationRenamed(id, t);
    return true;
}

bool ConversationListModel::remove(qint64 id) {
    if (const eg::Status r = store_.delete_conversation(id); !r) return set_error(eg::error_text(r)), false;
    set_error({});
    const int row = rowOf(id);
    if (row >= 0) {
        beginRemoveRows({}, row, row);
        rows_.removeAt(row);
        endRemoveRows();
        emit countChanged();
    }
    emit conversationRemoved(id);
    return true;
}

int ConversationListModel::rowOf(qint64 id) const {
    for (int i = 0; i < rows_.size(); ++i)
        if (rows_[i].id == id) return i;
    return -1;
}

QString ConversationListModel::format_updated_at(const QDateTime& utc, const QDateTime& now_local) {
    if (!utc.isValid()) return {};
    const QDateTime t = utc.toLocalTime();
    const QDate d = t.date(), today = now_local.date();
    const QLocale loc;
    if (d == today) return loc.toString(t.time(), QLocale::ShortFormat);
    if (d == today.addDays(-1)) return QObject::tr("Yesterday");
    if (d > today.addDays(-7)) return loc.dayName(d.dayOfWeek(), QLocale::LongFormat);
    return loc.toString(d, QLocale::ShortFormat);
}

void ConversationListModel::set_error(const QString& e) {
    if (e == error_) return;
    error_ = e;
    emit errorChanged();
}

}  // namespace eg::ui
