// jinja2's built-in filters and tests, transformers' tojson, and the Python
// str/dict methods templates call (message.content.strip(), d.items(), ...).
#include "chat/jinja_builtins.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <unordered_map>

#include "chat/jinja_text.h"

namespace eg::jinja {
namespace {

using text::decode;
using text::encode;

// Argument `pos`-th positional or named `name`, else `fallback`.
const Value* find_arg(const CallArgs& a, size_t pos, const char* name) {
    for (const auto& kv : a.named)
        if (kv.first == name) return &kv.second;
    if (pos < a.positional.size()) return &a.positional[pos];
    return nullptr;
}
Value arg(const CallArgs& a, size_t pos, const char* name, Value fallback) {
    const Value* v = find_arg(a, pos, name);
    return v ? *v : fallback;
}

void check_len(const std::string& s, const BuiltinContext& ctx) {
    if (s.size() > ctx.max_string_bytes) throw TemplateError("string result is too large");
}

[[noreturn]] void undefined_error(const Value& v) {
    throw TemplateError(v.undefined_name().empty() ? "value is undefined" : v.undefined_name());
}

int64_t length_of(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::Undefined: return 0;
        case Value::Kind::String: return static_cast<int64_t>(text::length(v.as_string()));
        case Value::Kind::List:
            if (v.seq_kind() == SeqKind::Generator) throw TemplateError("object of type 'generator' has no len(); add '| list'");
            return static_cast<int64_t>(v.items().size());
        case Value::Kind::Dict: return static_cast<int64_t>(v.dict_data().items.size());
        default: throw TemplateError(std::string("object of type '") + v.type_name() + "' has no len()");
    }
}

// jinja2's make_attrgetter: "a.b.0" walks attributes/items.
Value attr_path(const Value& item, const Value& attribute, const BuiltinContext& ctx) {
    if (attribute.is_int()) return get_item(item, attribute);
    std::string path = attribute.str();
    Value cur = item;
    for (const auto& part : text::split_on(path, ".", -1, false)) {
        if (cur.is_undefined()) return cur;
        bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
        if (numeric && cur.is_list()) cur = get_item(cur, Value(static_cast<int64_t>(std::stoll(part))));
        else if (cur.is_dict()) {
            const Value* v = cur.dict_data().find(part);
            cur = v ? *v : Value::undefined("'dict object' has no attribute '" + part + "'");
        } else cur = get_attribute(cur, part, ctx);
    }
    return cur;
}

// Sort key that ignores case for strings, as jinja2's sort/unique/min/max do
// unless case_sensitive=true.
Value fold(const Value& v, bool case_sensitive) {
    if (!case_sensitive && v.is_string()) return Value(text::lower(v.as_string()));
    return v;
}

std::string html_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&#34;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

bool parse_int(std::string s, int64_t base, int64_t& out) {
    s = text::strip(s, true, true);
    std::string digits;
    for (char c : s)
        if (c != '_') digits += c;
    if (digits.empty()) return false;
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(digits.c_str(), &end, static_cast<int>(base));
    if (errno || *end) return false;
    out = v;
    return true;
}

bool parse_float(const std::string& raw, double& out) {
    std::string s = text::strip(raw, true, true);
    if (s.empty()) return false;
    char* end = nullptr;
    out = std::strtod(s.c_str(), &end);
    return *end == 0;
}

using FilterFn = Value (*)(const Value&, CallArgs&, const BuiltinContext&);

Value f_trim(const Value& v, CallArgs& a, const BuiltinContext&) {
    Value chars = arg(a, 0, "chars", Value::none());
    if (chars.is_string()) return Value(text::strip_chars(v.str(), chars.as_string(), true, true));
    return Value(text::strip(v.str(), true, true));
}
Value f_length(const Value& v, CallArgs&, const BuiltinContext&) { return Value(length_of(v)); }
Value f_upper(const Value& v, CallArgs&, const BuiltinContext&) { return Value(text::upper(v.str())); }
Value f_lower(const Value& v, CallArgs&, const BuiltinContext&) { return Value(text::lower(v.str())); }
Value f_title(const Value& v, CallArgs&, const BuiltinContext&) { return Value(text::jinja_title(v.str())); }
Value f_capitalize(const Value& v, CallArgs&, const BuiltinContext&) { return Value(text::capitalize(v.str())); }
Value f_string(const Value& v, CallArgs&, const BuiltinContext&) { return Value(v.str()); }
Value f_escape(const Value& v, CallArgs&, const BuiltinContext&) { return Value(html_escape(v.str())); }

Value f_tojson(const Value& v, CallArgs& a, const BuiltinContext& ctx) {
    JsonOptions o;
    Value indent = arg(a, 1, "indent", Value::none());
    if (indent.is_int()) o.indent = std::string(static_cast<size_t>(std::max<int64_t>(0, indent.as_int())), ' ');
    else if (indent.is_string()) o.indent = indent.as_string();
    else if (!indent.is_none()) throw TemplateError("tojson: indent must be an integer or a string");
    if (o.indent) o.item_sep = ",";
    Value seps = arg(a, 2, "separators", Value::none());
    if (seps.is_list() && seps.items().size() == 2 && seps.items()[0].is_string() && seps.items()[1].is_string()) {
        o.item_sep = seps.items()[0].as_string();
        o.key_sep = seps.items()[1].as_string();
    } else if (!seps.is_none()) {
        throw TemplateError("tojson: separators must be a pair of strings");
    }
    o.ensure_ascii = arg(a, 0, "ensure_ascii", Value(false)).truthy();
    o.sort_keys = arg(a, 3, "sort_keys", Value(false)).truthy();
    std::string s = to_json(v, o);
    check_len(s, ctx);
    return Value(std::move(s));
}

Value f_default(const Value& v, CallArgs& a, const BuiltinContext&) {
    Value dflt = arg(a, 0, "default_value", Value(""));
    bool boolean = arg(a, 1, "boolean", Value(false)).truthy();
    if (v.is_undefined() || (boolean && !v.truthy())) return dflt;
    return v;
}

Value f_first(const Value& v, CallArgs&, const BuiltinContext&) {
    ValueList items = iterate(v);
    if (items.empty()) return Value::undefined("No first item, sequence was empty.");
    return items.front();
}
Value f_last(const Value& v, CallArgs&, const BuiltinContext&) {
    if (v.is_list() && v.seq_kind() == SeqKind::Generator) throw TemplateError("'generator' object is not reversible");
    ValueList items = iterate(v);
    if (items.empty()) return Value::undefined("No last item, sequence was empty.");
    return items.back();
}

Value f_join(const Value& v, CallArgs& a, const BuiltinContext& ctx) {
    std::string sep = arg(a, 0, "d", Value("")).str();
    const Value* attribute = find_arg(a, 1, "attribute");
    std::string out;
    bool first = true;
    for (const auto& item : iterate(v)) {
        if (!first) out += sep;
        first = false;
        out += attribute ? attr_path(item, *attribute, ctx).str() : item.str();
        check_len(out, ctx);
    }
    return Value(std::move(out));
}

Value f_replace(const Value& v, CallArgs& a, const BuiltinContext& ctx) {
    if (a.positional.size() < 2) throw TemplateError("replace needs an old and a new string");
    int64_t count = -1;
    Value c = arg(a, 2, "count", Value::none());
    if (c.is_int()) count = c.as_int();
    std::string s = text::replace(v.str(), a.positional[0].str(), a.positional[1].str(), count);
    check_len(s, ctx);
    return Value(std::move(s));
}

Value f_list(const Value& v, CallArgs&, const BuiltinContext&) { return Value::list(iterate(v)); }

Value f_int(const Value& v, CallArgs& a, const BuiltinContext&) {
    Value dflt = arg(a, 0, "default", Value(int64_t{0}));
    int64_t base = arg(a, 1, "base", Value(int64_t{10})).as_int();
    if (v.is_int() || v.is_bool()) return Value(v.as_int());
    if (v.is_float()) {
        double d = v.as_double();
        if (!std::isfinite(d) || std::fabs(d) > 9.2e18) return dflt;
        return Value(static_cast<int64_t>(d));
    }
    if (v.is_string()) {
        int64_t i;
        if (parse_int(v.as_string(), base, i)) return Value(i);
        double d;
        if (parse_float(v.as_string(), d) && std::isfinite(d) && std::fabs(d) < 9.2e18) return Value(static_cast<int64_t>(d));
    }
    return dflt;
}

Value f_float(const Value& v, CallArgs& a, const BuiltinContext&) {
    Value dflt = arg(a, 0, "default", Value(0.0));
    if (v.is_number()) return Value(v.as_double());
    double d;
    if (v.is_string() && parse_float(v.as_string(), d)) return Value(d);
    return dflt;
}

Value f_items(const Value& v, CallArgs&, const BuiltinContext&) {
    if (v.is_undefined()) return Value::list({});
    if (!v.is_dict()) throw TemplateError(std::string("items filter needs a mapping, got ") + v.type_name());
    ValueList out;
    for (const auto& kv : v.dict_data().items) out.push_back(Value::list({Value(kv.first), kv.second}, true));
    return Value::sequence(std::move(out), SeqKind::Generator);
}

Value f_dictsort(const Value& v, CallArgs& a, const BuiltinContext& ctx) {
    bool cs = arg(a, 0, "case_sensitive", Value(false)).truthy();
    std::string by = arg(a, 1, "by", Value("key")).str();
    bool rev = arg(a, 2, "reverse", Value(false)).truthy();
    ValueList items = f_items(v, a, ctx).items();
    size_t idx = by == "value" ? 1 : 0;
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
        return values_less(fold(x.items()[idx], cs), fold(y.items()[idx], cs));
    });
    if (rev) std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
}

// select/reject/selectattr/rejectattr share this: test name from args[first].
Value select_impl(const Value& v, CallArgs& a, const BuiltinContext& ctx, bool by_attr, bool keep_if) {
    size_t first = 0;
    Value attribute;
    if (by_attr) {
        if (a.positional.empty()) throw TemplateError("selectattr/rejectattr need an attribute name");
        attribute = a.positional[0];
        first = 1;
    }
    std::string test;
    CallArgs test_args;
    if (a.positional.size() > first) {
        test = a.positional[first].str();
        if (!is_known_test(test)) throw TemplateError("unknown test '" + test + "'");
        test_args.positional.assign(a.positional.begin() + static_cast<long>(first) + 1, a.positional.end());
    }
    ValueList out;
    if (!v.truthy()) return Value::sequence({}, SeqKind::Generator);  // jinja2 guards with `if value:`
    for (const auto& item : iterate(v)) {
        Value subject = by_attr ? attr_path(item, attribute, ctx) : item;
        CallArgs ta = test_args;
        bool pass = test.empty() ? subject.truthy() : apply_test(test, subject, ta);
        if (pass == keep_if) out.push_back(item);
    }
    return Value::sequence(std::move(out), SeqKind::Generator);
}
Value f_select(const Value& v, CallArgs& a, const BuiltinContext& c) { return select_impl(v, a, c, false, true); }
Value f_reject(const Value& v, CallArgs& a, const BuiltinContext& c) { return select_impl(v, a, c, false, false); }
Value f_selectattr(const Value& v, CallArgs& a, const BuiltinContext& c) { return select_impl(v, a, c, true, true); }
Value f_rejectattr(const Value& v, CallArgs& a, const BuiltinContext& c) { return select_impl(v, a, c, true, false); }

Value f_map(const Value& v, CallArgs& a, const BuiltinContext& ctx) {
    ValueList out;
    if (!v.truthy()) return Value::sequence({}, SeqKind::Generator);  // as jinja2: `if value:` first
    if (const Value* attribute = find_arg(a, 99, "attribute")) {
        const Value* dflt = find_arg(a, 99, "default");
        for (const auto& item : iterate(v)) {
            Value r = attr_path(item, *attribute, ctx);
            out.push_back(r.is_undefined() && dflt ? *dflt : r);
        }
        return Value::sequence(std::move(out), SeqKind::Generator);
    }
    if (a.positional.empty()) throw TemplateError("map needs a filter name or attribute=");
    std::string name = a.positional[0].str();
    if (!is_known_filter(name)) throw TemplateError("unknown filter '" + name + "'");
    CallArgs rest;
    rest.positional.assign(a.positional.begin() + 1, a.positional.end());
    rest.named = a.named;
    for (const auto& item : iterate(v)) {
        CallArgs fa = rest;
        out.push_back(apply_filter(name, item, fa, ctx));
    }
    return Value::sequence(std::move(out), SeqKind::Generator);
}

Value f_reverse(const Value& v, CallArgs&, const BuiltinContext&) {
    if (v.is_string()) {
        std::u32string u = decode(v.as_string());
        std::reverse(u.begin(), u.end());
        return Value(encode(u));
    }
    ValueList items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::sequence(std::move(items), SeqKind::Generator);  // reversed(): an iterator
}

Value f_unique(const Value& v, CallArgs& a, const BuiltinContext& ctx) {
    bool cs = arg(a, 0, "case_sensitive", Value(false)).truthy();
    const Value* attribute = find_arg(a, 1, "attribute");
    ValueList out, seen;
    for (const auto& item : iterate(v)) {
        Value key = fold(attribute ? attr_path(item, *attribute, ctx) : item, cs);
        bool dup = false;
        for (const auto& s : seen) dup = dup || values_equal(s, key);
        if (!dup) {
            seen.push_back(key);
            out.push_back(item);
        }
    }
    return Value::sequence(std::move(out), SeqKind::Generator);
}

Value f_sort(const Value& v, CallArgs& a, const BuiltinContext& ctx) {
    bool rev = arg(a, 0, "reverse", Value(false)).truthy();
    bool cs = arg(a, 1, "case_sensitive", Value(false)).truthy();
    const Value* attribute = find_arg(a, 2, "attribute");
    ValueList items = iterate(v);
    auto key = [&](const Value& x) { return fold(attribute ? attr_path(x, *attribute, ctx) : x, cs); };
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
        return rev ? values_less(key(y), key(x)) : values_less(key(x), key(y));
    });
    return Value::list(std::move(items));
}

Value minmax(const Value& v, CallArgs& a, const BuiltinContext& ctx, bool want_max) {
    bool cs = arg(a, 0, "case_sensitive", Value(false)).truthy();
    const Value* attribute = find_arg(a, 1, "attribute");
    ValueList items = iterate(v);
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    auto key = [&](const Value& x) { return fold(attribute ? attr_path(x, *attribute, ctx) : x, cs); };
    size_t best = 0;
    for (size_t i = 1; i < items.size(); ++i) {
        bool better = want_max ? values_less(key(items[best]), key(items[i])) : values_less(key(items[i]), key(items[best]));
        if (better) best = i;
    }
    return items[best];
}
Value f_min(const Value& v, CallArgs& a, const BuiltinContext& c) { return minmax(v, a, c, false); }
Value f_max(const Value& v, CallArgs& a, const BuiltinContext& c) { return minmax(v, a, c, true); }

Value f_sum(const Value& v, CallArgs& a, const BuiltinContext& ctx) {
    const Value* attribute = find_arg(a, 0, "attribute");
    Value total = arg(a, 1, "start", Value(int64_t{0}));
    for (const auto& item : iterate(v)) {
        Value x = attribute ? attr_path(item, *attribute, ctx) : item;
        if (!x.is_number() || !total.is_number()) throw TemplateError(std::string("sum: cannot add ") + x.type_name());
        if (x.is_float() || total.is_float()) total = Value(total.as_double() + x.as_double());
        else {
            int64_t r;
            if (__builtin_add_overflow(total.as_int(), x.as_int(), &r)) throw TemplateError("integer overflow in sum");
            total = Value(r);
        }
    }
    return total;
}

Value f_abs(const Value& v, CallArgs&, const BuiltinContext&) {
    if (v.is_float()) return Value(std::fabs(v.as_double()));
    if (v.is_number()) {
        if (v.as_int() == INT64_MIN) throw TemplateError("integer overflow in abs");
        return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
    }
    throw TemplateError(std::string("bad operand type for abs(): '") + v.type_name() + "'");
}

Value f_round(const Value& v, CallArgs& a, const BuiltinContext&) {
    if (!v.is_number()) throw TemplateError(std::string("round needs a number, got ") + v.type_name());
    int64_t precision = arg(a, 0, "precision", Value(int64_t{0})).as_int();
    std::string method = arg(a, 1, "method", Value("common")).str();
    if (!v.is_float() && method == "common") {  // Python's round(int, n) stays an int, ties to even
        int64_t x = v.as_int();
        if (precision >= 0) return Value(x);
        if (precision < -18) return Value(int64_t{0});
        int64_t unit = 1;
        for (int64_t i = 0; i < -precision; ++i) unit *= 10;
        int64_t q = x / unit, r = x % unit;
        if (r < 0) {
            r += unit;
            --q;
        }
        if (2 * r > unit || (2 * r == unit && (q & 1))) ++q;
        return Value(q * unit);
    }
    double x = v.as_double(), scale = std::pow(10.0, static_cast<double>(precision));
    if (method == "floor") return Value(std::floor(x * scale) / scale);
    if (method == "ceil") return Value(std::ceil(x * scale) / scale);
    if (method != "common") throw TemplateError("round: method must be 'common', 'floor' or 'ceil'");
    if (precision <= 0 && precision > -300) return Value(std::nearbyint(x / (1 / scale)) * (1 / scale));
    // Python's round(x, n) rounds the exact binary value half-to-even, which
    // is what printf's correctly-rounded %.*f does.
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(std::min<int64_t>(precision, 300)), x);
    return Value(std::strtod(buf, nullptr));
}

Value f_center(const Value& v, CallArgs& a, const BuiltinContext& ctx) {
    std::string s = v.str();
    int64_t width = arg(a, 0, "width", Value(int64_t{80})).as_int();
    int64_t len = static_cast<int64_t>(text::length(s));
    if (width <= len) return Value(s);
    if (static_cast<size_t>(width) > ctx.max_string_bytes) throw TemplateError("center width is too large");
    int64_t pad = width - len, left = pad / 2 + (pad & width & 1);  // CPython's split of odd padding
    return Value(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(pad - left), ' '));
}

Value f_wordcount(const Value& v, CallArgs&, const BuiltinContext&) {
    int64_t n = 0;
    bool in_word = false;
    for (char32_t c : decode(v.str())) {
        bool w = c == '_' || (c < 0x80 ? std::isalnum(static_cast<int>(c)) != 0 : !text::is_space(c));
        if (w && !in_word) ++n;
        in_word = w;
    }
    return Value(n);
}

Value f_indent(const Value& v, CallArgs& a, const BuiltinContext& ctx) {
    Value w = arg(a, 0, "width", Value(int64_t{4}));
    std::string pad = w.is_string() ? w.as_string() : std::string(static_cast<size_t>(std::max<int64_t>(0, w.as_int())), ' ');
    bool first = arg(a, 1, "first", Value(false)).truthy();
    bool blank = arg(a, 2, "blank", Value(false)).truthy();
    // jinja2 appends "\n" and uses splitlines(), so a trailing newline
    // survives and empty lines stay unindented (unless blank=true).
    auto lines = text::split_on(v.str() + "\n", "\n", -1, false);
    lines.pop_back();
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (i) out += "\n";
        if (i > 0 && (blank || !lines[i].empty())) out += pad;
        out += lines[i];
        check_len(out, ctx);
    }
    if (first) out = pad + out;
    return Value(std::move(out));
}

const std::unordered_map<std::string, FilterFn>& filters() {
    static const std::unordered_map<std::string, FilterFn> table = {
        {"trim", f_trim},         {"length", f_length},       {"count", f_length},
        {"tojson", f_tojson},     {"upper", f_upper},         {"lower", f_lower},
        {"title", f_title},       {"capitalize", f_capitalize}, {"default", f_default},
        {"d", f_default},         {"first", f_first},         {"last", f_last},
        {"join", f_join},         {"replace", f_replace},     {"list", f_list},
        {"string", f_string},     {"int", f_int},             {"float", f_float},
        {"items", f_items},       {"dictsort", f_dictsort},   {"select", f_select},
        {"reject", f_reject},     {"selectattr", f_selectattr}, {"rejectattr", f_rejectattr},
        {"map", f_map},           {"reverse", f_reverse},     {"unique", f_unique},
        {"sort", f_sort},         {"min", f_min},             {"max", f_max},
        {"sum", f_sum},           {"abs", f_abs},             {"round", f_round},
        {"center", f_center},     {"wordcount", f_wordcount}, {"indent", f_indent},
        {"safe", f_string},       {"escape", f_escape},       {"e", f_escape},
    };
    return table;
}

}  // namespace

bool is_known_filter(const std::string& name) { return filters().count(name) != 0; }

Value apply_filter(const std::string& name, const Value& subject, CallArgs& args, const BuiltinContext& ctx) {
    auto it = filters().find(name);
    if (it == filters().end()) throw TemplateError("unknown filter '" + name + "'");
    // Most filters see an undefined value as '' or an empty sequence, as
    // jinja2's Undefined does; these need a real value.
    if (subject.is_undefined() && (name == "tojson" || name == "abs" || name == "round")) undefined_error(subject);
    return it->second(subject, args, ctx);
}

// ----- tests ---------------------------------------------------------------

bool is_known_test(const std::string& name) {
    static const std::set<std::string> names = {
        "defined", "undefined", "none", "string", "number", "integer", "float", "boolean", "mapping", "iterable",
        "sequence", "callable", "true", "false", "odd", "even", "divisibleby", "eq", "equalto", "==", "ne", "!=",
        "lt", "lessthan", "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=", "in", "lower", "upper", "sameas",
        "escaped"};
    return names.count(name) != 0;
}

bool apply_test(const std::string& name, const Value& v, CallArgs& a) {
    auto need = [&](size_t n) -> const Value& {
        if (a.positional.size() < n) throw TemplateError("test '" + name + "' needs an argument");
        return a.positional[n - 1];
    };
    if (name == "defined") return !v.is_undefined();
    if (name == "undefined") return v.is_undefined();
    if (name == "none") return v.is_none();
    if (name == "string") return v.is_string();
    if (name == "number") return v.is_number();
    if (name == "integer") return v.is_int();
    if (name == "float") return v.is_float();
    if (name == "boolean") return v.is_bool();
    if (name == "mapping") return v.is_dict() && !v.is_namespace();
    if (name == "iterable") return v.is_undefined() || v.is_string() || v.is_list() || (v.is_dict() && !v.is_namespace());
    if (name == "sequence") return v.is_undefined() || v.is_string() || v.is_indexable() || (v.is_dict() && !v.is_namespace());
    if (name == "callable") return v.is_function();
    if (name == "true") return v.is_bool() && v.as_bool();
    if (name == "false") return v.is_bool() && !v.as_bool();
    if (name == "escaped") return false;
    if (name == "odd" || name == "even") {
        if (!v.is_int() && !v.is_bool()) throw TemplateError(std::string("test '") + name + "' needs an integer, got " + v.type_name());
        bool odd = (v.as_int() % 2) != 0;
        return name == "odd" ? odd : !odd;
    }
    if (name == "divisibleby") {
        const Value& n = need(1);
        if (!v.is_number() || !n.is_number()) throw TemplateError("divisibleby needs numbers");
        if (v.is_float() || n.is_float()) return n.as_double() != 0 && std::fmod(v.as_double(), n.as_double()) == 0;
        if (n.as_int() == 0) throw TemplateError("integer division or modulo by zero");
        return v.as_int() % n.as_int() == 0;
    }
    if (name == "eq" || name == "equalto" || name == "==") return values_equal(v, need(1));
    if (name == "ne" || name == "!=") return !values_equal(v, need(1));
    if (name == "lt" || name == "lessthan" || name == "<") return values_less(v, need(1));
    if (name == "gt" || name == "greaterthan" || name == ">") return values_less(need(1), v);
    if (name == "le" || name == "<=") return !values_less(need(1), v);
    if (name == "ge" || name == ">=") return !values_less(v, need(1));
    if (name == "in") {
        const Value& seq = need(1);
        if (seq.is_string()) return v.is_string() && seq.as_string().find(v.as_string()) != std::string::npos;
        if (seq.is_dict()) return v.is_string() && seq.dict_data().find(v.as_string());
        for (const auto& x : iterate(seq))
            if (values_equal(x, v)) return true;
        return false;
    }
    if (name == "lower" || name == "upper") {
        if (!v.is_string()) return false;
        std::string lo = text::lower(v.as_string()), up = text::upper(v.as_string());
        if (lo == up) return false;  // no cased characters
        return name == "lower" ? v.as_string() == lo : v.as_string() == up;
    }
    if (name == "sameas") {
        const Value& o = need(1);
        if (v.kind() != o.kind()) return false;
        if (v.is_none() || v.is_undefined()) return true;
        if (v.is_bool()) return v.as_bool() == o.as_bool();
        if (v.is_dict()) return &v.dict_data() == &o.dict_data();
        return false;
    }
    throw TemplateError("unknown test '" + name + "'");
}

}  // namespace eg::jinja
