// Recursive-descent parser with jinja2's operator precedence (parse_or ...
// parse_unary, filters binding tighter than arithmetic, `x if c else y`).
#include "chat/jinja_parser.h"

#include <algorithm>

#include "chat/jinja_builtins.h"
#include "chat/jinja_lexer.h"

namespace eg::jinja {
namespace {

class Parser {
public:
    explicit Parser(std::vector<Token> toks) : t_(std::move(toks)) {}

    std::unique_ptr<Template> run() {
        auto tmpl = std::make_unique<Template>();
        std::string found;
        tmpl->body = parse_body({}, found, cur());
        return tmpl;
    }

private:
    // ----- token helpers ---------------------------------------------------
    const Token& cur() const { return t_[i_]; }
    const Token& peek(size_t k = 1) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
    void next() {
        if (i_ + 1 < t_.size()) ++i_;
    }
    bool is_op(const char* op) const { return cur().type == Tok::Op && cur().text == op; }
    bool is_name(const char* n) const { return cur().type == Tok::Name && cur().text == n; }

    [[noreturn]] void fail(const std::string& msg, const Token& at) const { throw TemplateError(msg, at.line, at.col); }
    [[noreturn]] void fail(const std::string& msg) const { fail(msg, cur()); }

    static std::string describe(const Token& tk) {
        switch (tk.type) {
            case Tok::Text: return "text";
            case Tok::VarBegin: return "'{{'";
            case Tok::VarEnd: return "'}}'";
            case Tok::BlockBegin: return "'{%'";
            case Tok::BlockEnd: return "'%}'";
            case Tok::Name: return "'" + tk.text + "'";
            case Tok::String: return "string literal";
            case Tok::Int:
            case Tok::Float: return "number " + tk.text;
            case Tok::Op: return "'" + tk.text + "'";
            case Tok::Eof: return "end of template";
        }
        return "?";
    }

    void expect_op(const char* op) {
        if (!is_op(op)) fail(std::string("expected '") + op + "', found " + describe(cur()));
        next();
    }
    void expect(Tok type, const char* what) {
        if (cur().type != type) fail(std::string("expected ") + what + ", found " + describe(cur()));
        next();
    }
    std::string expect_name() {
        if (cur().type != Tok::Name) fail("expected a name, found " + describe(cur()));
        std::string n = cur().text;
        next();
        return n;
    }

    struct DepthGuard {
        DepthGuard(Parser& p) : p_(p) {
            if (++p_.depth_ > kMaxNestingDepth) p_.fail("template nested too deeply (limit " + std::to_string(kMaxNestingDepth) + ")");
        }
        ~DepthGuard() { --p_.depth_; }
        Parser& p_;
    };

    // Records the finished node's height; refuses trees too tall to walk.
    ExprPtr sealed(ExprPtr e) {
        int h = 0;
        for (const auto& c : e->args)
            if (c) h = std::max(h, c->depth);
        for (const auto& c : e->kwargs)
            if (c) h = std::max(h, c->depth);
        e->depth = h + 1;
        if (e->depth > kMaxExprDepth)
            throw TemplateError("expression nested too deeply (limit " + std::to_string(kMaxExprDepth) + ")", e->line, e->col);
        return e;
    }

    ExprPtr node(ExprKind k, const Token& at) {
        auto e = std::make_unique<Expr>();
        e->kind = k;
        e->line = at.line;
        e->col = at.col;
        return e;
    }
    StmtPtr stmt(StmtKind k, const Token& at) {
        auto s = std::make_unique<Stmt>();
        s->kind = k;
        s->line = at.line;
        s->col = at.col;
        return s;
    }

    // ----- statements ------------------------------------------------------
    // Parses until `{% <one of ends> %}`-style tag; leaves the tag's name
    // consumed (the caller parses the rest of that tag).
    Body parse_body(const std::vector<std::string>& ends, std::string& found, const Token& opener) {
        DepthGuard guard(*this);
        Body body;
        while (true) {
            const Token& tk = cur();
            switch (tk.type) {
                case Tok::Text: {
                    auto s = stmt(StmtKind::Text, tk);
                    s->text = tk.text;
                    body.push_back(std::move(s));
                    next();
                    break;
                }
                case Tok::VarBegin: {
                    auto s = stmt(StmtKind::Output, tk);
                    next();
                    s->expr = parse_tuple(true);
                    expect(Tok::VarEnd, "'}}'");
                    body.push_back(std::move(s));
                    break;
                }
                case Tok::BlockBegin: {
                    const Token& name = peek();
                    if (name.type == Tok::Name && std::find(ends.begin(), ends.end(), name.text) != ends.end()) {
                        next();
                        found = name.text;
                        next();
                        return body;
                    }
                    parse_statement(body);
                    break;
                }
                case Tok::Eof: {
                    if (ends.empty()) return body;
                    std::string want;
                    for (const auto& e : ends) want += (want.empty() ? "'" : " or '") + e + "'";
                    fail("unexpected end of template: the '" + opener.text + "' tag opened at line " +
                             std::to_string(opener.line) + ", column " + std::to_string(opener.col) +
                             " is never closed (expected " + want + ")",
                         opener);
                }
                default: fail("unexpected " + describe(tk));
            }
        }
    }

    void parse_statement(Body& body) {
        next();  // {%
        const Token kw = cur();
        if (kw.type != Tok::Name) fail("expected a tag name after '{%', found " + describe(kw));
        const std::string& k = kw.text;
        if (k == "if") return body.push_back(parse_if(kw));
        if (k == "for") return body.push_back(parse_for(kw));
        if (k == "set") return body.push_back(parse_set(kw));
        if (k == "macro") return body.push_back(parse_macro(kw));
        if (k == "break" || k == "continue") {
            if (loop_depth_ == 0) fail("'" + k + "' outside a for loop", kw);
            next();
            expect(Tok::BlockEnd, "'%}'");
            return body.push_back(stmt(k == "break" ? StmtKind::Break : StmtKind::Continue, kw));
        }
        if (k == "generation") {
            // transformers' {% generation %} marks assistant text for masks;
            // rendering it is rendering its body.
            next();
            expect(Tok::BlockEnd, "'%}'");
            std::string found;
            Body inner = parse_body({"endgeneration"}, found, kw);
            expect(Tok::BlockEnd, "'%}'");
            for (auto& s : inner) body.push_back(std::move(s));
            return;
        }
        if (k == "elif" || k == "else" || k.rfind("end", 0) == 0)
            fail("unexpected '" + k + "': no open block here takes it", kw);
        static const char* unsupported[] = {"include", "import", "from", "extends", "block", "call", "filter",
                                            "with", "autoescape", "do", "trans", "raw"};
        for (const char* u : unsupported)
            if (k == u) fail("the '" + k + "' tag is not supported in chat templates", kw);
        fail("unknown tag '" + k + "'", kw);
    }

    StmtPtr parse_if(const Token& kw) {
        auto s = stmt(StmtKind::If, kw);
        next();
        while (true) {
            Branch b;
            b.cond = parse_tuple(false);
            expect(Tok::BlockEnd, "'%}'");
            std::string found;
            b.body = parse_body({"elif", "else", "endif"}, found, kw);
            s->branches.push_back(std::move(b));
            if (found == "elif") continue;
            if (found == "else") {
                expect(Tok::BlockEnd, "'%}'");
                s->else_body = parse_body({"endif"}, found, kw);
            }
            expect(Tok::BlockEnd, "'%}'");
            return s;
        }
    }

    std::vector<std::string> parse_targets() {
        std::vector<std::string> names;
        bool paren = is_op("(");
        if (paren) next();
        names.push_back(expect_name());
        while (is_op(",")) {
            next();
            if (cur().type != Tok::Name || is_name("in")) break;
            names.push_back(expect_name());
        }
        if (paren) expect_op(")");
        return names;
    }

    StmtPtr parse_for(const Token& kw) {
        auto s = stmt(StmtKind::For, kw);
        next();
        s->targets = parse_targets();
        if (!is_name("in")) fail("expected 'in' in for loop, found " + describe(cur()));
        next();
        s->expr = parse_tuple(false);
        if (is_name("if")) {
            next();
            s->filter = parse_expression(true);
        }
        if (is_name("recursive")) fail("recursive for loops are not supported");
        expect(Tok::BlockEnd, "'%}'");
        ++loop_depth_;
        std::string found;
        s->body = parse_body({"else", "endfor"}, found, kw);
        --loop_depth_;
        if (found == "else") {
            expect(Tok::BlockEnd, "'%}'");
            s->else_body = parse_body({"endfor"}, found, kw);
        }
        expect(Tok::BlockEnd, "'%}'");
        return s;
    }

    StmtPtr parse_set(const Token& kw) {
        auto s = stmt(StmtKind::Set, kw);
        next();
        if (cur().type == Tok::Name && peek().type == Tok::Op && peek().text == ".") {
            s->targets.push_back(expect_name());
            next();
            s->attr = expect_name();
        } else {
            s->targets = parse_targets();
        }
        if (is_op("=")) {
            next();
            s->expr = parse_tuple(true);
            expect(Tok::BlockEnd, "'%}'");
            return s;
        }
        if (cur().type == Tok::BlockEnd && s->attr.empty() && s->targets.size() == 1) {
            next();
            s->kind = StmtKind::SetBlock;
            std::string found;
            s->body = parse_body({"endset"}, found, kw);
            expect(Tok::BlockEnd, "'%}'");
            return s;
        }
        fail("expected '=' in set, found " + describe(cur()));
    }

    StmtPtr parse_macro(const Token& kw) {
        auto s = stmt(StmtKind::Macro, kw);
        next();
        s->name = expect_name();
        expect_op("(");
        while (!is_op(")")) {
            if (!s->params.empty()) expect_op(",");
            if (is_op(")")) break;
            s->params.push_back(expect_name());
            if (is_op("=")) {
                next();
                s->defaults.push_back(parse_expression(true));
            } else {
                s->defaults.push_back(nullptr);
            }
        }
        next();
        expect(Tok::BlockEnd, "'%}'");
        int saved = loop_depth_;
        loop_depth_ = 0;  // break/continue cannot cross a macro boundary
        std::string found;
        s->body = parse_body({"endmacro"}, found, kw);
        loop_depth_ = saved;
        if (cur().type == Tok::Name) next();  // {% endmacro name %}
        expect(Tok::BlockEnd, "'%}'");
        return s;
    }

    // ----- expressions -----------------------------------------------------
    bool at_tuple_end() const {
        return cur().type == Tok::VarEnd || cur().type == Tok::BlockEnd || is_op(")") || cur().type == Tok::Eof;
    }

    ExprPtr parse_tuple(bool with_condexpr) {
        const Token at = cur();
        ExprPtr first = parse_expression(with_condexpr);
        if (!is_op(",")) return first;
        auto tup = node(ExprKind::List, at);
        tup->is_tuple = true;
        tup->args.push_back(std::move(first));
        while (is_op(",")) {
            next();
            if (at_tuple_end()) break;
            tup->args.push_back(parse_expression(with_condexpr));
        }
        return sealed(std::move(tup));
    }

    ExprPtr parse_expression(bool with_condexpr) { return with_condexpr ? parse_condexpr() : parse_or(); }

    ExprPtr parse_condexpr() {
        DepthGuard guard(*this);
        ExprPtr e = parse_or();
        while (is_name("if")) {
            const Token at = cur();
            next();
            auto c = node(ExprKind::Cond, at);
            c->args.push_back(std::move(e));
            c->args.push_back(parse_or());
            if (is_name("else")) {
                next();
                c->args.push_back(parse_condexpr());
            } else {
                c->args.push_back(nullptr);
            }
            e = sealed(std::move(c));
        }
        return e;
    }

    ExprPtr binary(const std::string& op, ExprPtr a, ExprPtr b, const Token& at) {
        auto e = node(ExprKind::Binary, at);
        e->name = op;
        e->args.push_back(std::move(a));
        e->args.push_back(std::move(b));
        return sealed(std::move(e));
    }

    ExprPtr parse_or() {
        ExprPtr e = parse_and();
        while (is_name("or")) {
            const Token at = cur();
            next();
            e = binary("or", std::move(e), parse_and(), at);
        }
        return e;
    }

    ExprPtr parse_and() {
        ExprPtr e = parse_not();
        while (is_name("and")) {
            const Token at = cur();
            next();
            e = binary("and", std::move(e), parse_not(), at);
        }
        return e;
    }

    ExprPtr parse_not() {
        if (is_name("not")) {
            DepthGuard guard(*this);
            const Token at = cur();
            next();
            auto e = node(ExprKind::Unary, at);
            e->name = "not";
            e->args.push_back(parse_not());
            return sealed(std::move(e));
        }
        return parse_compare();
    }

    ExprPtr parse_compare() {
        const Token at = cur();
        ExprPtr first = parse_math1();
        ExprPtr cmp;
        while (true) {
            std::string op;
            if (cur().type == Tok::Op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                          cur().text == ">" || cur().text == "<=" || cur().text == ">=")) {
                op = cur().text;
                next();
            } else if (is_name("in")) {
                op = "in";
                next();
            } else if (is_name("not") && peek().type == Tok::Name && peek().text == "in") {
                op = "not in";
                next();
                next();
            } else {
                break;
            }
            if (!cmp) {
                cmp = node(ExprKind::Compare, at);
                cmp->args.push_back(std::move(first));
            }
            cmp->ops.push_back(op);
            cmp->args.push_back(parse_math1());
        }
        return cmp ? sealed(std::move(cmp)) : std::move(first);
    }

    ExprPtr parse_math1() {
        ExprPtr e = parse_concat();
        while (is_op("+") || is_op("-")) {
            const Token at = cur();
            next();
            e = binary(at.text, std::move(e), parse_concat(), at);
        }
        return e;
    }

    ExprPtr parse_concat() {
        ExprPtr e = parse_math2();
        while (is_op("~")) {
            const Token at = cur();
            next();
            e = binary("~", std::move(e), parse_math2(), at);
        }
        return e;
    }

    ExprPtr parse_math2() {
        ExprPtr e = parse_pow();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            const Token at = cur();
            next();
            e = binary(at.text, std::move(e), parse_pow(), at);
        }
        return e;
    }

    ExprPtr parse_pow() {
        ExprPtr e = parse_unary(true);
        while (is_op("**")) {
            const Token at = cur();
            next();
            e = binary("**", std::move(e), parse_unary(true), at);
        }
        return e;
    }

    ExprPtr parse_unary(bool with_filter) {
        DepthGuard guard(*this);
        ExprPtr e;
        if (is_op("-") || is_op("+")) {
            const Token at = cur();
            next();
            e = node(ExprKind::Unary, at);
            e->name = at.text;
            e->args.push_back(parse_unary(false));
            e = sealed(std::move(e));
        } else {
            e = parse_primary();
        }
        e = parse_postfix(std::move(e));
        if (with_filter) e = parse_filter_expr(std::move(e));
        return e;
    }

    ExprPtr parse_primary() {
        DepthGuard guard(*this);
        const Token at = cur();
        switch (at.type) {
            case Tok::Name: {
                next();
                auto e = node(ExprKind::Literal, at);
                if (at.text == "true" || at.text == "True") e->literal = Value(true);
                else if (at.text == "false" || at.text == "False") e->literal = Value(false);
                else if (at.text == "none" || at.text == "None") e->literal = Value::none();
                else {
                    e->kind = ExprKind::Name;
                    e->name = at.text;
                }
                return e;
            }
            case Tok::String: {
                std::string s;
                while (cur().type == Tok::String) {  // 'a' 'b' is 'ab', as in Python
                    s += cur().text;
                    next();
                }
                auto e = node(ExprKind::Literal, at);
                e->literal = Value(std::move(s));
                return e;
            }
            case Tok::Int: {
                next();
                auto e = node(ExprKind::Literal, at);
                e->literal = Value(at.int_value);
                return e;
            }
            case Tok::Float: {
                next();
                auto e = node(ExprKind::Literal, at);
                e->literal = Value(at.float_value);
                return e;
            }
            case Tok::Op: {
                if (at.text == "(") {
                    next();
                    if (is_op(")")) {
                        next();
                        auto e = node(ExprKind::List, at);
                        e->is_tuple = true;
                        return e;
                    }
                    ExprPtr e = parse_tuple(true);
                    expect_op(")");
                    return e;
                }
                if (at.text == "[") {
                    next();
                    auto e = node(ExprKind::List, at);
                    while (!is_op("]")) {
                        if (!e->args.empty()) expect_op(",");
                        if (is_op("]")) break;
                        e->args.push_back(parse_expression(true));
                    }
                    next();
                    return sealed(std::move(e));
                }
                if (at.text == "{") {
                    next();
                    auto e = node(ExprKind::Dict, at);
                    while (!is_op("}")) {
                        if (!e->args.empty()) expect_op(",");
                        if (is_op("}")) break;
                        e->args.push_back(parse_expression(true));
                        expect_op(":");
                        e->args.push_back(parse_expression(true));
                    }
                    next();
                    return sealed(std::move(e));
                }
                break;
            }
            default: break;
        }
        fail("unexpected " + describe(at) + " in expression");
    }

    void parse_call_args(Expr& call) {
        expect_op("(");
        bool first = true;
        while (!is_op(")")) {
            if (!first) expect_op(",");
            first = false;
            if (is_op(")")) break;
            if (is_op("*") || is_op("**")) fail("*args and **kwargs in calls are not supported");
            if (cur().type == Tok::Name && peek().type == Tok::Op && peek().text == "=") {
                call.kwnames.push_back(cur().text);
                next();
                next();
                call.kwargs.push_back(parse_expression(true));
            } else {
                if (!call.kwnames.empty()) fail("positional argument after keyword argument");
                call.args.push_back(parse_expression(true));
            }
        }
        next();
    }

    ExprPtr parse_postfix(ExprPtr e) {
        while (true) {
            const Token at = cur();
            if (is_op(".")) {
                next();
                if (cur().type == Tok::Name) {
                    auto a = node(ExprKind::Attr, at);
                    a->name = cur().text;
                    a->args.push_back(std::move(e));
                    e = sealed(std::move(a));
                    next();
                } else if (cur().type == Tok::Int) {  // l.0 is l[0]
                    auto it = node(ExprKind::Item, at);
                    auto k = node(ExprKind::Literal, cur());
                    k->literal = Value(cur().int_value);
                    it->args.push_back(std::move(e));
                    it->args.push_back(std::move(k));
                    e = sealed(std::move(it));
                    next();
                } else {
                    fail("expected an attribute name after '.', found " + describe(cur()));
                }
            } else if (is_op("[")) {
                next();
                e = sealed(parse_subscript(std::move(e), at));
            } else if (is_op("(")) {
                auto c = node(ExprKind::Call, at);
                c->args.push_back(std::move(e));
                parse_call_args(*c);
                e = sealed(std::move(c));
            } else {
                return e;
            }
        }
    }

    ExprPtr parse_subscript(ExprPtr obj, const Token& at) {
        ExprPtr parts[3];
        bool is_slice = false;
        if (!is_op(":")) parts[0] = parse_expression(true);
        if (is_op(":")) {
            is_slice = true;
            next();
            if (!is_op("]") && !is_op(":")) parts[1] = parse_expression(true);
            if (is_op(":")) {
                next();
                if (!is_op("]")) parts[2] = parse_expression(true);
            }
        }
        if (is_op(",")) fail("tuple subscripts are not supported");
        expect_op("]");
        auto e = node(is_slice ? ExprKind::Slice : ExprKind::Item, at);
        e->args.push_back(std::move(obj));
        if (is_slice)
            for (auto& p : parts) e->args.push_back(std::move(p));
        else
            e->args.push_back(std::move(parts[0]));
        return e;
    }

    ExprPtr parse_filter_expr(ExprPtr e) {
        while (true) {
            const Token at = cur();
            if (is_op("|")) {
                next();
                const Token name_tok = cur();
                std::string name = expect_name();
                if (!is_known_filter(name)) fail("unknown filter '" + name + "'", name_tok);
                auto f = node(ExprKind::Filter, name_tok);
                f->name = name;
                f->args.push_back(std::move(e));
                if (is_op("(")) parse_call_args(*f);
                e = sealed(std::move(f));
            } else if (is_name("is")) {
                next();
                bool negated = false;
                if (is_name("not")) {
                    negated = true;
                    next();
                }
                const Token name_tok = cur();
                std::string name;
                if (cur().type == Tok::Name) {
                    name = cur().text;
                    next();
                } else if (cur().type == Tok::Op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                                     cur().text == ">" || cur().text == "<=" || cur().text == ">=")) {
                    name = cur().text;
                    next();
                } else {
                    fail("expected a test name after 'is', found " + describe(cur()));
                }
                if (!is_known_test(name)) fail("unknown test '" + name + "'", name_tok);
                auto t = node(ExprKind::Test, name_tok);
                t->name = name;
                t->negated = negated;
                t->args.push_back(std::move(e));
                if (is_op("(")) {
                    parse_call_args(*t);
                } else if ((cur().type == Tok::Name || cur().type == Tok::String || cur().type == Tok::Int ||
                            cur().type == Tok::Float || is_op("[") || is_op("{")) &&
                           !(is_name("else") || is_name("or") || is_name("and") || is_name("if") || is_name("in") ||
                             is_name("is") || is_name("not"))) {
                    // `x is divisibleby 3`: one argument without parentheses
                    t->args.push_back(parse_postfix(parse_primary()));
                }
                e = sealed(std::move(t));
            } else if (is_op("(")) {
                auto c = node(ExprKind::Call, at);
                c->args.push_back(std::move(e));
                parse_call_args(*c);
                e = sealed(std::move(c));
            } else {
                return e;
            }
        }
    }

    std::vector<Token> t_;
    size_t i_ = 0;
    int depth_ = 0;
    int loop_depth_ = 0;
};

}  // namespace

std::unique_ptr<Template> parse_template(const std::string& source) {
    Parser p(lex(source));
    return p.run();
}

}  // namespace eg::jinja
