// Tree-walking evaluation of templates with jinja2's scoping (a for loop body
// is a fresh scope each iteration, `if` is not a scope, namespaces are shared)
// and Python's operator semantics.
#include "chat/jinja_interp.h"

#include <cmath>
#include <unordered_map>

#include "chat/jinja_builtins.h"

namespace eg::jinja {
namespace {

using Frame = std::unordered_map<std::string, Value>;

[[noreturn]] void type_error(const std::string& op, const Value& a, const Value& b) {
    throw TemplateError("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() +
                        "'");
}

void check_defined(const Value& v) {
    if (v.is_undefined()) throw TemplateError(v.undefined_name().empty() ? "value is undefined" : v.undefined_name());
}

[[noreturn]] void overflow() {
    // Python ints never overflow; rather than wrap silently, refuse.
    throw TemplateError("integer overflow (values beyond 64 bits are not supported)");
}

int64_t add_checked(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) overflow();
    return r;
}
int64_t sub_checked(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r)) overflow();
    return r;
}
int64_t mul_checked(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r)) overflow();
    return r;
}

int64_t floordiv(int64_t a, int64_t b) {
    if (b == 0) throw TemplateError("integer division or modulo by zero");
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

class Interpreter {
public:
    Interpreter(const RenderEnv& env, std::vector<std::pair<std::string, Value>> context) : env_(env) {
        ctx_.max_string_bytes = env.limits.max_output_bytes;
        frames_.emplace_back();
        for (auto& kv : context) frames_[0][kv.first] = std::move(kv.second);
        install_globals();
    }

    std::string run(const Template& t) {
        std::string out;
        out_ = &out;
        exec(t.body);
        return out;
    }

private:
    enum class Flow { Normal, Break, Continue };

    // ----- scopes ----------------------------------------------------------
    Value lookup(const std::string& name) const {
        for (size_t i = frames_.size(); i-- > base_;) {
            auto it = frames_[i].find(name);
            if (it != frames_[i].end()) return it->second;
        }
        auto it = frames_[0].find(name);
        if (it != frames_[0].end()) return it->second;
        auto g = globals_.find(name);
        if (g != globals_.end()) return g->second;
        return Value::undefined("'" + name + "' is undefined");
    }

    void assign(const std::vector<std::string>& targets, const Value& v) {
        if (targets.size() == 1) {
            frames_.back()[targets[0]] = v;
            return;
        }
        if (!v.is_list() && !v.is_string() && !v.is_dict()) throw TemplateError(std::string("cannot unpack non-iterable ") + v.type_name() + " object");
        ValueList items = iterate(v);
        if (items.size() != targets.size())
            throw TemplateError(items.size() > targets.size()
                                    ? "too many values to unpack (expected " + std::to_string(targets.size()) + ")"
                                    : "not enough values to unpack (expected " + std::to_string(targets.size()) +
                                          ", got " + std::to_string(items.size()) + ")");
        for (size_t i = 0; i < targets.size(); ++i) frames_.back()[targets[i]] = items[i];
    }

    void install_globals() {
        globals_["range"] = Value::function("range", [this](CallArgs& a) {
            if (!a.named.empty() || a.positional.empty() || a.positional.size() > 3) throw TemplateError("range() takes 1 to 3 integer arguments");
            for (const auto& p : a.positional)
                if (!p.is_int() && !p.is_bool()) throw TemplateError(std::string("range() argument must be int, not ") + p.type_name());
            int64_t start = 0, stop, step = 1;
            if (a.positional.size() == 1) stop = a.positional[0].as_int();
            else {
                start = a.positional[0].as_int();
                stop = a.positional[1].as_int();
                if (a.positional.size() == 3) step = a.positional[2].as_int();
            }
            if (step == 0) throw TemplateError("range() arg 3 must not be zero");
            ValueList out;
            for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
                if (out.size() >= env_.limits.max_list_items) throw TemplateError("range() is too long (limit " + std::to_string(env_.limits.max_list_items) + " items)");
                out.emplace_back(i);
            }
            return Value::list(std::move(out));
        });
        auto make_dict = [](CallArgs& a, bool ns) {
            Value d = Value::dict();
            if (ns) d.mutable_dict().is_namespace = true;
            for (const auto& p : a.positional) {
                if (!p.is_dict()) throw TemplateError(ns ? "namespace() takes a dict or keyword arguments" : "dict() takes a dict or keyword arguments");
                for (const auto& kv : p.dict_data().items) d.mutable_dict().set(kv.first, kv.second);
            }
            for (const auto& kv : a.named) d.mutable_dict().set(kv.first, kv.second);
            return d;
        };
        globals_["namespace"] = Value::function("namespace", [make_dict](CallArgs& a) { return make_dict(a, true); });
        globals_["dict"] = Value::function("dict", [make_dict](CallArgs& a) { return make_dict(a, false); });
        globals_["raise_exception"] = Value::function("raise_exception", [](CallArgs& a) -> Value {
            std::string msg = a.positional.empty() ? std::string() : a.positional[0].str();
            throw RaisedError(msg);
        });
        globals_["strftime_now"] = Value::function("strftime_now", [this](CallArgs& a) {
            if (a.positional.size() != 1 || !a.positional[0].is_string()) throw TemplateError("strftime_now() takes one format string");
            const std::string& fmt = a.positional[0].as_string();
            if (fmt.empty()) return Value(std::string());
            std::string buf(fmt.size() * 8 + 64, '\0');
            size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &env_.now);
            if (n == 0) throw TemplateError("strftime_now(): format gave no output or was too long");
            buf.resize(n);
            return Value(std::move(buf));
        });
    }

    // ----- statements ------------------------------------------------------
    void step() {
        if (++steps_ > env_.limits.max_steps)
            throw TemplateError("template ran too long (more than " + std::to_string(env_.limits.max_steps) + " steps)");
    }

    void emit(const std::string& s) {
        if (out_->size() + s.size() > env_.limits.max_output_bytes)
            throw TemplateError("template output exceeds " + std::to_string(env_.limits.max_output_bytes) + " bytes");
        out_->append(s);
    }

    Flow exec(const Body& body) {
        for (const auto& s : body) {
            Flow f = exec_stmt(*s);
            if (f != Flow::Normal) return f;
        }
        return Flow::Normal;
    }

    Flow exec_stmt(const Stmt& s) {
        try {
            return exec_inner(s);
        } catch (TemplateError& e) {
            if (e.line == 0) {
                e.line = s.line;
                e.col = s.col;
            }
            throw;
        }
    }

    std::string capture(const Body& body) {
        std::string buf;
        std::string* saved = out_;
        out_ = &buf;
        try {
            exec(body);
        } catch (...) {
            out_ = saved;
            throw;
        }
        out_ = saved;
        return buf;
    }

    Flow exec_inner(const Stmt& s) {
        step();
        switch (s.kind) {
            case StmtKind::Text: emit(s.text); return Flow::Normal;
            case StmtKind::Output: emit(eval(*s.expr).str()); return Flow::Normal;
            case StmtKind::If:
                for (const auto& b : s.branches)
                    if (eval(*b.cond).truthy()) return exec(b.body);
                return exec(s.else_body);
            case StmtKind::For: return exec_for(s);
            case StmtKind::Set: {
                Value v = eval(*s.expr);
                if (s.attr.empty()) {
                    assign(s.targets, v);
                } else {
                    Value ns = lookup(s.targets[0]);
                    if (!ns.is_namespace())
                        throw TemplateError("cannot assign attribute '" + s.attr + "' on '" + s.targets[0] + "': it is not a namespace()");
                    ns.mutable_dict().set(s.attr, v);
                }
                return Flow::Normal;
            }
            case StmtKind::SetBlock: assign(s.targets, Value(capture(s.body))); return Flow::Normal;
            case StmtKind::Macro: define_macro(s); return Flow::Normal;
            case StmtKind::Break: return Flow::Break;
            case StmtKind::Continue: return Flow::Continue;
        }
        return Flow::Normal;
    }

    Flow exec_for(const Stmt& s) {
        Value seq = eval(*s.expr);
        if (!seq.is_undefined() && !seq.is_list() && !seq.is_dict() && !seq.is_string())
            throw TemplateError(std::string("'") + seq.type_name() + "' object is not iterable");
        if (seq.is_namespace()) throw TemplateError("'Namespace' object is not iterable");
        ValueList items = iterate(seq);
        if (s.filter) {  // `for x in xs if cond`: filtered before loop.length is known
            ValueList kept;
            for (auto& item : items) {
                step();
                frames_.emplace_back();
                try {
                    assign(s.targets, item);
                    bool keep = eval(*s.filter).truthy();
                    frames_.pop_back();
                    if (keep) kept.push_back(std::move(item));
                } catch (...) {
                    frames_.pop_back();
                    throw;
                }
            }
            items = std::move(kept);
        }
        if (items.empty()) {
            frames_.emplace_back();
            Flow f;
            try {
                f = exec(s.else_body);
            } catch (...) {
                frames_.pop_back();
                throw;
            }
            frames_.pop_back();
            return f == Flow::Normal ? Flow::Normal : f;
        }
        // One frame and one loop object for the whole loop, refreshed each
        // iteration (jinja2's LoopContext is likewise a single object that
        // advances); the frame is emptied so a `set` never outlives its
        // iteration.
        const int64_t n = static_cast<int64_t>(items.size());
        Value loop = Value::dict();
        DictData& ld = loop.mutable_dict();
        ld.items = {{"index", Value()}, {"index0", Value()}, {"revindex", Value()}, {"revindex0", Value()},
                    {"first", Value()}, {"last", Value()}, {"length", Value(n)}, {"depth", Value(int64_t{1})},
                    {"depth0", Value(int64_t{0})}, {"cycle", Value()}, {"previtem", Value()}, {"nextitem", Value()}};
        // Shared, not a reference: a template may keep loop.cycle past the loop.
        auto current = std::make_shared<int64_t>(0);
        ld.items[9].second = Value::function("loop.cycle", [current](CallArgs& a) {
            if (a.positional.empty()) throw TemplateError("loop.cycle() needs at least one argument");
            return a.positional[static_cast<size_t>(*current) % a.positional.size()];
        });
        frames_.emplace_back();
        try {
            for (int64_t i = 0; i < n; ++i) {
                step();
                *current = i;
                ld.items.resize(10);  // previtem/nextitem exist only where there is one
                ld.items[0].second = Value(i + 1);
                ld.items[1].second = Value(i);
                ld.items[2].second = Value(n - i);
                ld.items[3].second = Value(n - i - 1);
                ld.items[4].second = Value(i == 0);
                ld.items[5].second = Value(i == n - 1);
                if (i > 0) ld.items.emplace_back("previtem", items[static_cast<size_t>(i - 1)]);
                if (i + 1 < n) ld.items.emplace_back("nextitem", items[static_cast<size_t>(i + 1)]);
                frames_.back().clear();
                assign(s.targets, items[static_cast<size_t>(i)]);
                frames_.back()["loop"] = loop;
                if (exec(s.body) == Flow::Break) break;
            }
        } catch (...) {
            frames_.pop_back();
            throw;
        }
        frames_.pop_back();
        return Flow::Normal;
    }

    void define_macro(const Stmt& s) {
        const Stmt* m = &s;
        frames_.back()[s.name] = Value::function(s.name, [this, m](CallArgs& a) { return call_macro(*m, a); });
    }

    Value call_macro(const Stmt& m, CallArgs& a) {
        if (call_depth_ >= env_.limits.max_call_depth)
            throw TemplateError("macro calls nested too deeply (limit " + std::to_string(env_.limits.max_call_depth) + ")");
        if (a.positional.size() > m.params.size())
            throw TemplateError("macro '" + m.name + "' takes " + std::to_string(m.params.size()) + " arguments, " +
                                std::to_string(a.positional.size()) + " given");
        Frame frame;
        for (size_t i = 0; i < a.positional.size(); ++i) frame[m.params[i]] = a.positional[i];
        for (const auto& kv : a.named) {
            bool known = false;
            for (const auto& p : m.params) known |= p == kv.first;
            if (!known) throw TemplateError("macro '" + m.name + "' has no argument named '" + kv.first + "'");
            frame[kv.first] = kv.second;
        }
        size_t saved_base = base_;
        frames_.push_back(std::move(frame));
        base_ = frames_.size() - 1;
        ++call_depth_;
        std::string out;
        try {
            for (size_t i = 0; i < m.params.size(); ++i)
                if (!frames_.back().count(m.params[i]))
                    frames_.back()[m.params[i]] = m.defaults[i] ? eval(*m.defaults[i]) : Value::undefined("'" + m.params[i] + "' is undefined");
            out = capture(m.body);
        } catch (...) {
            --call_depth_;
            frames_.pop_back();
            base_ = saved_base;
            throw;
        }
        --call_depth_;
        frames_.pop_back();
        base_ = saved_base;
        return Value(std::move(out));
    }

    // ----- expressions -----------------------------------------------------
    Value eval(const Expr& e) {
        try {
            return eval_inner(e);
        } catch (TemplateError& err) {
            if (err.line == 0) {
                err.line = e.line;
                err.col = e.col;
            }
            throw;
        }
    }

    CallArgs eval_args(const Expr& e, size_t first) {
        CallArgs a;
        for (size_t i = first; i < e.args.size(); ++i) a.positional.push_back(eval(*e.args[i]));
        for (size_t i = 0; i < e.kwargs.size(); ++i) a.named.emplace_back(e.kwnames[i], eval(*e.kwargs[i]));
        return a;
    }

    Value eval_inner(const Expr& e) {
        switch (e.kind) {
            case ExprKind::Literal: return e.literal;
            case ExprKind::Name: return lookup(e.name);
            case ExprKind::List: {
                ValueList items;
                for (const auto& a : e.args) items.push_back(eval(*a));
                return Value::list(std::move(items), e.is_tuple);
            }
            case ExprKind::Dict: {
                Value d = Value::dict();
                for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
                    Value k = eval(*e.args[i]);
                    if (!k.is_string()) throw TemplateError(std::string("dict keys must be strings here, got ") + k.type_name());
                    d.mutable_dict().set(k.as_string(), eval(*e.args[i + 1]));
                }
                return d;
            }
            case ExprKind::Attr: {
                Value obj = eval(*e.args[0]);
                check_defined(obj);
                return get_attribute(obj, e.name, ctx_);
            }
            case ExprKind::Item: {
                Value obj = eval(*e.args[0]);
                check_defined(obj);
                Value key = eval(*e.args[1]);
                if (key.is_string() && !obj.is_dict()) return get_attribute(obj, key.as_string(), ctx_);
                return get_item(obj, key);
            }
            case ExprKind::Slice: {
                Value obj = eval(*e.args[0]);
                check_defined(obj);
                auto part = [&](size_t i) { return e.args[i] ? eval(*e.args[i]) : Value::none(); };
                return slice_value(obj, part(1), part(2), part(3));
            }
            case ExprKind::Call: {
                Value fn = eval(*e.args[0]);
                check_defined(fn);
                if (!fn.is_function()) throw TemplateError(std::string("'") + fn.type_name() + "' object is not callable");
                CallArgs a = eval_args(e, 1);
                return fn.function_data().call(a);
            }
            case ExprKind::Filter: {
                Value subject = eval(*e.args[0]);
                CallArgs a = eval_args(e, 1);
                return apply_filter(e.name, subject, a, ctx_);
            }
            case ExprKind::Test: {
                Value subject = eval(*e.args[0]);
                CallArgs a = eval_args(e, 1);
                return Value(apply_test(e.name, subject, a) != e.negated);
            }
            case ExprKind::Unary: {
                Value v = eval(*e.args[0]);
                if (e.name == "not") return Value(!v.truthy());
                check_defined(v);
                if (!v.is_number()) throw TemplateError(std::string("bad operand type for unary ") + e.name + ": '" + v.type_name() + "'");
                if (e.name == "+") return v.is_bool() ? Value(v.as_int()) : v;
                if (v.is_float()) return Value(-v.as_double());
                return Value(sub_checked(0, v.as_int()));
            }
            case ExprKind::Binary: {
                if (e.name == "and") {
                    Value a = eval(*e.args[0]);
                    return a.truthy() ? eval(*e.args[1]) : a;
                }
                if (e.name == "or") {
                    Value a = eval(*e.args[0]);
                    return a.truthy() ? a : eval(*e.args[1]);
                }
                Value a = eval(*e.args[0]);
                Value b = eval(*e.args[1]);
                return binary(e.name, a, b);
            }
            case ExprKind::Compare: {
                Value left = eval(*e.args[0]);
                for (size_t i = 0; i < e.ops.size(); ++i) {
                    Value right = eval(*e.args[i + 1]);
                    if (!compare(e.ops[i], left, right)) return Value(false);
                    left = std::move(right);
                }
                return Value(true);
            }
            case ExprKind::Cond: {
                if (eval(*e.args[1]).truthy()) return eval(*e.args[0]);
                return e.args[2] ? eval(*e.args[2]) : Value::undefined("the conditional expression had no else branch");
            }
        }
        throw TemplateError("internal error: unknown expression");
    }

    bool compare(const std::string& op, const Value& a, const Value& b) {
        if (op == "==") return values_equal(a, b);
        if (op == "!=") return !values_equal(a, b);
        if (op == "in") return contains(b, a);
        if (op == "not in") return !contains(b, a);
        check_defined(a);
        check_defined(b);
        if (op == "<") return values_less(a, b);
        if (op == ">") return values_less(b, a);
        if (op == "<=") return !values_less(b, a);
        return !values_less(a, b);  // >=
    }

    static bool contains(const Value& container, const Value& item) {
        switch (container.kind()) {
            case Value::Kind::Undefined: return false;
            case Value::Kind::String:
                if (!item.is_string()) throw TemplateError(std::string("'in <string>' requires string as left operand, not ") + item.type_name());
                return container.as_string().find(item.as_string()) != std::string::npos;
            case Value::Kind::List:
                for (const auto& v : container.items())
                    if (values_equal(v, item)) return true;
                return false;
            case Value::Kind::Dict:
                return item.is_string() && container.dict_data().find(item.as_string()) != nullptr;
            default:
                throw TemplateError(std::string("argument of type '") + container.type_name() + "' is not iterable");
        }
    }

    Value repeat(const Value& seq, int64_t times) {
        if (times < 0) times = 0;
        if (seq.is_string()) {
            if (static_cast<double>(seq.as_string().size()) * static_cast<double>(times) > static_cast<double>(ctx_.max_string_bytes))
                throw TemplateError("string repetition result is too large");
            std::string out;
            for (int64_t i = 0; i < times; ++i) out += seq.as_string();
            return Value(std::move(out));
        }
        if (static_cast<double>(seq.items().size()) * static_cast<double>(times) > static_cast<double>(env_.limits.max_list_items))
            throw TemplateError("list repetition result is too large");
        ValueList out;
        for (int64_t i = 0; i < times; ++i) out.insert(out.end(), seq.items().begin(), seq.items().end());
        return Value::list(std::move(out), seq.is_tuple());
    }

    Value binary(const std::string& op, const Value& a, const Value& b) {
        if (op == "~") {
            std::string s = a.str() + b.str();
            if (s.size() > ctx_.max_string_bytes) throw TemplateError("string result is too large");
            return Value(std::move(s));
        }
        check_defined(a);
        check_defined(b);
        const bool nums = a.is_number() && b.is_number();
        const bool use_float = nums && (a.is_float() || b.is_float());
        if (op == "+") {
            if (nums) {
                if (use_float) return Value(a.as_double() + b.as_double());
                return Value(add_checked(a.as_int(), b.as_int()));
            }
            if (a.is_string() && b.is_string()) {
                if (a.as_string().size() + b.as_string().size() > ctx_.max_string_bytes) throw TemplateError("string result is too large");
                return Value(a.as_string() + b.as_string());
            }
            if (a.is_indexable() && b.is_indexable() && a.is_tuple() == b.is_tuple()) {
                if (a.items().size() + b.items().size() > env_.limits.max_list_items) throw TemplateError("list result is too large");
                ValueList out = a.items();
                out.insert(out.end(), b.items().begin(), b.items().end());
                return Value::list(std::move(out), a.is_tuple());
            }
            if (a.is_string()) throw TemplateError(std::string("can only concatenate str (not \"") + b.type_name() + "\") to str");
            type_error(op, a, b);
        }
        if (op == "-") {
            if (!nums) type_error(op, a, b);
            if (use_float) return Value(a.as_double() - b.as_double());
            return Value(sub_checked(a.as_int(), b.as_int()));
        }
        if (op == "*") {
            if (nums) {
                if (use_float) return Value(a.as_double() * b.as_double());
                return Value(mul_checked(a.as_int(), b.as_int()));
            }
            if ((a.is_string() || a.is_indexable()) && (b.is_int() || b.is_bool())) return repeat(a, b.as_int());
            if ((b.is_string() || b.is_indexable()) && (a.is_int() || a.is_bool())) return repeat(b, a.as_int());
            type_error(op, a, b);
        }
        if (op == "/") {
            if (!nums) type_error(op, a, b);
            if (b.as_double() == 0.0) throw TemplateError("division by zero");
            return Value(a.as_double() / b.as_double());
        }
        if (op == "//" || op == "%") {
            if (op == "%" && a.is_string()) throw TemplateError("printf-style string formatting ('...' % x) is not supported");
            if (!nums) type_error(op, a, b);
            if (use_float) {
                double x = a.as_double(), y = b.as_double();
                if (y == 0.0) throw TemplateError("float division by zero");
                // CPython's float_divmod, so -7.5 // 2 and 7.5 % -2 agree with Python.
                double m = std::fmod(x, y);
                double div = (x - m) / y;
                if (m != 0.0 && ((y < 0) != (m < 0))) {
                    m += y;
                    div -= 1.0;
                }
                if (op == "%") return Value(m);
                double fl = std::floor(div);
                if (div - fl > 0.5) fl += 1.0;
                return Value(fl);
            }
            int64_t q = floordiv(a.as_int(), b.as_int());
            if (op == "//") return Value(q);
            return Value(a.as_int() - q * b.as_int());
        }
        if (op == "**") {
            if (!nums) type_error(op, a, b);
            if (use_float || b.as_int() < 0) return Value(std::pow(a.as_double(), b.as_double()));
            int64_t base = a.as_int(), exp = b.as_int(), result = 1;
            while (exp > 0) {  // square-and-multiply, refusing overflow
                if (exp & 1) result = mul_checked(result, base);
                exp >>= 1;
                if (exp) base = mul_checked(base, base);
            }
            return Value(result);
        }
        throw TemplateError("unknown operator '" + op + "'");
    }

    const RenderEnv& env_;
    BuiltinContext ctx_;
    std::vector<Frame> frames_;
    size_t base_ = 1;  // frames below base_ (except the root) are hidden inside a macro call
    std::unordered_map<std::string, Value> globals_;
    std::string* out_ = nullptr;
    uint64_t steps_ = 0;
    int call_depth_ = 0;
};

}  // namespace

std::string render_template(const Template& tmpl, std::vector<std::pair<std::string, Value>> context,
                            const RenderEnv& env) {
    Interpreter in(env, std::move(context));
    return in.run(tmpl);
}

}  // namespace eg::jinja
