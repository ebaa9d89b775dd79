// jinja2's lexer rules re-expressed as a hand-written scanner (see
// jinja_lexer.h); the comments name the jinja2 rule each branch mirrors.
#include "chat/jinja_lexer.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "chat/jinja_text.h"
#include "chat/jinja_value.h"

namespace eg::jinja {
namespace {

class Lexer {
public:
    Lexer(std::string src, const LexOptions& o) : s_(std::move(src)), o_(o) {}

    std::vector<Token> run() {
        size_t n = s_.size();
        while (pos_ < n) {
            size_t i = find_tag_start(pos_);
            if (i == std::string::npos) {
                emit_text(s_.substr(pos_), pos_);
                break;
            }
            char kind = s_[i + 1];
            char sign = (i + 2 < n && (s_[i + 2] == '-' || s_[i + 2] == '+')) ? s_[i + 2] : 0;
            std::string text = s_.substr(pos_, i - pos_);
            size_t text_pos = pos_;
            if (sign == '-') {
                text = text::strip(text, false, true);
            } else if (sign != '+' && o_.lstrip_blocks && kind != '{') {
                // lstrip_blocks: drop the indentation before a block or comment
                // tag that starts its line.
                size_t l_pos = text.rfind('\n');
                l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
                if ((l_pos > 0 || line_starting_) && text::all_space(std::string_view(text).substr(l_pos)))
                    text.resize(l_pos);
            }
            emit_text(std::move(text), text_pos);
            size_t body = i + 2 + (sign ? 1 : 0);
            if (kind == '#') {
                lex_comment(i, body);
            } else if (kind == '%' && lex_raw(i, body)) {
                // handled
            } else {
                lex_tag(i, body, kind == '%');
            }
        }
        Token eof;
        eof.type = Tok::Eof;
        position(n, eof.line, eof.col);
        out_.push_back(eof);
        return std::move(out_);
    }

    void prepare() {
        // jinja2 normalises \r\n and \r to \n and, without
        // keep_trailing_newline, removes one final newline.
        std::string t;
        t.reserve(s_.size());
        for (size_t i = 0; i < s_.size(); ++i) {
            if (s_[i] == '\r') {
                t += '\n';
                if (i + 1 < s_.size() && s_[i + 1] == '\n') ++i;
            } else {
                t += s_[i];
            }
        }
        if (!o_.keep_trailing_newline && !t.empty() && t.back() == '\n') t.pop_back();
        s_ = std::move(t);
        line_starts_.push_back(0);
        for (size_t i = 0; i < s_.size(); ++i)
            if (s_[i] == '\n') line_starts_.push_back(i + 1);
    }

private:
    void position(size_t off, int& line, int& col) const {
        size_t lo = 0, hi = line_starts_.size();
        while (hi - lo > 1) {
            size_t mid = (lo + hi) / 2;
            if (line_starts_[mid] <= off) lo = mid;
            else hi = mid;
        }
        line = static_cast<int>(lo + 1);
        col = static_cast<int>(text::length(std::string_view(s_).substr(line_starts_[lo], off - line_starts_[lo])) + 1);
    }

    [[noreturn]] void fail(const std::string& msg, size_t off) const {
        int line, col;
        position(off, line, col);
        throw TemplateError(msg, line, col);
    }

    size_t find_tag_start(size_t from) const {
        for (size_t i = from; i + 1 < s_.size(); ++i)
            if (s_[i] == '{' && (s_[i + 1] == '{' || s_[i + 1] == '%' || s_[i + 1] == '#')) return i;
        return std::string::npos;
    }

    void emit_text(std::string text, size_t off) {
        if (text.empty()) return;
        Token t;
        t.type = Tok::Text;
        t.text = std::move(text);
        position(off, t.line, t.col);
        out_.push_back(std::move(t));
    }

    void push(Tok type, size_t off, std::string text = {}) {
        Token t;
        t.type = type;
        t.text = std::move(text);
        position(off, t.line, t.col);
        out_.push_back(std::move(t));
    }

    // Whitespace as Python's regex \s sees it (Unicode-aware).
    size_t skip_unicode_space(size_t p) const {
        while (p < s_.size()) {
            unsigned char c = static_cast<unsigned char>(s_[p]);
            if (c < 0x80) {
                if (!text::is_space(c)) break;
                ++p;
                continue;
            }
            size_t len = (c >= 0xF0) ? 4 : (c >= 0xE0) ? 3 : 2;
            std::u32string u = text::decode(std::string_view(s_).substr(p, len));
            if (u.size() != 1 || !text::is_space(u[0])) break;
            p += len;
        }
        return p;
    }

    // After a block/comment end: `-` eats all whitespace, `+` nothing, plain
    // (with trim_blocks) one newline. Sets line_starting as jinja2 does.
    void finish_end(size_t end_pos, char sign, bool trim_newline) {
        size_t p = end_pos;
        if (sign == '-') p = skip_unicode_space(p);
        else if (sign != '+' && trim_newline && p < s_.size() && s_[p] == '\n') ++p;
        line_starting_ = p > 0 && s_[p - 1] == '\n';
        pos_ = p;
    }

    void lex_comment(size_t begin, size_t body) {
        size_t q = s_.find("#}", body);
        if (q == std::string::npos) fail("unclosed comment '{#'", begin);
        char sign = 0;
        if (q > body && (s_[q - 1] == '-' || s_[q - 1] == '+')) sign = s_[q - 1];
        finish_end(q + 2, sign, o_.trim_blocks);
    }

    // {% raw %}...{% endraw %}: the body is text, untouched.
    bool lex_raw(size_t begin, size_t body) {
        size_t p = body;
        while (p < s_.size() && (s_[p] == ' ' || s_[p] == '\t' || s_[p] == '\n')) ++p;
        if (s_.compare(p, 3, "raw") != 0) return false;
        p += 3;
        while (p < s_.size() && (s_[p] == ' ' || s_[p] == '\t' || s_[p] == '\n')) ++p;
        char open_sign = 0;
        if (p < s_.size() && s_[p] == '-') open_sign = '-', ++p;
        if (s_.compare(p, 2, "%}") != 0) return false;
        p += 2;
        if (open_sign == '-') p = skip_unicode_space(p);
        size_t content = p;
        for (size_t k = content; (k = s_.find("{%", k)) != std::string::npos; ++k) {
            size_t e = k + 2;
            char sign = (e < s_.size() && (s_[e] == '-' || s_[e] == '+')) ? s_[e] : 0;
            if (sign) ++e;
            while (e < s_.size() && (s_[e] == ' ' || s_[e] == '\t' || s_[e] == '\n')) ++e;
            if (s_.compare(e, 6, "endraw") != 0) continue;
            e += 6;
            while (e < s_.size() && (s_[e] == ' ' || s_[e] == '\t' || s_[e] == '\n')) ++e;
            char end_sign = 0;
            if (e < s_.size() && (s_[e] == '-' || s_[e] == '+')) end_sign = s_[e], ++e;
            if (s_.compare(e, 2, "%}") != 0) continue;
            std::string data = s_.substr(content, k - content);
            if (sign == '-') data = text::strip(data, false, true);
            emit_text(std::move(data), content);
            finish_end(e + 2, end_sign, o_.trim_blocks);
            return true;
        }
        fail("unclosed '{% raw %}' block (no '{% endraw %}')", begin);
    }

    void lex_tag(size_t begin, size_t p, bool block) {
        push(block ? Tok::BlockBegin : Tok::VarBegin, begin);
        std::string brackets;  // jinja2's balancing stack: an end marker inside ( [ { is not an end
        size_t n = s_.size();
        while (true) {
            while (p < n && (s_[p] == ' ' || s_[p] == '\t' || s_[p] == '\n' || s_[p] == '\f' || s_[p] == '\v')) ++p;
            if (p >= n) fail(block ? "unclosed tag '{%' (no '%}' before the end of the template)"
                                   : "unclosed tag '{{' (no '}}' before the end of the template)", begin);
            if (brackets.empty()) {
                if (block) {
                    if (s_.compare(p, 3, "-%}") == 0 || s_.compare(p, 3, "+%}") == 0) {
                        push(Tok::BlockEnd, p);
                        finish_end(p + 3, s_[p], o_.trim_blocks);
                        return;
                    }
                    if (s_.compare(p, 2, "%}") == 0) {
                        push(Tok::BlockEnd, p);
                        finish_end(p + 2, 0, o_.trim_blocks);
                        return;
                    }
                } else {
                    if (s_.compare(p, 3, "-}}") == 0) {
                        push(Tok::VarEnd, p);
                        finish_end(p + 3, '-', false);
                        return;
                    }
                    if (s_.compare(p, 2, "}}") == 0) {
                        push(Tok::VarEnd, p);
                        finish_end(p + 2, 0, false);
                        return;
                    }
                }
            }
            p = lex_token(p, brackets);
        }
    }

    size_t lex_token(size_t p, std::string& brackets) {
        char c = s_[p];
        size_t n = s_.size();
        if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
            size_t e = p;
            while (e < n && (std::isalnum(static_cast<unsigned char>(s_[e])) || s_[e] == '_')) ++e;
            push(Tok::Name, p, s_.substr(p, e - p));
            return e;
        }
        if (std::isdigit(static_cast<unsigned char>(c))) return lex_number(p);
        if (c == '\'' || c == '"') return lex_string(p);
        static const char* two[] = {"//", "**", "==", "!=", "<=", ">="};
        for (const char* op : two)
            if (s_.compare(p, 2, op) == 0) {
                push(Tok::Op, p, op);
                return p + 2;
            }
        if (std::strchr("+-/*%~[](){}<>=.:|,;", c) && c != 0) {
            if (c == '(' || c == '[' || c == '{') {
                if (brackets.size() > 10000) fail("brackets nested too deeply", p);
                brackets += c == '(' ? ')' : c == '[' ? ']' : '}';
            } else if (c == ')' || c == ']' || c == '}') {
                if (brackets.empty()) fail(std::string("unexpected '") + c + "'", p);
                if (brackets.back() != c)
                    fail(std::string("unexpected '") + c + "', expected '" + brackets.back() + "'", p);
                brackets.pop_back();
            }
            push(Tok::Op, p, std::string(1, c));
            return p + 1;
        }
        fail(std::string("unexpected character '") + (static_cast<unsigned char>(c) < 0x80 ? std::string(1, c) : std::string("non-ASCII")) + "' in tag", p);
    }

    size_t digits(size_t p) const {  // (\d+_)*\d+
        size_t n = s_.size();
        while (p < n && std::isdigit(static_cast<unsigned char>(s_[p]))) {
            ++p;
            if (p + 1 < n && s_[p] == '_' && std::isdigit(static_cast<unsigned char>(s_[p + 1]))) ++p;
        }
        return p;
    }

    size_t lex_number(size_t p) {
        size_t n = s_.size();
        size_t e = digits(p);
        bool is_float = false;
        if (e + 1 < n && s_[e] == '.' && std::isdigit(static_cast<unsigned char>(s_[e + 1]))) {
            e = digits(e + 1);
            is_float = true;
        }
        if (e < n && (s_[e] == 'e' || s_[e] == 'E')) {
            size_t x = e + 1;
            if (x < n && (s_[x] == '+' || s_[x] == '-')) ++x;
            if (x < n && std::isdigit(static_cast<unsigned char>(s_[x]))) {
                e = digits(x);
                is_float = true;
            }
        }
        std::string lit;
        for (size_t i = p; i < e; ++i)
            if (s_[i] != '_') lit += s_[i];
        Token t;
        position(p, t.line, t.col);
        t.text = lit;
        if (is_float) {
            t.type = Tok::Float;
            t.float_value = std::strtod(lit.c_str(), nullptr);
        } else {
            t.type = Tok::Int;
            errno = 0;
            char* end = nullptr;
            long long v = std::strtoll(lit.c_str(), &end, 10);
            if (errno == ERANGE) fail("integer literal " + lit + " is too large", p);
            t.int_value = v;
        }
        out_.push_back(std::move(t));
        return e;
    }

    // Python's unicode-escape decoding, which jinja2 applies to literals.
    size_t lex_string(size_t p) {
        char quote = s_[p];
        size_t n = s_.size();
        std::string v;
        size_t i = p + 1;
        auto hexval = [&](size_t at, int count) -> long {
            if (at + static_cast<size_t>(count) > n) return -1;
            long r = 0;
            for (int k = 0; k < count; ++k) {
                char h = s_[at + static_cast<size_t>(k)];
                int d = std::isdigit(static_cast<unsigned char>(h)) ? h - '0'
                        : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                        : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
                if (d < 0) return -1;
                r = r * 16 + d;
            }
            return r;
        };
        while (true) {
            if (i >= n) fail("unterminated string literal", p);
            char c = s_[i];
            if (c == quote) break;
            if (c != '\\') {
                v += c;
                ++i;
                continue;
            }
            if (i + 1 >= n) fail("unterminated string literal", p);
            char e = s_[i + 1];
            i += 2;
            switch (e) {
                case '\n': break;  // line continuation
                case '\\': v += '\\'; break;
                case '\'': v += '\''; break;
                case '"': v += '"'; break;
                case 'a': v += '\a'; break;
                case 'b': v += '\b'; break;
                case 'f': v += '\f'; break;
                case 'n': v += '\n'; break;
                case 'r': v += '\r'; break;
                case 't': v += '\t'; break;
                case 'v': v += '\v'; break;
                case 'x': case 'u': case 'U': {
                    int count = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    long cp = hexval(i, count);
                    if (cp < 0 || cp > 0x10FFFF) fail(std::string("invalid \\") + e + " escape in string literal", i - 2);
                    text::append_utf8(v, static_cast<char32_t>(cp));
                    i += static_cast<size_t>(count);
                    break;
                }
                default:
                    if (e >= '0' && e <= '7') {
                        long cp = e - '0';
                        for (int k = 0; k < 2 && i < n && s_[i] >= '0' && s_[i] <= '7'; ++k, ++i) cp = cp * 8 + (s_[i] - '0');
                        text::append_utf8(v, static_cast<char32_t>(cp));
                    } else {  // Python keeps unknown escapes as written
                        v += '\\';
                        v += e;
                    }
            }
        }
        push(Tok::String, p, std::move(v));
        return i + 1;
    }

    std::string s_;
    LexOptions o_;
    size_t pos_ = 0;
    bool line_starting_ = true;
    std::vector<size_t> line_starts_;
    std::vector<Token> out_;
};

}  // namespace

std::vector<Token> lex(const std::string& source, const LexOptions& options) {
    Lexer lx(source, options);
    lx.prepare();
    return lx.run();
}

}  // namespace eg::jinja
