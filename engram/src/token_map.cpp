// Tokenizer compression as the reference's CompressedTokenizer, whose
// normaliser is HF tokenizers' Sequence([NFKC, NFD, StripAccents, Lowercase,
// Replace([ \t\r\n]+ -> " "), Replace(^ $ -> U+E000), Strip, Replace(U+E000
// -> " ")]). Each step here does what that library's step does:
// - StripAccents drops every combining mark (Mn, Mc and Me: the library
//   tests General_Category=Mark, not only Mn);
// - Lowercase is Rust's char::to_lowercase per character: the full mapping
//   (U+0130 -> "i" U+0307), no context (a final sigma stays σ);
// - Strip removes Rust's char::is_whitespace (White_Space) from both ends;
// - "^ $" only matches a whole string of one space: the earlier step has
//   already turned every \n into a space, so no line breaks are left.
#include "token_map.h"

#include <cstdlib>
#include <unordered_map>

#include <utf8proc.h>

#include "core/log.h"

namespace eg::engram {

namespace {

using Cps = std::vector<utf8proc_int32_t>;

Cps decode_utf8(const std::string& s) {
    Cps out;
    out.reserve(s.size());
    const auto* p = (const utf8proc_uint8_t*)s.data();
    utf8proc_ssize_t left = (utf8proc_ssize_t)s.size();
    while (left > 0) {
        utf8proc_int32_t cp = 0;
        utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
        if (n <= 0) {  // callers pass valid UTF-8; keep going with U+FFFD
            cp = 0xFFFD;
            n = 1;
        }
        out.push_back(cp);
        p += n;
        left -= n;
    }
    return out;
}

std::string encode_utf8(const Cps& cps) {
    std::string out;
    out.reserve(cps.size() * 2);
    utf8proc_uint8_t buf[4];
    for (utf8proc_int32_t cp : cps) {
        const utf8proc_ssize_t n = utf8proc_encode_char(cp, buf);
        out.append((const char*)buf, (size_t)n);
    }
    return out;
}

// NFKC or NFD of a code point sequence.
Cps normalize_form(const Cps& in, bool nfkc) {
    if (in.empty()) return {};
    const int opts = nfkc ? (UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT) : (UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
    const std::string s = encode_utf8(in);
    utf8proc_uint8_t* out = nullptr;
    const utf8proc_ssize_t n =
        utf8proc_map((const utf8proc_uint8_t*)s.data(), (utf8proc_ssize_t)s.size(), &out, (utf8proc_option_t)opts);
    if (n < 0) {
        EG_LOG_WARN("engram: utf8proc cannot normalise a token: {}", utf8proc_errmsg(n));
        return in;
    }
    Cps r = decode_utf8(std::string((const char*)out, (size_t)n));
    std::free(out);
    return r;
}

bool is_mark(utf8proc_int32_t cp) {
    const utf8proc_category_t cat = utf8proc_category(cp);
    return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC || cat == UTF8PROC_CATEGORY_ME;
}

// Unicode White_Space, as Rust's char::is_whitespace.
bool is_white_space(utf8proc_int32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

void append_lower(utf8proc_int32_t cp, Cps& out) {
    // The one unconditional multi-character lowercase mapping of
    // SpecialCasing.txt; utf8proc_tolower gives only simple mappings.
    if (cp == 0x0130) {
        out.push_back(0x69);
        out.push_back(0x307);
        return;
    }
    out.push_back(utf8proc_tolower(cp));
}

bool decodes_cleanly(const std::string& s) {
    const auto* p = (const utf8proc_uint8_t*)s.data();
    utf8proc_ssize_t left = (utf8proc_ssize_t)s.size();
    while (left > 0) {
        utf8proc_int32_t cp = 0;
        const utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
        // utf8proc rejects surrogates and overlong forms as Python does.
        if (n <= 0 || cp == 0xFFFD) return false;
        p += n;
        left -= n;
    }
    return true;
}

}  // namespace

std::string normalize_text(const std::string& text) {
    Cps a = normalize_form(decode_utf8(text), true);
    a = normalize_form(a, false);
    Cps b;
    b.reserve(a.size() + 4);
    for (utf8proc_int32_t cp : a)
        if (!is_mark(cp)) append_lower(cp, b);
    // [ \t\r\n]+ -> " "
    Cps c;
    c.reserve(b.size());
    for (utf8proc_int32_t cp : b) {
        const bool ws = cp == ' ' || cp == '\t' || cp == '\r' || cp == '\n';
        if (ws) {
            if (c.empty() || c.back() != -1) c.push_back(-1);  // -1: a collapsed run
        } else {
            c.push_back(cp);
        }
    }
    for (auto& cp : c)
        if (cp == -1) cp = ' ';
    // ^ $ -> sentinel, strip, sentinel -> " ": a lone space survives.
    if (c.size() == 1 && c[0] == ' ') return " ";
    size_t lo = 0, hi = c.size();
    while (lo < hi && is_white_space(c[lo])) ++lo;
    while (hi > lo && is_white_space(c[hi - 1])) --hi;
    Cps d(c.begin() + (std::ptrdiff_t)lo, c.begin() + (std::ptrdiff_t)hi);
    for (auto& cp : d)
        if (cp == 0xE000) cp = ' ';
    return encode_utf8(d);
}

std::vector<int32_t> build_token_map(const Tokenizer& tok, int64_t* n_classes) {
    const int32_t n = tok.n_vocab();
    std::vector<int32_t> map((size_t)std::max(n, 0));
    std::unordered_map<std::string, int32_t> key_to_id;
    key_to_id.reserve((size_t)std::max(n, 0));
    for (int32_t id = 0; id < n; ++id) {
        const std::string text = tok.token_to_piece(id, true);
        std::string key;
        if (!decodes_cleanly(text)) {
            key = std::string(tok.token_text(id));
        } else {
            key = normalize_text(text);
            if (key.empty()) key = text;
        }
        auto [it, inserted] = key_to_id.emplace(std::move(key), (int32_t)key_to_id.size());
        map[(size_t)id] = it->second;
    }
    if (n_classes) *n_classes = (int64_t)key_to_id.size();
    return map;
}

}  // namespace eg::engram
