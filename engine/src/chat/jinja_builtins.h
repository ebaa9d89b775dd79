// The filters, tests and methods templates may call, shared by the parser
// (which refuses unknown names up front) and the interpreter (which runs them).
#pragma once

#include <string>

#include "chat/jinja_value.h"

namespace eg::jinja {

bool is_known_filter(const std::string& name);
bool is_known_test(const std::string& name);

// What filters and methods need from the render: the cap on any string they
// build (the output limit), so join/replace/tojson cannot balloon memory.
struct BuiltinContext {
    size_t max_string_bytes = 0;
};

Value apply_filter(const std::string& name, const Value& subject, CallArgs& args, const BuiltinContext& ctx);
bool apply_test(const std::string& name, const Value& subject, CallArgs& args);

// obj.name as jinja2 resolves it: a bound method of str/dict (strip, items,
// get, ...), else a dict key, else Undefined.
Value get_attribute(const Value& obj, const std::string& name, const BuiltinContext& ctx);
// obj[key]: dict key, list/str index (negative from the end), else Undefined.
Value get_item(const Value& obj, const Value& key);
Value slice_value(const Value& obj, const Value& start, const Value& stop, const Value& step);

// Elements a for loop sees: list items, dict keys, string characters.
ValueList iterate(const Value& v);

}  // namespace eg::jinja
