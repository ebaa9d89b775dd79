#include "server/tools.h"

#include "runtime/json_constraint.h"

namespace eg::server {

using json = nlohmann::ordered_json;

namespace {

// A call's arguments as an object when they parse, else the text as given.
json arguments_value(const json& args) {
    if (!args.is_string()) return args;
    json v = json::parse(args.get<std::string>(), nullptr, false);
    return v.is_discarded() ? args : v;
}

std::string call_text(const json& call) {
    const json& f = call.value("function", json::object());
    json c = {{"name", f.value("name", "")}, {"arguments", arguments_value(f.value("arguments", json::object()))}};
    return "<tool_call>\n" + c.dump(-1, ' ', false, json::error_handler_t::replace) + "\n</tool_call>";
}

std::string tools_prompt(const json& tools) {
    std::string s =
        "You may call functions to answer. To call one, reply with only\n<tool_call>\n"
        "{\"name\": <function name>, \"arguments\": <arguments as a JSON object>}\n</tool_call>\n"
        "The functions you may call:\n<tools>\n";
    for (const auto& t : tools) s += t.value("function", json::object()).dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    return s + "</tools>";
}

bool known_tool(const json& tools, const std::string& name) {
    for (const auto& t : tools)
        if (t.value("function", json::object()).value("name", "") == name) return true;
    return false;
}

// A call object {"name", "arguments"|"parameters"} naming a known tool.
bool as_call(const json& v, const json& tools, ToolCall& out) {
    if (!v.is_object() || !v.contains("name") || !v["name"].is_string()) return false;
    const std::string name = v["name"].get<std::string>();
    if (!known_tool(tools, name)) return false;
    json args = v.contains("arguments") ? v["arguments"] : v.value("parameters", json::object());
    if (args.is_string()) args = arguments_value(args);
    if (!args.is_object()) return false;
    out = ToolCall{name, args.dump(-1, ' ', false, json::error_handler_t::replace)};
    return true;
}

std::string trim(const std::string& s) {
    const size_t a = s.find_first_not_of(" \t\r\n");
    if (a == std::string::npos) return {};
    return s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
}

}  // namespace

json template_messages(const json& messages) {
    json out = json::array();
    for (const auto& m : messages) {
        json c = m;
        if (c.contains("content") && c["content"].is_null()) c["content"] = "";
        if (c.contains("tool_calls")) {
            for (auto& call : c["tool_calls"])
                if (call.contains("function") && call["function"].contains("arguments"))
                    call["function"]["arguments"] = arguments_value(call["function"]["arguments"]);
        }
        out.push_back(std::move(c));
    }
    return out;
}

std::vector<ChatMessage> text_messages(const json& messages, const json& tools) {
    std::vector<ChatMessage> out;
    for (const auto& m : messages) {
        const std::string role = m.value("role", "user");
        std::string content = m.contains("content") && m["content"].is_string() ? m["content"].get<std::string>() : "";
        if (role == "assistant" && m.contains("tool_calls")) {
            for (const auto& call : m["tool_calls"]) {
                if (!content.empty()) content += '\n';
                content += call_text(call);
            }
            out.push_back({"assistant", content});
        } else if (role == "tool") {
            out.push_back({"user", "<tool_response>\n" + content + "\n</tool_response>"});
        } else {
            out.push_back({role, content});
        }
    }
    if (!tools.empty()) {
        const std::string prompt = tools_prompt(tools);
        if (!out.empty() && out.front().role == "system") out.front().content += "\n\n" + prompt;
        else out.insert(out.begin(), ChatMessage{"system", prompt});
    }
    return out;
}

ParsedReply parse_tool_calls(const std::string& text, const json& tools) {
    ParsedReply r;
    static const std::string open = "<tool_call>", close = "</tool_call>";
    size_t pos = 0;
    std::string rest;
    while (true) {
        const size_t a = text.find(open, pos);
        if (a == std::string::npos) break;
        const size_t b = text.find(close, a + open.size());
        const std::string body = text.substr(a + open.size(), b == std::string::npos ? std::string::npos : b - a - open.size());
        ToolCall call;
        const json v = json::parse(trim(body), nullptr, false);
        if (!v.is_discarded() && as_call(v, tools, call)) {
            r.calls.push_back(std::move(call));
            rest += text.substr(pos, a - pos);
        } else {
            rest += text.substr(pos, (b == std::string::npos ? text.size() : b + close.size()) - pos);
        }
        if (b == std::string::npos) {
            pos = text.size();
            break;
        }
        pos = b + close.size();
    }
    rest += text.substr(std::min(pos, text.size()));
    if (r.calls.empty()) {
        // A reply that is a call object and nothing else (forced calls, Llama 3.1's form).
        ToolCall call;
        const json v = json::parse(trim(text), nullptr, false);
        if (!v.is_discarded() && as_call(v, tools, call)) {
            r.calls.push_back(std::move(call));
            rest.clear();
        }
    }
    r.content = r.calls.empty() ? text : trim(rest);
    return r;
}

json forced_call_schema(const json& tools, const std::string& name) {
    json names = json::array();
    const json* only = nullptr;
    for (const auto& t : tools) {
        const json& f = t.value("function", json::object());
        const std::string n = f.value("name", "");
        if (!name.empty() && n != name) continue;
        names.push_back(n);
        only = &t;
    }
    json args = {{"type", "object"}};
    if (names.size() == 1 && only) {
        const json& f = (*only)["function"];
        if (f.contains("parameters") && f["parameters"].is_object() && eg::check_json_schema(f["parameters"]).empty())
            args = f["parameters"];
    }
    return json{{"type", "object"}, {"properties", {{"name", {{"enum", names}}}, {"arguments", args}}}};
}

}  // namespace eg::server
