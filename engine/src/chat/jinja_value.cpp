// Printing, comparing and JSON-serialising template values the way CPython
// does, since chat templates are judged byte for byte against jinja2.
#include "chat/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cmath>
#include <cstdio>

#include "chat/jinja_text.h"

namespace eg::jinja {

const Value* DictData::find(const std::string& key) const {
    for (const auto& kv : items)
        if (kv.first == key) return &kv.second;
    return nullptr;
}

static int child_depth(int child_nesting) {
    if (child_nesting + 1 > kMaxValueDepth)
        throw TemplateError("value nested too deeply (limit " + std::to_string(kMaxValueDepth) + " levels)");
    return child_nesting + 1;
}

// Bounded by kMaxValueDepth, since every value is.
static bool holds_namespace(const Value& v) {
    if (v.is_namespace()) return true;
    if (v.is_list())
        for (const auto& x : v.items())
            if (x.nesting() > 0 && holds_namespace(x)) return true;
    if (v.is_dict())
        for (const auto& kv : v.dict_data().items)
            if (kv.second.nesting() > 0 && holds_namespace(kv.second)) return true;
    return false;
}

void DictData::set(const std::string& key, Value v) {
    // A namespace inside a namespace could form a cycle (ns.self = [ns]),
    // which printing or comparing would never finish; no template needs it.
    if (is_namespace && holds_namespace(v)) throw TemplateError("a namespace cannot hold a namespace");
    depth = std::max(depth, child_depth(v.nesting()));
    for (auto& kv : items)
        if (kv.first == key) {
            kv.second = std::move(v);
            return;
        }
    items.emplace_back(key, std::move(v));
}

Value Value::list(ValueList items, bool tuple) {
    Value v(Kind::List);
    v.list_ = std::make_shared<ListData>();
    int depth = 1;
    for (const auto& x : items) depth = std::max(depth, child_depth(x.nesting()));
    v.list_->items = std::move(items);
    v.list_->seq = tuple ? SeqKind::Tuple : SeqKind::List;
    v.list_->depth = depth;
    return v;
}

Value Value::sequence(ValueList items, SeqKind seq) {
    Value v = list(std::move(items));
    v.list_->seq = seq;
    return v;
}

Value Value::dict(std::vector<std::pair<std::string, Value>> items) {
    Value v(Kind::Dict);
    v.dict_ = std::make_shared<DictData>();
    int depth = 1;
    for (const auto& kv : items) depth = std::max(depth, child_depth(kv.second.nesting()));
    v.dict_->items = std::move(items);
    v.dict_->depth = depth;
    return v;
}

Value Value::function(std::string name, std::function<Value(CallArgs&)> fn) {
    Value v(Kind::Function);
    v.fn_ = std::make_shared<Function>(Function{std::move(name), std::move(fn)});
    return v;
}

bool Value::truthy() const {
    switch (kind_) {
        case Kind::Undefined:
        case Kind::None: return false;
        case Kind::Bool:
        case Kind::Int: return int_ != 0;
        case Kind::Float: return float_ != 0.0;
        case Kind::String: return !str_.empty();
        case Kind::List: return list_->seq == SeqKind::Generator || !list_->items.empty();
        case Kind::Dict: return dict_->is_namespace || !dict_->items.empty();
        case Kind::Function: return true;
    }
    return false;
}

const char* Value::type_name() const {
    switch (kind_) {
        case Kind::Undefined: return "undefined";
        case Kind::None: return "NoneType";
        case Kind::Bool: return "bool";
        case Kind::Int: return "int";
        case Kind::Float: return "float";
        case Kind::String: return "str";
        case Kind::List:
            switch (list_->seq) {
                case SeqKind::List: return "list";
                case SeqKind::Tuple: return "tuple";
                case SeqKind::Generator: return "generator";
                case SeqKind::DictKeys: return "dict_keys";
                case SeqKind::DictValues: return "dict_values";
                case SeqKind::DictItems: return "dict_items";
            }
            return "list";
        case Kind::Dict: return dict_->is_namespace ? "Namespace" : "dict";
        case Kind::Function: return "function";
    }
    return "?";
}

std::string format_float(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    // Shortest round-trip digits, then Python's layout rule: positional for
    // exponents -4..15, scientific otherwise.
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    bool neg = sci[0] == '-';
    if (neg) sci.erase(0, 1);
    size_t e = sci.find('e');
    std::string mant = sci.substr(0, e);
    int exp = std::stoi(sci.substr(e + 1));
    std::string digits;
    for (char c : mant)
        if (c != '.') digits += c;
    while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
    std::string out = neg ? "-" : "";
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            out += "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
        } else if (static_cast<int>(digits.size()) <= exp + 1) {
            out += digits + std::string(static_cast<size_t>(exp + 1) - digits.size(), '0') + ".0";
        } else {
            out += digits.substr(0, static_cast<size_t>(exp + 1)) + "." + digits.substr(static_cast<size_t>(exp + 1));
        }
        return out;
    }
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char ebuf[16];
    std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return out + ebuf;
}

std::string Value::str() const {
    switch (kind_) {
        case Kind::Undefined: return "";
        case Kind::String: return str_;
        default: return repr();
    }
}

std::string Value::repr() const {
    switch (kind_) {
        case Kind::Undefined: return "";
        case Kind::None: return "None";
        case Kind::Bool: return int_ ? "True" : "False";
        case Kind::Int: return std::to_string(int_);
        case Kind::Float: return format_float(float_);
        case Kind::String: return text::repr(str_);
        case Kind::List: {
            if (list_->seq == SeqKind::Generator)  // Python prints an address here; refuse instead
                throw TemplateError("cannot print a generator (the result of select/map/...); add '| list'");
            const bool tuple = list_->seq == SeqKind::Tuple;
            std::string out = tuple ? "(" : "[";
            for (size_t i = 0; i < list_->items.size(); ++i) {
                if (i) out += ", ";
                out += list_->items[i].repr();
            }
            if (tuple && list_->items.size() == 1) out += ",";
            out += tuple ? ")" : "]";
            if (list_->seq != SeqKind::List && !tuple) out = std::string(type_name()) + "(" + out + ")";
            return out;
        }
        case Kind::Dict: {
            std::string out = dict_->is_namespace ? "<Namespace {" : "{";
            bool first = true;
            for (const auto& kv : dict_->items) {
                if (!first) out += ", ";
                first = false;
                out += text::repr(kv.first) + ": " + kv.second.repr();
            }
            out += dict_->is_namespace ? "}>" : "}";
            return out;
        }
        case Kind::Function: return "<function " + fn_->name + ">";
    }
    return "";
}

bool values_equal(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
        return a.as_int() == b.as_int();
    }
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
        case Value::Kind::Undefined:
        case Value::Kind::None: return true;
        case Value::Kind::String: return a.as_string() == b.as_string();
        case Value::Kind::List: {
            if (a.seq_kind() != b.seq_kind()) return false;  // Python: (1,) != [1]
            if (a.seq_kind() == SeqKind::Generator) return &a.items() == &b.items();
            const auto& x = a.items();
            const auto& y = b.items();
            if (x.size() != y.size()) return false;
            for (size_t i = 0; i < x.size(); ++i)
                if (!values_equal(x[i], y[i])) return false;
            return true;
        }
        case Value::Kind::Dict: {
            if (a.is_namespace() || b.is_namespace()) return &a.dict_data() == &b.dict_data();
            const auto& x = a.dict_data();
            const auto& y = b.dict_data();
            if (x.items.size() != y.items.size()) return false;
            for (const auto& kv : x.items) {
                const Value* o = y.find(kv.first);
                if (!o || !values_equal(kv.second, *o)) return false;
            }
            return true;
        }
        case Value::Kind::Function: return &a.function_data() == &b.function_data();
        default: return false;
    }
}

bool values_less(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return a.as_double() < b.as_double();
        return a.as_int() < b.as_int();
    }
    if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();  // UTF-8 order == code point order
    if (a.is_indexable() && b.is_indexable() && a.is_tuple() == b.is_tuple()) {
        const auto& x = a.items();
        const auto& y = b.items();
        for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (values_equal(x[i], y[i])) continue;
            return values_less(x[i], y[i]);
        }
        return x.size() < y.size();
    }
    throw TemplateError(std::string("'<' not supported between instances of '") + a.type_name() + "' and '" +
                        b.type_name() + "'");
}

Value Value::from_json(const nlohmann::ordered_json& j, int depth) {
    if (depth > kMaxValueDepth) throw TemplateError("input nested too deeply (limit " + std::to_string(kMaxValueDepth) + " levels)");
    switch (j.type()) {
        case nlohmann::ordered_json::value_t::null: return none();
        case nlohmann::ordered_json::value_t::boolean: return Value(j.get<bool>());
        case nlohmann::ordered_json::value_t::number_integer: return Value(j.get<int64_t>());
        case nlohmann::ordered_json::value_t::number_unsigned: {
            auto u = j.get<uint64_t>();
            if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
            return Value(static_cast<int64_t>(u));
        }
        case nlohmann::ordered_json::value_t::number_float: return Value(j.get<double>());
        case nlohmann::ordered_json::value_t::string: return Value(j.get<std::string>());
        case nlohmann::ordered_json::value_t::array: {
            ValueList items;
            items.reserve(j.size());
            for (const auto& e : j) items.push_back(from_json(e, depth + 1));
            return list(std::move(items));
        }
        case nlohmann::ordered_json::value_t::object: {
            std::vector<std::pair<std::string, Value>> items;
            for (auto it = j.begin(); it != j.end(); ++it) items.emplace_back(it.key(), from_json(it.value(), depth + 1));
            return dict(std::move(items));
        }
        default: return Value::undefined();
    }
}

static void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
    static const char* hex = "0123456789abcdef";
    auto u_escape = [&](uint32_t c) {
        out += "\\u";
        for (int i = 3; i >= 0; --i) out += hex[(c >> (4 * i)) & 0xF];
    };
    out += '"';
    for (char32_t c : text::decode(s)) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20) {
                    u_escape(c);
                } else if (ensure_ascii && c > 0x7E) {
                    if (c >= 0x10000) {  // surrogate pair, as json.dumps writes it
                        uint32_t v = c - 0x10000;
                        u_escape(0xD800 + (v >> 10));
                        u_escape(0xDC00 + (v & 0x3FF));
                    } else {
                        u_escape(c);
                    }
                } else {
                    text::append_utf8(out, c);
                }
        }
    }
    out += '"';
}

static void json_value(std::string& out, const Value& v, const JsonOptions& o, int depth) {
    if (depth > 200) throw TemplateError("tojson: value nested too deeply");
    auto newline = [&](int level) {
        out += '\n';
        for (int i = 0; i < level; ++i) out += *o.indent;
    };
    switch (v.kind()) {
        case Value::Kind::None: out += "null"; return;
        case Value::Kind::Bool: out += v.as_bool() ? "true" : "false"; return;
        case Value::Kind::Int: out += std::to_string(v.as_int()); return;
        case Value::Kind::Float: {
            double d = v.as_double();
            if (std::isnan(d)) out += "NaN";
            else if (std::isinf(d)) out += d > 0 ? "Infinity" : "-Infinity";
            else out += format_float(d);
            return;
        }
        case Value::Kind::String: json_string(out, v.as_string(), o.ensure_ascii); return;
        case Value::Kind::List: {
            if (!v.is_indexable()) break;
            const auto& items = v.items();
            if (items.empty()) {
                out += "[]";
                return;
            }
            out += '[';
            for (size_t i = 0; i < items.size(); ++i) {
                if (i) out += o.item_sep;
                if (o.indent) newline(depth + 1);
                json_value(out, items[i], o, depth + 1);
            }
            if (o.indent) newline(depth);
            out += ']';
            return;
        }
        case Value::Kind::Dict: {
            if (v.is_namespace()) break;
            auto items = v.dict_data().items;
            if (items.empty()) {
                out += "{}";
                return;
            }
            if (o.sort_keys)
                std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
            out += '{';
            for (size_t i = 0; i < items.size(); ++i) {
                if (i) out += o.item_sep;
                if (o.indent) newline(depth + 1);
                json_string(out, items[i].first, o.ensure_ascii);
                out += o.key_sep;
                json_value(out, items[i].second, o, depth + 1);
            }
            if (o.indent) newline(depth);
            out += '}';
            return;
        }
        default: break;
    }
    throw TemplateError(std::string("Object of type ") + (v.is_undefined() ? "Undefined" : v.type_name()) +
                        " is not JSON serializable");
}

std::string to_json(const Value& v, const JsonOptions& opts) {
    std::string out;
    json_value(out, v, opts, 0);
    return out;
}

}  // namespace eg::jinja
