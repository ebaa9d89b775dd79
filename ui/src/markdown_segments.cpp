#include "markdown_segments.h"

#include <QStringView>
#include <QVariantMap>

namespace eg::ui {

namespace {

struct Fence {
    QChar ch;
    int length = 0;
    QStringView info;
};

// A fence line: up to 3 spaces, then 3+ backticks or tildes.
bool parse_fence(QStringView line, Fence* out) {
    qsizetype i = 0;
    while (i < line.size() && i < 3 && line[i] == u' ') ++i;
    if (i >= line.size() || (line[i] != u'`' && line[i] != u'~')) return false;
    const QChar ch = line[i];
    int n = 0;
    while (i + n < line.size() && line[i + n] == ch) ++n;
    if (n < 3) return false;
    const QStringView info = line.mid(i + n).trimmed();
    if (ch == u'`' && info.contains(u'`')) return false;
    out->ch = ch;
    out->length = n;
    out->info = info;
    return true;
}

// "3. " or "3) ": a line that goes on an ordered list. Qt's Markdown reader
// numbers every list from 1, so a list is never cut before such a line.
bool ordered_item(QStringView line) {
    qsizetype i = 0;
    while (i < line.size() && i < 9 && line[i].isDigit()) ++i;
    return i > 0 && i < line.size() && (line[i] == u'.' || line[i] == u')') &&
           (i + 1 == line.size() || line[i + 1].isSpace());
}

QVariantMap segment(const char* kind, const QString& text, const QString& lang) {
    return QVariantMap{{QStringLiteral("kind"), QString::fromLatin1(kind)},
                       {QStringLiteral("text"), text},
                       {QStringLiteral("lang"), lang}};
}

}  // namespace

MarkdownSplit split_markdown_from(const QString& markdown, qsizetype from) {
    MarkdownSplit out;
    out.stable_end = from;
    const QStringView md(markdown);
    const qsizetype n = md.size();
    // The lines gathered since the last fence: md[buf_first, buf_end), -1 when none.
    qsizetype buf_first = -1, buf_end = from;
    bool in_code = false;
    bool after_blank = false;  // the line before was blank (text only)
    Fence open;
    QString lang;
    const auto buffered = [&] { return buf_first < 0 ? QString() : md.mid(buf_first, buf_end - buf_first).toString(); };
    const auto flush_text = [&] {
        const QStringView t = buf_first < 0 ? QStringView() : md.mid(buf_first, buf_end - buf_first).trimmed();
        if (!t.isEmpty()) out.segments.push_back(segment("text", t.toString(), {}));
        buf_first = -1;
    };
    for (qsizetype pos = from; pos <= n;) {
        const qsizetype nl = md.indexOf(u'\n', pos);
        const bool complete = nl >= 0;  // a line without its newline yet may still change
        const qsizetype end = complete ? nl : n;
        const QStringView line = md.mid(pos, end - pos);
        Fence f;
        if (!in_code) {
            if (parse_fence(line, &f)) {
                flush_text();
                if (complete) {
                    out.stable_count = (int)out.segments.size();
                    out.stable_end = pos;
                }
                in_code = true;
                after_blank = false;
                open = f;
                lang = f.info.toString().section(u' ', 0, 0);
            } else {
                // A paragraph that starts after a blank line, not indented
                // (not a continuation of a list item or code), starts a new
                // segment: the ones above are finished while a reply streams.
                // Decided only once its first characters cannot change it.
                const bool starts_block = after_blank && !line.isEmpty() && !line[0].isSpace() &&
                                          (complete || !line[0].isDigit()) && !ordered_item(line);
                if (starts_block && buf_first >= 0) {
                    flush_text();
                    out.stable_count = (int)out.segments.size();
                    out.stable_end = pos;
                }
                if (buf_first < 0) buf_first = pos;
                buf_end = end;
                after_blank = complete && line.trimmed().isEmpty();
            }
        } else if (parse_fence(line, &f) && f.ch == open.ch && f.length >= open.length && f.info.isEmpty()) {
            out.segments.push_back(segment("code", buffered(), lang));
            buf_first = -1;
            in_code = false;
            if (complete) {
                out.stable_count = (int)out.segments.size();
                out.stable_end = nl + 1;
            }
        } else {
            if (buf_first < 0) buf_first = pos;
            buf_end = end;
        }
        pos = complete ? nl + 1 : n + 1;
    }
    if (in_code) out.segments.push_back(segment("code", buffered(), lang));
    else flush_text();
    return out;
}

QVariantList split_markdown_segments(const QString& markdown) { return split_markdown_from(markdown, 0).segments; }

}  // namespace eg::ui
