// Python str semantics over UTF-8 (see jinja_text.h); case mapping and
// character categories come from utf8proc so non-ASCII text maps as in Python.
#include "chat/jinja_text.h"

#include <algorithm>
#include <functional>

#include <utf8proc.h>

namespace eg::jinja::text {

std::u32string decode(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
    utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(s.size());
    while (left > 0) {
        utf8proc_int32_t cp = 0;
        utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
        if (n <= 0) {
            cp = 0xFFFD;
            n = 1;
        }
        out.push_back(static_cast<char32_t>(cp));
        p += n;
        left -= n;
    }
    return out;
}

void append_utf8(std::string& out, char32_t cp) {
    utf8proc_uint8_t buf[4];
    utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
    if (n <= 0) {  // a lone surrogate cannot be encoded: use U+FFFD
        n = utf8proc_encode_char(0xFFFD, buf);
    }
    out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

std::string encode(const std::u32string& s) {
    std::string out;
    out.reserve(s.size());
    for (char32_t c : s) append_utf8(out, c);
    return out;
}

size_t length(std::string_view s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // count non-continuation bytes
    return n;
}

bool is_space(char32_t c) {
    switch (c) {
        case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D:
        case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x20:
        case 0x85: case 0xA0: case 0x1680:
        case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
            return true;
        default:
            return c >= 0x2000 && c <= 0x200A;
    }
}

bool all_space(std::string_view s) {
    for (char32_t c : decode(s))
        if (!is_space(c)) return false;
    return true;
}

static std::string strip_if(std::string_view s, bool left, bool right, const std::function<bool(char32_t)>& pred) {
    std::u32string u = decode(s);
    size_t b = 0, e = u.size();
    if (left)
        while (b < e && pred(u[b])) ++b;
    if (right)
        while (e > b && pred(u[e - 1])) --e;
    return encode(u.substr(b, e - b));
}

std::string strip(std::string_view s, bool left, bool right) {
    return strip_if(s, left, right, is_space);
}

std::string strip_chars(std::string_view s, std::string_view chars, bool left, bool right) {
    std::u32string set = decode(chars);
    return strip_if(s, left, right, [&](char32_t c) { return set.find(c) != std::u32string::npos; });
}

static void append_upper(std::string& out, char32_t c) {
    if (c == 0xDF) {  // Python's full case mapping: ß -> SS
        out += "SS";
        return;
    }
    append_utf8(out, static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c))));
}
static void append_lower(std::string& out, char32_t c) {
    if (c == 0x130) {  // Python's full case mapping: İ -> i + combining dot
        out += "i\xcc\x87";
        return;
    }
    append_utf8(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
}
static void append_title(std::string& out, char32_t c) {
    append_utf8(out, static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(c))));
}

std::string upper(std::string_view s) {
    std::string out;
    for (char32_t c : decode(s)) append_upper(out, c);
    return out;
}

std::string lower(std::string_view s) {
    std::string out;
    for (char32_t c : decode(s)) append_lower(out, c);
    return out;
}

static bool is_cased(char32_t c) {
    auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
    return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

std::string py_title(std::string_view s) {
    std::string out;
    bool previous_cased = false;
    for (char32_t c : decode(s)) {
        if (previous_cased)
            append_lower(out, c);
        else
            append_title(out, c);
        previous_cased = is_cased(c);
    }
    return out;
}

std::string jinja_title(std::string_view s) {
    // jinja2 splits on ([-\s({\[<]+) and upper-cases the first character of
    // every piece, lower-casing the rest.
    auto is_sep = [](char32_t c) { return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_space(c); };
    std::string out;
    char32_t prev = 0;
    bool first = true;
    for (char32_t c : decode(s)) {
        if (first || is_sep(prev))
            append_upper(out, c);
        else
            append_lower(out, c);
        prev = c;
        first = false;
    }
    return out;
}

std::string capitalize(std::string_view s) {
    std::string out;
    bool first = true;
    for (char32_t c : decode(s)) {
        if (first)
            append_title(out, c);
        else
            append_lower(out, c);
        first = false;
    }
    return out;
}

static bool is_printable(char32_t c) {
    if (c == ' ') return true;
    switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
        case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
        case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_ZL:
        case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_ZS:
            return false;
        default:
            return true;
    }
}

std::string repr(std::string_view s) {
    std::u32string u = decode(s);
    bool has_single = u.find(U'\'') != std::u32string::npos;
    bool has_double = u.find(U'"') != std::u32string::npos;
    char quote = (has_single && !has_double) ? '"' : '\'';
    std::string out(1, quote);
    static const char* hex = "0123456789abcdef";
    for (char32_t c : u) {
        if (c == static_cast<char32_t>(quote) || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c < 0x80 ? (c < 0x20 || c == 0x7F) : !is_printable(c)) {
            int digits = c <= 0xFF ? 2 : c <= 0xFFFF ? 4 : 8;
            out += digits == 2 ? "\\x" : digits == 4 ? "\\u" : "\\U";
            for (int i = digits - 1; i >= 0; --i) out += hex[(c >> (4 * i)) & 0xF];
        } else {
            append_utf8(out, c);
        }
    }
    out += quote;
    return out;
}

std::vector<std::string> split_whitespace(std::string_view s, int64_t maxsplit, bool from_right) {
    std::u32string u = decode(s);
    if (from_right) std::reverse(u.begin(), u.end());
    std::vector<std::u32string> parts;
    size_t i = 0, n = u.size();
    while (i < n) {
        while (i < n && is_space(u[i])) ++i;
        if (i >= n) break;
        if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
            parts.push_back(u.substr(i));  // the rest keeps its trailing space
            break;
        }
        size_t j = i;
        while (j < n && !is_space(u[j])) ++j;
        parts.push_back(u.substr(i, j - i));
        i = j;
    }
    std::vector<std::string> out;
    for (auto& p : parts) {
        if (from_right) std::reverse(p.begin(), p.end());
        out.push_back(encode(p));
    }
    if (from_right) std::reverse(out.begin(), out.end());
    return out;
}

std::vector<std::string> split_on(std::string_view s, std::string_view sep, int64_t maxsplit, bool from_right) {
    std::vector<std::string> out;
    if (!from_right) {
        size_t start = 0;
        while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
            size_t p = s.find(sep, start);
            if (p == std::string_view::npos) break;
            out.emplace_back(s.substr(start, p - start));
            start = p + sep.size();
        }
        out.emplace_back(s.substr(start));
        return out;
    }
    size_t end = s.size();
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
        if (end < sep.size()) break;
        size_t p = s.rfind(sep, end - sep.size());
        if (p == std::string_view::npos) break;
        out.emplace_back(s.substr(p + sep.size(), end - p - sep.size()));
        end = p;
    }
    out.emplace_back(s.substr(0, end));
    std::reverse(out.begin(), out.end());
    return out;
}

std::string replace(std::string_view s, std::string_view from, std::string_view to, int64_t count) {
    std::string out;
    if (from.empty()) {  // Python inserts `to` before every character and at the end
        std::u32string u = decode(s);
        int64_t done = 0;
        for (char32_t c : u) {
            if (count < 0 || done < count) {
                out += to;
                ++done;
            }
            append_utf8(out, c);
        }
        if (count < 0 || done < count) out += to;
        return out;
    }
    size_t start = 0;
    int64_t done = 0;
    while (count < 0 || done < count) {
        size_t p = s.find(from, start);
        if (p == std::string_view::npos) break;
        out.append(s.substr(start, p - start));
        out.append(to);
        start = p + from.size();
        ++done;
    }
    out.append(s.substr(start));
    return out;
}

}  // namespace eg::jinja::text
