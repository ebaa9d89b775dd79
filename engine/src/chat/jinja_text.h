// Python str semantics over UTF-8 bytes: templates index, slice, measure and
// case-map strings by code point, and strip Python's idea of whitespace.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace eg::jinja::text {

std::u32string decode(std::string_view s);  // invalid bytes decode as U+FFFD
std::string encode(const std::u32string& s);
void append_utf8(std::string& out, char32_t cp);
size_t length(std::string_view s);  // in code points

// str.isspace() as Python defines it (Unicode White_Space + \x1c-\x1f).
bool is_space(char32_t c);
bool all_space(std::string_view s);

std::string strip(std::string_view s, bool left, bool right);
std::string strip_chars(std::string_view s, std::string_view chars, bool left, bool right);

std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string py_title(std::string_view s);    // str.title()
std::string jinja_title(std::string_view s); // the |title filter (splits on -, space, brackets)
std::string capitalize(std::string_view s);

// repr(str): quotes and escapes as CPython does.
std::string repr(std::string_view s);

// str.split(sep=None, maxsplit) and str.split(sep, maxsplit); rsplit likewise.
std::vector<std::string> split_whitespace(std::string_view s, int64_t maxsplit, bool from_right);
std::vector<std::string> split_on(std::string_view s, std::string_view sep, int64_t maxsplit, bool from_right);

std::string replace(std::string_view s, std::string_view from, std::string_view to, int64_t count);

}  // namespace eg::jinja::text
