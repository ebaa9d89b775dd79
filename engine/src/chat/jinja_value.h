// The values a chat template computes with, modelled on the Python objects
// jinja2 sees (str, int, float, bool, None, list, tuple, dict, Undefined), so
// that printing, comparing and serialising them gives jinja2's exact text.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace eg::jinja {

// Thrown anywhere inside parse/render and turned into an eg::Error at the
// ChatTemplate boundary; line/col are 1-based (0 = not known yet, filled in by
// the innermost node that knows its position).
struct TemplateError : std::runtime_error {
    TemplateError(std::string msg, int line_ = 0, int col_ = 0)
        : std::runtime_error(std::move(msg)), line(line_), col(col_) {}
    int line;
    int col;
};

// raise_exception(msg) from the template: the message is the model author's.
struct RaisedError : TemplateError {
    using TemplateError::TemplateError;
};

class Value;
using ValueList = std::vector<Value>;

// What Python object a sequence stands for: they print, compare, measure and
// serialise differently (jinja2's select/map/... give generators, which are
// always true, have no len() and cannot be printed or passed to tojson).
enum class SeqKind { List, Tuple, Generator, DictKeys, DictValues, DictItems };

// Values nest at most this deep, so printing, comparing and freeing them
// cannot exhaust the stack whatever a template builds ([[[...]]] in a loop).
inline constexpr int kMaxValueDepth = 256;

struct ListData {
    ValueList items;
    SeqKind seq = SeqKind::List;
    int depth = 1;
};

// Python dicts keep insertion order; chat data has few keys, so a vector with
// linear lookup beats a hash map here.
struct DictData {
    std::vector<std::pair<std::string, Value>> items;
    bool is_namespace = false;  // namespace(): the one mutable object
    int depth = 1;

    const Value* find(const std::string& key) const;
    void set(const std::string& key, Value v);
};

struct CallArgs {
    ValueList positional;
    std::vector<std::pair<std::string, Value>> named;
};

struct Function {
    std::string name;
    std::function<Value(CallArgs&)> call;
};

class Value {
public:
    enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Function };

    Value() = default;  // Undefined
    static Value undefined(std::string name = {}) {
        Value v;
        v.str_ = std::move(name);
        return v;
    }
    static Value none() { return Value(Kind::None); }
    Value(bool b) : kind_(Kind::Bool), int_(b ? 1 : 0) {}
    Value(int64_t i) : kind_(Kind::Int), int_(i) {}
    Value(int i) : kind_(Kind::Int), int_(i) {}
    Value(double d) : kind_(Kind::Float), float_(d) {}
    Value(std::string s) : kind_(Kind::String), str_(std::move(s)) {}
    Value(const char* s) : kind_(Kind::String), str_(s) {}
    static Value list(ValueList items, bool tuple = false);
    static Value sequence(ValueList items, SeqKind seq);
    static Value dict(std::vector<std::pair<std::string, Value>> items = {});
    static Value function(std::string name, std::function<Value(CallArgs&)> fn);

    Kind kind() const { return kind_; }
    bool is_undefined() const { return kind_ == Kind::Undefined; }
    bool is_none() const { return kind_ == Kind::None; }
    bool is_bool() const { return kind_ == Kind::Bool; }
    bool is_int() const { return kind_ == Kind::Int; }
    bool is_float() const { return kind_ == Kind::Float; }
    // Python's bool is an int: True + 1 == 2, True == 1.
    bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool; }
    bool is_string() const { return kind_ == Kind::String; }
    bool is_list() const { return kind_ == Kind::List; }
    bool is_tuple() const { return kind_ == Kind::List && list_->seq == SeqKind::Tuple; }
    // A real list or tuple: indexable, sliceable, JSON-serialisable.
    bool is_indexable() const { return kind_ == Kind::List && (list_->seq == SeqKind::List || list_->seq == SeqKind::Tuple); }
    SeqKind seq_kind() const { return list_->seq; }
    bool is_dict() const { return kind_ == Kind::Dict; }
    bool is_namespace() const { return kind_ == Kind::Dict && dict_->is_namespace; }
    bool is_function() const { return kind_ == Kind::Function; }

    bool as_bool() const { return int_ != 0; }
    int64_t as_int() const { return int_; }  // Int and Bool
    double as_double() const { return kind_ == Kind::Float ? float_ : static_cast<double>(int_); }
    const std::string& as_string() const { return str_; }
    const std::string& undefined_name() const { return str_; }
    const ValueList& items() const { return list_->items; }
    const DictData& dict_data() const { return *dict_; }
    DictData& mutable_dict() const { return *dict_; }  // namespaces only
    const Function& function_data() const { return *fn_; }
    int nesting() const { return kind_ == Kind::List ? list_->depth : kind_ == Kind::Dict ? dict_->depth : 0; }

    bool truthy() const;
    // str(value) as jinja2 prints it in {{ }} (Undefined prints nothing).
    std::string str() const;
    // repr(value): how Python shows it inside a printed list or dict.
    std::string repr() const;
    const char* type_name() const;

    // Throws TemplateError for JSON nested deeper than kMaxValueDepth.
    static Value from_json(const nlohmann::ordered_json& j, int depth = 0);

private:
    explicit Value(Kind k) : kind_(k) {}
    Kind kind_ = Kind::Undefined;
    int64_t int_ = 0;
    double float_ = 0;
    std::string str_;
    std::shared_ptr<ListData> list_;
    std::shared_ptr<DictData> dict_;
    std::shared_ptr<Function> fn_;
};

// Python ==: numbers compare across int/float/bool, containers element-wise.
bool values_equal(const Value& a, const Value& b);
// Python <: throws TemplateError for unorderable types.
bool values_less(const Value& a, const Value& b);

// Python float repr: shortest round-trip digits, "1e-05", "1e+16", "2.0".
std::string format_float(double d);

struct JsonOptions {
    std::optional<std::string> indent;  // nullopt: one line
    std::string item_sep = ", ";
    std::string key_sep = ": ";
    bool ensure_ascii = false;
    bool sort_keys = false;
};
// json.dumps(value, ...) as transformers' tojson filter calls it.
std::string to_json(const Value& v, const JsonOptions& opts);

}  // namespace eg::jinja
