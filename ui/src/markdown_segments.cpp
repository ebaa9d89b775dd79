#include "markdown_segments.h"

#include <QStringList>
#include <QVariantMap>

namespace eg::ui {

namespace {

struct Fence {
    QChar ch;
    int length = 0;
    QString info;
};

// A fence line: up to 3 spaces, then 3+ backticks or tildes.
bool parse_fence(const QString& line, Fence* out) {
    int i = 0;
    while (i < line.size() && i < 3 && line[i] == u' ') ++i;
    if (i >= line.size() || (line[i] != u'`' && line[i] != u'~')) return false;
    const QChar ch = line[i];
    int n = 0;
    while (i + n < line.size() && line[i + n] == ch) ++n;
    if (n < 3) return false;
    const QString info = line.mid(i + n).trimmed();
    if (ch == u'`' && info.contains(u'`')) return false;
    out->ch = ch;
    out->length = n;
    out->info = info;
    return true;
}

QVariantMap segment(const char* kind, const QString& text, const QString& lang) {
    return QVariantMap{{QStringLiteral("kind"), QString::fromLatin1(kind)},
                       {QStringLiteral("text"), text},
                       {QStringLiteral("lang"), lang}};
}

}  // namespace

QVariantList split_markdown_segments(const QString& markdown) {
    QVariantList out;
    const QStringList lines = markdown.split(u'\n');
    QStringList buf;
    bool in_code = false;
    Fence open;
    auto flush_text = [&] {
        const QString t = buf.join(u'\n');
        if (!t.trimmed().isEmpty()) out.push_back(segment("text", t.trimmed(), {}));
        buf.clear();
    };
    for (const QString& line : lines) {
        Fence f;
        if (!in_code) {
            if (parse_fence(line, &f)) {
                flush_text();
                in_code = true;
                open = f;
            } else {
                buf.push_back(line);
            }
        } else {
            if (parse_fence(line, &f) && f.ch == open.ch && f.length >= open.length && f.info.isEmpty()) {
                out.push_back(segment("code", buf.join(u'\n'), open.info.section(u' ', 0, 0)));
                buf.clear();
                in_code = false;
            } else {
                buf.push_back(line);
            }
        }
    }
    if (in_code) out.push_back(segment("code", buf.join(u'\n'), open.info.section(u' ', 0, 0)));
    else flush_text();
    return out;
}

}  // namespace eg::ui
