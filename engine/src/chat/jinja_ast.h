// The syntax tree of a parsed template: expressions and statements, each
// carrying the line and column it came from so render errors can name them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "chat/jinja_value.h"

namespace eg::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
    Literal,   // literal
    Name,      // name
    List,      // args = items (tuple flag in is_tuple)
    Dict,      // args = key, value, key, value ...
    Attr,      // args[0].name
    Item,      // args[0][args[1]]
    Slice,     // args[0][args[1]:args[2]:args[3]] (any of 1..3 may be null)
    Call,      // args[0](args[1..], kwargs)
    Filter,    // args[0] | name(args[1..], kwargs)
    Test,      // args[0] is [not] name(args[1..])
    Unary,     // name = "-", "+", "not"; args[0]
    Binary,    // name = operator; args[0], args[1] (and/or short-circuit)
    Compare,   // args[0] ops[0] args[1] ops[1] args[2] ...
    Cond,      // args[0] if args[1] else args[2] (args[2] may be null)
};

struct Expr {
    ExprKind kind = ExprKind::Literal;
    int line = 0;
    int col = 0;
    Value literal;
    std::string name;
    std::vector<ExprPtr> args;
    std::vector<std::string> kwnames;
    std::vector<ExprPtr> kwargs;
    std::vector<std::string> ops;  // Compare
    bool is_tuple = false;         // List
    bool negated = false;          // Test
    int depth = 1;                 // height of this subtree (bounded by the parser)
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class StmtKind {
    Text,      // text
    Output,    // {{ expr }}
    If,        // branches (cond, body); else_body
    For,       // targets in expr [if filter]: body [else else_body]
    Set,       // targets = expr, or attr_target: targets[0].name = expr
    SetBlock,  // {% set targets[0] %}body{% endset %}
    Macro,     // name(params=defaults): body
    Break,
    Continue,
};

struct Branch {
    ExprPtr cond;
    Body body;
};

struct Stmt {
    StmtKind kind = StmtKind::Text;
    int line = 0;
    int col = 0;
    std::string text;
    ExprPtr expr;
    ExprPtr filter;
    std::vector<std::string> targets;
    std::string attr;  // Set on a namespace attribute: {% set ns.attr = ... %}
    std::vector<Branch> branches;
    Body body;
    Body else_body;
    std::string name;  // Macro
    std::vector<std::string> params;
    std::vector<ExprPtr> defaults;  // one per param, null when none
};

struct Template {
    Body body;
};

}  // namespace eg::jinja
