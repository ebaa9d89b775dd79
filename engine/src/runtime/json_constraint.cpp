#include "runtime/json_constraint.h"

#include "tokenizer/tokenizer.h"

namespace eg {

namespace json_match {

enum class Kind : uint8_t { Any, Object, Array, String, Number, Integer, Boolean, Null, Enum };

struct Prop {
    std::vector<std::string> key;  // the key as written: one literal, "\"name\""
    std::shared_ptr<const Node> node;
};

struct Node {
    Kind kind = Kind::Any;
    bool fixed = false;                   // Object: exactly these properties, in order
    std::vector<Prop> props;
    std::shared_ptr<const Node> items;    // Array: null = any value
    std::vector<std::string> literals;    // Enum: the values as written ("\"red\"")
    int64_t max_items = -1;               // Array: maxItems (-1: none)
    int64_t max_length = -1;              // String: maxLength in characters (-1: none)
};

namespace {

const std::vector<std::string> kBool = {"true", "false"};
const std::vector<std::string> kNull = {"null"};
const std::vector<std::string> kAnyWord = {"true", "false", "null"};
constexpr int kMaxWhitespace = 16;  // a run longer than this is refused: the reply must move on

Result<std::shared_ptr<const Node>> compile(const nlohmann::ordered_json& s, const std::string& path) {
    if (!s.is_object()) return Error{"the schema at " + path + " must be an object"};
    auto n = std::make_shared<Node>();
    for (auto it = s.begin(); it != s.end(); ++it) {
        const std::string& k = it.key();
        static const char* known[] = {"type",  "properties", "required", "items",   "enum",    "const",   "description",
                                      "title", "$schema",    "default",  "examples", "additionalProperties", "strict",
                                      "maxItems", "maxLength"};
        bool ok = false;
        for (const char* kk : known) ok = ok || k == kk;
        if (!ok) return Error{"the schema keyword '" + k + "' (at " + path + ") is not supported"};
    }
    if (auto e = s.find("enum"); e != s.end() || s.contains("const")) {
        std::vector<nlohmann::ordered_json> values;
        if (e != s.end()) {
            if (!e->is_array() || e->empty()) return Error{"'enum' at " + path + " must be a non-empty array"};
            values.assign(e->begin(), e->end());
        } else {
            values.push_back(s["const"]);
        }
        for (const auto& v : values) {
            if (!v.is_string()) return Error{"only string values are supported in 'enum'/'const' (at " + path + ")"};
            n->literals.push_back(v.dump());
        }
        if (n->literals.size() > 64) return Error{"'enum' at " + path + " has more than 64 values"};
        n->kind = Kind::Enum;
        return std::shared_ptr<const Node>(n);
    }
    std::string type;
    if (auto t = s.find("type"); t != s.end()) {
        if (!t->is_string()) return Error{"'type' at " + path + " must be one type name (type lists are not supported)"};
        type = t->get<std::string>();
    } else if (s.contains("properties")) {
        type = "object";
    }
    if (type.empty()) n->kind = Kind::Any;
    else if (type == "object") n->kind = Kind::Object;
    else if (type == "array") n->kind = Kind::Array;
    else if (type == "string") n->kind = Kind::String;
    else if (type == "number") n->kind = Kind::Number;
    else if (type == "integer") n->kind = Kind::Integer;
    else if (type == "boolean") n->kind = Kind::Boolean;
    else if (type == "null") n->kind = Kind::Null;
    else return Error{"unknown type '" + type + "' at " + path};
    if (n->kind == Kind::Object) {
        if (auto p = s.find("properties"); p != s.end()) {
            if (!p->is_object()) return Error{"'properties' at " + path + " must be an object"};
            n->fixed = true;
            for (auto it = p->begin(); it != p->end(); ++it) {
                auto child = compile(it.value(), path + ".properties." + it.key());
                if (!child) return child.error();
                n->props.push_back(Prop{{nlohmann::ordered_json(it.key()).dump()}, child.value()});
            }
        }
    }
    for (const char* key : {"maxItems", "maxLength"}) {
        auto m = s.find(key);
        if (m == s.end()) continue;
        if (!m->is_number_unsigned()) return Error{"'" + std::string(key) + "' at " + path + " must be a whole number"};
        const bool items = std::string(key) == "maxItems";
        if (items != (n->kind == Kind::Array) || (!items && n->kind != Kind::String))
            return Error{"'" + std::string(key) + "' at " + path + " does not fit its type"};
        (items ? n->max_items : n->max_length) = (int64_t)m->get<uint64_t>();
    }
    if (n->kind == Kind::Array) {
        if (auto i = s.find("items"); i != s.end()) {
            auto child = compile(*i, path + ".items");
            if (!child) return child.error();
            n->items = child.value();
        }
    }
    return std::shared_ptr<const Node>(n);
}

bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

}  // namespace
}  // namespace json_match

using json_match::Kind;
using json_match::Node;

struct JsonConstraint::Frame {
    enum class K : uint8_t { Value, Object, Array, String, Number, Literal } k = K::Value;
    const Node* node = nullptr;  // Value/Object/Array: the schema (null: any)
    const std::vector<std::string>* lits = nullptr;  // Literal
    uint64_t cands = 0;   // Literal: candidates still matching
    size_t index = 0;     // Object: property; Literal: characters matched
    int phase = 0;
    int ws = 0;           // the current whitespace run
    bool integer = false; // Number
};

namespace {

using Frame = JsonConstraint::Frame;
using K = Frame::K;

Frame literal(const std::vector<std::string>* lits) {
    Frame f;
    f.k = K::Literal;
    f.lits = lits;
    f.cands = lits->size() >= 64 ? ~uint64_t{0} : ((uint64_t{1} << lits->size()) - 1);
    return f;
}

// One character into the matcher; false when no reply could have it here.
bool step(std::vector<Frame>& st, bool& done, int& trailing_ws, char c) {
    for (;;) {
        if (st.empty()) {
            if (done && json_match::is_ws(c) && ++trailing_ws <= json_match::kMaxWhitespace) return true;
            return false;
        }
        Frame& f = st.back();
        const bool ws = json_match::is_ws(c);
        if (ws && f.k != K::String && f.k != K::Literal && f.k != K::Number) {
            // Whitespace between tokens: allowed, in runs of bounded length.
            return ++f.ws <= json_match::kMaxWhitespace;
        }
        if (f.k != K::String && f.k != K::Literal) f.ws = 0;
        auto pop_value = [&] {
            st.pop_back();
            if (st.empty()) done = true;
        };
        switch (f.k) {
            case K::Value: {
                const Node* n = f.node;
                const Kind kind = n ? n->kind : Kind::Any;
                Frame g;
                g.node = n;
                if (c == '{' && (kind == Kind::Any || kind == Kind::Object)) {
                    g.k = K::Object;
                    f = g;
                    return true;
                }
                if (c == '[' && (kind == Kind::Any || kind == Kind::Array)) {
                    g.k = K::Array;
                    g.node = n && n->kind == Kind::Array ? n : nullptr;
                    f = g;
                    return true;
                }
                if (c == '"' && (kind == Kind::Any || kind == Kind::String)) {
                    g.k = K::String;
                    f = g;
                    return true;
                }
                if ((c == '-' || json_match::is_digit(c)) &&
                    (kind == Kind::Any || kind == Kind::Number || kind == Kind::Integer)) {
                    g.k = K::Number;
                    g.integer = kind == Kind::Integer;
                    f = g;
                    continue;  // the character starts the number
                }
                const std::vector<std::string>* lits = nullptr;
                if (kind == Kind::Enum) lits = &n->literals;
                else if (kind == Kind::Boolean) lits = &json_match::kBool;
                else if (kind == Kind::Null) lits = &json_match::kNull;
                else if (kind == Kind::Any) lits = &json_match::kAnyWord;
                if (!lits) return false;
                f = literal(lits);
                continue;
            }
            case K::Object: {
                const bool fixed = f.node && f.node->fixed;
                switch (f.phase) {
                    case 0:  // after '{'
                    case 4:  // after ','
                        if (c == '}' && f.phase == 0 && (!fixed || f.node->props.empty())) {
                            pop_value();
                            return true;
                        }
                        if (c != '"') return false;
                        f.phase = 1;
                        if (fixed) {
                            if (f.index >= f.node->props.size()) return false;
                            st.push_back(literal(&f.node->props[f.index].key));
                            continue;  // the literal takes the quote
                        }
                        {
                            Frame key;
                            key.k = K::String;
                            st.push_back(key);
                        }
                        return true;
                    case 1:  // after the key
                        if (c != ':') return false;
                        f.phase = 2;
                        return true;
                    case 2: {  // the member's value
                        Frame v;
                        v.node = fixed ? f.node->props[f.index].node.get() : nullptr;
                        f.phase = 3;
                        st.push_back(v);
                        continue;
                    }
                    case 3:  // after a value
                        if (c == ',' && (!fixed || f.index + 1 < f.node->props.size())) {
                            f.index++;
                            f.phase = 4;
                            return true;
                        }
                        if (c == '}' && (!fixed || f.index + 1 == f.node->props.size())) {
                            pop_value();
                            return true;
                        }
                        return false;
                }
                return false;
            }
            case K::Array:
                if (f.phase == 0 && c == ']') {
                    pop_value();
                    return true;
                }
                if (f.phase == 0 || f.phase == 2) {
                    if (f.phase == 0 && f.node && f.node->max_items == 0) return false;
                    Frame v;
                    v.node = f.node ? f.node->items.get() : nullptr;
                    f.phase = 1;
                    f.index++;
                    st.push_back(v);
                    continue;
                }
                if (c == ',' && !(f.node && f.node->max_items >= 0 && (int64_t)f.index >= f.node->max_items)) {
                    f.phase = 2;
                    return true;
                }
                if (c == ']') {
                    pop_value();
                    return true;
                }
                return false;
            case K::String:
                if (f.phase == 0) {
                    if (c == '"') {
                        pop_value();
                        return true;
                    }
                    // maxLength counts characters: UTF-8 continuation bytes are not counted.
                    if (((unsigned char)c & 0xC0) != 0x80) {
                        if (f.node && f.node->max_length >= 0 && (int64_t)f.index >= f.node->max_length) return false;
                        f.index++;
                    }
                    if (c == '\\') f.phase = 1;
                    return (unsigned char)c >= 0x20;
                }
                if (f.phase == 1) {
                    if (c == 'u') {
                        f.phase = 2;
                        return true;
                    }
                    f.phase = 0;
                    return c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't';
                }
                if (!json_match::is_hex(c)) return false;
                f.phase = f.phase == 5 ? 0 : f.phase + 1;
                return true;
            case K::Number: {
                // 0 start, 1 after '-', 2 after a leading 0, 3 integer digits,
                // 4 after '.', 5 fraction digits, 6 after 'e', 7 after its sign, 8 exponent digits.
                const bool d = json_match::is_digit(c);
                int next = -1;
                switch (f.phase) {
                    case 0: next = c == '-' ? 1 : c == '0' ? 2 : d ? 3 : -1; break;
                    case 1: next = c == '0' ? 2 : d ? 3 : -1; break;
                    case 2:
                    case 3:
                        next = (d && f.phase == 3) ? 3 : (c == '.' && !f.integer) ? 4
                                                     : ((c == 'e' || c == 'E') && !f.integer) ? 6 : -1;
                        break;
                    case 4: next = d ? 5 : -1; break;
                    case 5: next = d ? 5 : (c == 'e' || c == 'E') ? 6 : -1; break;
                    case 6: next = (c == '+' || c == '-') ? 7 : d ? 8 : -1; break;
                    case 7: next = d ? 8 : -1; break;
                    case 8: next = d ? 8 : -1; break;
                }
                if (next >= 0) {
                    // Digits per part are bounded (a model could otherwise write
                    // digits until max_tokens): 20 before the point, 20 after, 3 in the exponent.
                    f.index = next == f.phase ? f.index + 1 : 1;
                    if ((next == 3 && f.index > 20) || (next == 5 && f.index > 20) || (next == 8 && f.index > 3)) return false;
                    f.phase = next;
                    return true;
                }
                const bool whole = f.phase == 2 || f.phase == 3 || f.phase == 5 || f.phase == 8;
                if (!whole) return false;
                pop_value();
                if (st.empty()) return false;  // (a top-level number has no end to see)
                if (ws) return ++st.back().ws <= json_match::kMaxWhitespace;
                continue;  // the character belongs to what follows the number
            }
            case K::Literal: {
                uint64_t keep = 0;
                bool whole = false;
                for (size_t i = 0; i < f.lits->size() && i < 64; ++i) {
                    if (!(f.cands >> i & 1)) continue;
                    const std::string& s = (*f.lits)[i];
                    if (f.index < s.size() && s[f.index] == c) {
                        keep |= uint64_t{1} << i;
                        whole = whole || s.size() == f.index + 1;
                    }
                }
                if (!keep) return false;
                f.cands = keep;
                f.index++;
                // Literals here never prefix one another (quoted strings; true/false/null).
                if (whole) pop_value();
                return true;
            }
        }
        return false;
    }
}

}  // namespace

std::string check_json_schema(const nlohmann::ordered_json& schema) {
    if (schema.is_null()) return {};
    auto r = json_match::compile(schema, "$");
    if (!r) return r.message();
    if (r.value()->kind != Kind::Object) return "the schema's root must be an object (\"type\": \"object\")";
    return {};
}

JsonConstraint::JsonConstraint(const Tokenizer& tok, std::shared_ptr<const Node> root) : tok_(tok), root_(std::move(root)) {
    Frame f;
    f.node = root_.get();
    stack_.push_back(f);
}

JsonConstraint::~JsonConstraint() = default;

Result<std::unique_ptr<JsonConstraint>> JsonConstraint::create(const Tokenizer& tok, const nlohmann::ordered_json& schema) {
    std::shared_ptr<const Node> root;
    if (schema.is_null()) {
        auto n = std::make_shared<Node>();
        n->kind = Kind::Object;
        root = n;
    } else {
        if (std::string why = check_json_schema(schema); !why.empty()) return Error{why};
        auto r = json_match::compile(schema, "$");
        if (!r) return r.error();
        root = r.value();
    }
    return std::unique_ptr<JsonConstraint>(new JsonConstraint(tok, std::move(root)));
}

bool JsonConstraint::feed(std::string_view text) {
    for (char c : text)
        if (!step(stack_, done_, trailing_ws_, c)) return false;
    return true;
}

bool JsonConstraint::allows(int32_t token) const {
    if (done_) return false;
    const std::string piece = tok_.token_to_piece(token, false);
    if (piece.empty() || tok_.is_control(token)) return false;
    std::vector<Frame> st = stack_;
    bool done = done_;
    int trailing = trailing_ws_;
    for (char c : piece)
        if (!step(st, done, trailing, c)) return false;
    return true;
}

void JsonConstraint::accept(int32_t token) {
    const std::string piece = tok_.token_to_piece(token, false);
    for (char c : piece)
        if (!step(stack_, done_, trailing_ws_, c)) break;
}

bool JsonConstraint::complete() const { return done_; }

}  // namespace eg
