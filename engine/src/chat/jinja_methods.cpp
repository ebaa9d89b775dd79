// Attribute, item and slice access, iteration, and the Python str/dict
// methods templates call (content.strip(), content.split('</think>'),
// message.get('tool_calls'), tool.items(), ...).
#include "chat/jinja_builtins.h"

#include <algorithm>

#include "chat/jinja_text.h"

namespace eg::jinja {
namespace {

const Value* find_arg(const CallArgs& a, size_t pos, const char* name) {
    for (const auto& kv : a.named)
        if (kv.first == name) return &kv.second;
    if (pos < a.positional.size()) return &a.positional[pos];
    return nullptr;
}

std::string str_arg(const CallArgs& a, size_t pos, const char* name, const char* method) {
    const Value* v = find_arg(a, pos, name);
    if (!v || !v->is_string()) throw TemplateError(std::string("str.") + method + "() needs a string argument");
    return v->as_string();
}

int64_t int_arg(const CallArgs& a, size_t pos, const char* name, int64_t fallback) {
    const Value* v = find_arg(a, pos, name);
    if (!v || v->is_none()) return fallback;
    if (!v->is_int() && !v->is_bool()) throw TemplateError(std::string("argument '") + name + "' must be an integer");
    return v->as_int();
}

Value strings(const std::vector<std::string>& parts) {
    ValueList out;
    for (const auto& p : parts) out.emplace_back(p);
    return Value::list(std::move(out));
}

// Python's startswith/endswith take a string or a tuple of strings.
bool affix_match(const Value& prefix, const std::string& s, bool at_end) {
    auto one = [&](const Value& p) {
        if (!p.is_string()) throw TemplateError("startswith/endswith need a string or a tuple of strings");
        const std::string& x = p.as_string();
        if (x.size() > s.size()) return false;
        return at_end ? s.compare(s.size() - x.size(), x.size(), x) == 0 : s.compare(0, x.size(), x) == 0;
    };
    if (prefix.is_list()) {
        for (const auto& p : prefix.items())
            if (one(p)) return true;
        return false;
    }
    return one(prefix);
}

Value call_str_method(const std::string& s, const std::string& name, CallArgs& a, const BuiltinContext& ctx) {
    auto strip = [&](bool l, bool r) {
        const Value* chars = find_arg(a, 0, "chars");
        if (chars && chars->is_string()) return Value(text::strip_chars(s, chars->as_string(), l, r));
        return Value(text::strip(s, l, r));
    };
    if (name == "strip") return strip(true, true);
    if (name == "lstrip") return strip(true, false);
    if (name == "rstrip") return strip(false, true);
    if (name == "split" || name == "rsplit") {
        const Value* sep = find_arg(a, 0, "sep");
        int64_t maxsplit = int_arg(a, 1, "maxsplit", -1);
        if (!sep || sep->is_none()) return strings(text::split_whitespace(s, maxsplit, name == "rsplit"));
        if (!sep->is_string()) throw TemplateError("str.split() separator must be a string");
        if (sep->as_string().empty()) throw TemplateError("empty separator");
        return strings(text::split_on(s, sep->as_string(), maxsplit, name == "rsplit"));
    }
    if (name == "splitlines") {
        auto parts = text::split_on(s, "\n", -1, false);
        if (!parts.empty() && parts.back().empty()) parts.pop_back();
        return strings(parts);
    }
    if (name == "startswith" || name == "endswith") {
        const Value* p = find_arg(a, 0, "prefix");
        if (!p) throw TemplateError("str." + name + "() needs an argument");
        return Value(affix_match(*p, s, name == "endswith"));
    }
    if (name == "upper") return Value(text::upper(s));
    if (name == "lower") return Value(text::lower(s));
    if (name == "title") return Value(text::py_title(s));
    if (name == "capitalize") return Value(text::capitalize(s));
    if (name == "replace") {
        std::string out = text::replace(s, str_arg(a, 0, "old", "replace"), str_arg(a, 1, "new", "replace"),
                                        int_arg(a, 2, "count", -1));
        if (out.size() > ctx.max_string_bytes) throw TemplateError("string result is too large");
        return Value(std::move(out));
    }
    if (name == "find" || name == "rfind" || name == "count") {
        std::string sub = str_arg(a, 0, "sub", name.c_str());
        if (name == "count") {
            if (sub.empty()) return Value(static_cast<int64_t>(text::length(s) + 1));
            int64_t n = 0;
            for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
            return Value(n);
        }
        size_t p = name == "find" ? s.find(sub) : s.rfind(sub);
        if (p == std::string::npos) return Value(int64_t{-1});
        return Value(static_cast<int64_t>(text::length(std::string_view(s).substr(0, p))));  // code point index
    }
    if (name == "join") {
        const Value* seq = find_arg(a, 0, "iterable");
        if (!seq) throw TemplateError("str.join() needs an iterable");
        std::string out;
        bool first = true;
        for (const auto& item : iterate(*seq)) {
            if (!item.is_string()) throw TemplateError(std::string("sequence item: expected str instance, ") + item.type_name() + " found");
            if (!first) out += s;
            first = false;
            out += item.as_string();
            if (out.size() > ctx.max_string_bytes) throw TemplateError("string result is too large");
        }
        return Value(std::move(out));
    }
    auto all_of = [&](auto pred) {
        std::u32string u = text::decode(s);
        return Value(!u.empty() && std::all_of(u.begin(), u.end(), pred));
    };
    if (name == "isspace") return all_of(text::is_space);
    if (name == "isdigit") return all_of([](char32_t c) { return c >= '0' && c <= '9'; });
    if (name == "isalpha") return all_of([](char32_t c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; });
    throw TemplateError("str." + name + "() is not supported");
}

bool is_str_method(const std::string& n) {
    static const char* names[] = {"strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith",
                                  "endswith", "upper", "lower", "title", "capitalize", "replace", "find", "rfind",
                                  "count", "join", "isspace", "isdigit", "isalpha"};
    for (const char* m : names)
        if (n == m) return true;
    return false;
}

Value call_dict_method(const Value& d, const std::string& name, CallArgs& a) {
    if (name == "get") {
        const Value* key = find_arg(a, 0, "key");
        if (!key) throw TemplateError("dict.get() needs a key");
        const Value* dflt = find_arg(a, 1, "default");
        const Value* v = key->is_string() ? d.dict_data().find(key->as_string()) : nullptr;
        return v ? *v : (dflt ? *dflt : Value::none());
    }
    ValueList out;
    for (const auto& kv : d.dict_data().items) {
        if (name == "items") out.push_back(Value::list({Value(kv.first), kv.second}, true));
        else if (name == "keys") out.emplace_back(kv.first);
        else out.push_back(kv.second);
    }
    return Value::sequence(std::move(out), name == "items" ? SeqKind::DictItems
                                           : name == "keys" ? SeqKind::DictKeys : SeqKind::DictValues);
}

}  // namespace

Value get_attribute(const Value& obj, const std::string& name, const BuiltinContext& ctx) {
    if (obj.is_string() && is_str_method(name)) {
        std::string s = obj.as_string();
        BuiltinContext c = ctx;
        std::string label = "str.";  // not "str." + name: GCC 12 warns falsely (-Wrestrict)
        label += name;
        return Value::function(label, [s, name, c](CallArgs& a) { return call_str_method(s, name, a, c); });
    }
    if (obj.is_dict() && !obj.is_namespace()) {
        // Python finds the dict's methods before its keys: d.items is the method.
        if (name == "get" || name == "items" || name == "keys" || name == "values") {
            Value d = obj;
            std::string label = "dict.";
            label += name;
            return Value::function(label, [d, name](CallArgs& a) { return call_dict_method(d, name, a); });
        }
    }
    if (obj.is_dict()) {
        if (const Value* v = obj.dict_data().find(name)) return *v;
    }
    std::string msg = "'";  // built by appending: GCC 12 warns falsely on a + chain here
    msg += obj.is_namespace() ? "Namespace" : obj.type_name();
    msg += " object' has no attribute '";
    msg += name;
    msg += "'";
    return Value::undefined(std::move(msg));
}

Value get_item(const Value& obj, const Value& key) {
    if (obj.is_dict()) {
        if (key.is_string())
            if (const Value* v = obj.dict_data().find(key.as_string())) return *v;
        return Value::undefined("'dict object' has no attribute " + key.repr());
    }
    if ((obj.is_indexable() || obj.is_string()) && (key.is_int() || key.is_bool())) {
        int64_t i = key.as_int();
        if (obj.is_list()) {
            int64_t n = static_cast<int64_t>(obj.items().size());
            if (i < 0) i += n;
            if (i >= 0 && i < n) return obj.items()[static_cast<size_t>(i)];
            return Value::undefined(std::string(obj.type_name()) + " object has no element " + std::to_string(key.as_int()));
        }
        std::u32string u = text::decode(obj.as_string());
        int64_t n = static_cast<int64_t>(u.size());
        if (i < 0) i += n;
        if (i >= 0 && i < n) return Value(text::encode(u.substr(static_cast<size_t>(i), 1)));
        return Value::undefined("str object has no element " + std::to_string(key.as_int()));
    }
    return Value::undefined(std::string(obj.type_name()) + " object has no element " + key.repr());
}

Value slice_value(const Value& obj, const Value& start_v, const Value& stop_v, const Value& step_v) {
    auto as_index = [](const Value& v, const char* what) -> std::optional<int64_t> {
        if (v.is_none() || v.is_undefined()) return std::nullopt;
        if (!v.is_int() && !v.is_bool()) throw TemplateError(std::string("slice ") + what + " must be an integer");
        return v.as_int();
    };
    std::optional<int64_t> start = as_index(start_v, "start"), stop = as_index(stop_v, "stop"), step_o = as_index(step_v, "step");
    int64_t step = step_o.value_or(1);
    if (step == 0) throw TemplateError("slice step cannot be zero");
    std::u32string chars;
    int64_t n;
    if (obj.is_string()) {
        chars = text::decode(obj.as_string());
        n = static_cast<int64_t>(chars.size());
    } else if (obj.is_indexable()) {
        n = static_cast<int64_t>(obj.items().size());
    } else {
        throw TemplateError(std::string("'") + obj.type_name() + "' object is not subscriptable");
    }
    // PySlice_AdjustIndices
    auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
        if (!v) return dflt;
        int64_t x = *v;
        if (x < 0) {
            x += n;
            if (x < 0) x = step < 0 ? -1 : 0;
        } else if (x >= n) {
            x = step < 0 ? n - 1 : n;
        }
        return x;
    };
    int64_t b = adjust(start, step < 0 ? n - 1 : 0);
    int64_t e = adjust(stop, step < 0 ? -1 : n);
    std::vector<size_t> idx;
    for (int64_t i = b; step > 0 ? i < e : i > e; i += step) idx.push_back(static_cast<size_t>(i));
    if (obj.is_string()) {
        std::u32string out;
        for (size_t i : idx) out += chars[i];
        return Value(text::encode(out));
    }
    ValueList out;
    for (size_t i : idx) out.push_back(obj.items()[i]);
    return Value::list(std::move(out), obj.is_tuple());
}

ValueList iterate(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::Undefined: return {};
        case Value::Kind::List: return v.items();
        case Value::Kind::Dict: {
            if (v.is_namespace()) throw TemplateError("'Namespace' object is not iterable");
            ValueList keys;
            for (const auto& kv : v.dict_data().items) keys.emplace_back(kv.first);
            return keys;
        }
        case Value::Kind::String: {
            ValueList out;
            for (char32_t c : text::decode(v.as_string())) {
                std::string s;
                text::append_utf8(s, c);
                out.emplace_back(std::move(s));
            }
            return out;
        }
        default: throw TemplateError(std::string("'") + v.type_name() + "' object is not iterable");
    }
}

}  // namespace eg::jinja
