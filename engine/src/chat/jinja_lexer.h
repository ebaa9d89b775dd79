// Splits a template into text and tag tokens, applying jinja2's whitespace
// control exactly as the Hugging Face chat environment configures it
// (trim_blocks, lstrip_blocks, `-`/`+` markers, one trailing newline dropped).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace eg::jinja {

enum class Tok { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };

struct Token {
    Tok type = Tok::Eof;
    std::string text;  // Text data, name, decoded string literal, or operator
    int64_t int_value = 0;
    double float_value = 0;
    int line = 0;
    int col = 0;
};

struct LexOptions {
    bool trim_blocks = true;
    bool lstrip_blocks = true;
    bool keep_trailing_newline = false;
};

// Throws TemplateError (with line/col) on an unclosed tag, comment or string,
// or an unbalanced bracket.
std::vector<Token> lex(const std::string& source, const LexOptions& options = {});

}  // namespace eg::jinja
