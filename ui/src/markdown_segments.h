// Splits Markdown on fenced code blocks so QML can show prose as
// Text.MarkdownText and code in a monospace box with a Copy button.
#pragma once

#include <QString>
#include <QVariantList>

namespace eg::ui {

// [{kind: "text"|"code", text, lang}] in order. Fences are ``` or ~~~ (3 or
// more, indented at most 3 spaces); an unclosed fence (a reply still
// streaming) runs to the end. Whitespace-only text segments are dropped.
QVariantList split_markdown_segments(const QString& markdown);

// The segments of markdown[from..] (from: 0, or a stable_end of an earlier
// split of a prefix of this text), and how far they can no longer change
// when text is appended: the first stable_count segments end before
// stable_end, an offset in `markdown` at the start of a line after which a
// later split may begin (a closed fence, or the line of a fence that opens).
// A reply that streams is split again from there, not from its start.
struct MarkdownSplit {
    QVariantList segments;
    int stable_count = 0;
    qsizetype stable_end = 0;
};
MarkdownSplit split_markdown_from(const QString& markdown, qsizetype from);

}  // namespace eg::ui
