// Turns template tokens into a syntax tree, refusing (with line:column)
// anything outside the supported jinja2 subset rather than guessing.
#pragma once

#include <memory>
#include <string>

#include "chat/jinja_ast.h"

namespace eg::jinja {

// Deeper nesting than this (brackets, unary operators, blocks) is refused
// when parsing, which also bounds the interpreter's recursion.
inline constexpr int kMaxNestingDepth = 200;
// Left-deep chains built by loops (a + b + c ..., x|f|g|h ..., a.b.c ...)
// are bounded too: evaluating and freeing a tree recurses over its height.
inline constexpr int kMaxExprDepth = 400;

// Throws TemplateError naming line and column.
std::unique_ptr<Template> parse_template(const std::string& source);

}  // namespace eg::jinja
