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

}  // namespace eg::ui
