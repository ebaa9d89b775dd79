#include "server/anthropic_api.h"

#include "server/request_checks.h"

namespace eg::server {

using json = nlohmann::ordered_json;
using namespace checks;

json anthropic_error_json(const ApiError& e) {
    const char* type = "api_error";
    switch (e.http_status) {
        case 400: type = "invalid_request_error"; break;
        case 401: type = "authentication_error"; break;
        case 403: type = "permission_error"; break;
        case 404: type = "not_found_error"; break;
        case 405: type = "invalid_request_error"; break;
        case 413: type = "request_too_large"; break;
        case 429: type = "rate_limit_error"; break;
        case 503:
        case 529: type = "overloaded_error"; break;
        default: type = e.http_status < 500 ? "invalid_request_error" : "api_error"; break;
    }
    return json{{"type", "error"}, {"error", {{"type", type}, {"message", e.message}}}};
}

namespace {

// One {"type":"text","text":...} block's text, added to out.
std::optional<ApiError> text_of_block(const json& b, const std::string& q, std::string& out) {
    if (!b.is_object()) return wrong_type(q, "an object", b);
    if (b.value("type", "") != "text")
        return bad(q + ": blocks of type " + b.value("type", json()).dump() +
                       " are not supported here; this model reads text only.",
                   q + ".type");
    for (auto f = b.begin(); f != b.end(); ++f)
        if (!in(f.key(), {"type", "text", "cache_control", "citations"}))
            return bad(q + "." + f.key() + ": Extra inputs are not permitted.", q + "." + f.key());
    auto t = b.find("text");
    if (t == b.end() || !t->is_string()) return wrong_type(q + ".text", "a string", t == b.end() ? json() : *t);
    out += t->get<std::string>();
    return std::nullopt;
}

// The text of a string or of text blocks (system, a tool_result's content).
std::optional<ApiError> block_text(const json& c, const std::string& p, std::string& out) {
    if (c.is_string()) {
        out = c.get<std::string>();
        return std::nullopt;
    }
    if (!c.is_array()) return wrong_type(p, "a string or an array of text blocks", c);
    for (size_t i = 0; i < c.size(); ++i)
        if (auto e = text_of_block(c[i], p + "[" + std::to_string(i) + "]", out)) return e;
    return std::nullopt;
}

// One message's blocks into the OpenAI-shaped messages tools.h renders:
// a user's tool_result blocks become tool messages (in order, before its
// text), an assistant's tool_use blocks its tool_calls.
std::optional<ApiError> add_message(const json& m, const std::string& p, json& out) {
    if (!m.is_object()) return wrong_type(p, "an object", m);
    for (auto f = m.begin(); f != m.end(); ++f)
        if (!in(f.key(), {"role", "content"}))
            return bad(p + "." + f.key() + ": Extra inputs are not permitted.", p + "." + f.key());
    auto role = m.find("role");
    if (role == m.end()) return bad(p + ".role: Field required.", p + ".role");
    if (!role->is_string() || !in(role->get<std::string>(), {"user", "assistant"}))
        return bad(p + ".role: Input should be 'user' or 'assistant', got " + role->dump() + ".", p + ".role");
    const std::string r = role->get<std::string>();
    auto c = m.find("content");
    if (c == m.end()) return bad(p + ".content: Field required.", p + ".content");
    if (c->is_string()) {
        out.push_back({{"role", r}, {"content", c->get<std::string>()}});
        return std::nullopt;
    }
    if (!c->is_array()) return wrong_type(p + ".content", "a string or an array of content blocks", *c);
    if (c->empty()) return bad(p + ".content: a message needs at least one content block.", p + ".content");
    std::string text;
    bool has_text = false;
    json calls = json::array();
    for (size_t i = 0; i < c->size(); ++i) {
        const json& b = (*c)[i];
        const std::string q = p + ".content[" + std::to_string(i) + "]";
        if (!b.is_object()) return wrong_type(q, "an object", b);
        auto t = b.find("type");
        if (t == b.end() || !t->is_string()) return bad(q + ".type: Field required.", q + ".type");
        const std::string type = t->get<std::string>();
        auto allow = [&](std::initializer_list<const char*> keys) -> std::optional<ApiError> {
            for (auto f = b.begin(); f != b.end(); ++f)
                if (!in(f.key(), keys)) return bad(q + "." + f.key() + ": Extra inputs are not permitted.", q + "." + f.key());
            return std::nullopt;
        };
        if (type == "text") {
            if (auto e = text_of_block(b, q, text)) return e;
            has_text = true;
        } else if (type == "tool_use") {
            if (r != "assistant") return bad(q + ": tool_use blocks belong to assistant messages.", q + ".type");
            if (auto e = allow({"type", "id", "name", "input", "cache_control"})) return e;
            if (!b.contains("id") || !b["id"].is_string()) return bad(q + ".id: Field required (a string).", q + ".id");
            if (!b.contains("name") || !b["name"].is_string()) return bad(q + ".name: Field required (a string).", q + ".name");
            if (!b.contains("input") || !b["input"].is_object()) return wrong_type(q + ".input", "an object", b.value("input", json()));
            calls.push_back({{"id", b["id"]},
                             {"type", "function"},
                             {"function", {{"name", b["name"]}, {"arguments", b["input"].dump()}}}});
        } else if (type == "tool_result") {
            if (r != "user") return bad(q + ": tool_result blocks belong to user messages.", q + ".type");
            if (auto e = allow({"type", "tool_use_id", "content", "is_error", "cache_control"})) return e;
            auto id = b.find("tool_use_id");
            if (id == b.end() || !id->is_string()) return bad(q + ".tool_use_id: Field required (a string).", q + ".tool_use_id");
            std::string result;
            if (auto rc = b.find("content"); rc != b.end() && !rc->is_null())
                if (auto e = block_text(*rc, q + ".content", result)) return e;
            bool is_error = false;
            if (auto e = boolean(b, "is_error", is_error)) return e;
            if (is_error) result = "Error: " + result;
            out.push_back({{"role", "tool"}, {"tool_call_id", *id}, {"content", result}});
        } else {
            return bad(q + ": content blocks of type " + t->dump() + " are not supported; this model reads text only.",
                       q + ".type");
        }
    }
    if (r == "assistant") {
        json msg = {{"role", "assistant"}, {"content", calls.empty() || has_text ? json(text) : json()}};
        if (!calls.empty()) msg["tool_calls"] = calls;
        out.push_back(std::move(msg));
    } else if (has_text) {
        out.push_back({{"role", "user"}, {"content", text}});
    }
    return std::nullopt;
}

std::optional<ApiError> parse_tools(const json& body, CompletionRequest& out) {
    if (auto it = body.find("tools"); it != body.end() && !it->is_null()) {
        if (!it->is_array()) return wrong_type("tools", "an array", *it);
        if (it->size() > 128) return bad("tools: at most 128 tools.", "tools");
        for (size_t i = 0; i < it->size(); ++i) {
            const json& t = (*it)[i];
            const std::string p = "tools[" + std::to_string(i) + "]";
            if (!t.is_object()) return wrong_type(p, "an object", t);
            if (t.contains("type") && t["type"] != "custom")
                return bad(p + ".type: " + t["type"].dump() + " is one of Anthropic's server tools; this server runs client tools only.",
                           p + ".type");
            for (auto f = t.begin(); f != t.end(); ++f)
                if (!in(f.key(), {"type", "name", "description", "input_schema", "cache_control"}))
                    return bad(p + "." + f.key() + ": Extra inputs are not permitted.", p + "." + f.key());
            if (!t.contains("name") || !t["name"].is_string() || !tool_name_ok(t["name"].get<std::string>()))
                return bad(p + ".name: must be 1 to 64 letters, digits, '_' or '-'.", p + ".name");
            if (t.contains("description") && !t["description"].is_string())
                return wrong_type(p + ".description", "a string", t["description"]);
            if (!t.contains("input_schema")) return bad(p + ".input_schema: Field required.", p + ".input_schema");
            if (!t["input_schema"].is_object()) return wrong_type(p + ".input_schema", "an object", t["input_schema"]);
            json fn = {{"name", t["name"]}};
            if (t.contains("description")) fn["description"] = t["description"];
            fn["parameters"] = t["input_schema"];
            out.tools.push_back({{"type", "function"}, {"function", fn}});
        }
    }
    out.tool_choice = out.tools.empty() ? ToolChoice::None : ToolChoice::Auto;
    auto it = body.find("tool_choice");
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_object()) return wrong_type("tool_choice", "an object", *it);
    for (auto f = it->begin(); f != it->end(); ++f)
        if (!in(f.key(), {"type", "name", "disable_parallel_tool_use"}))
            return bad("tool_choice." + f.key() + ": Extra inputs are not permitted.", "tool_choice." + f.key());
    bool single = false;
    if (auto e = boolean(*it, "disable_parallel_tool_use", single)) return e;
    const std::string type = it->value("type", json()).is_string() ? (*it)["type"].get<std::string>() : "";
    if (type == "none") out.tool_choice = ToolChoice::None;
    else if (type == "auto") out.tool_choice = ToolChoice::Auto;
    else if (type == "any") out.tool_choice = ToolChoice::Required;
    else if (type == "tool") {
        if (!it->contains("name") || !(*it)["name"].is_string())
            return bad("tool_choice.name: Field required when tool_choice.type is \"tool\".", "tool_choice.name");
        out.tool_choice = ToolChoice::Named;
        out.tool_name = (*it)["name"].get<std::string>();
    } else {
        return bad("tool_choice.type: expected \"auto\", \"any\", \"tool\" or \"none\", got " +
                       it->value("type", json()).dump() + ".",
                   "tool_choice.type");
    }
    if (out.tool_choice != ToolChoice::None && out.tools.empty())
        return bad("tool_choice: a tool_choice other than none needs 'tools'.", "tool_choice");
    if (out.tool_choice == ToolChoice::Named) {
        bool found = false;
        for (const auto& t : out.tools) found = found || t["function"]["name"] == out.tool_name;
        if (!found) return bad("tool_choice names '" + out.tool_name + "', which is not among the tools.", "tool_choice.name");
    }
    return std::nullopt;
}

}  // namespace

std::optional<ApiError> parse_messages_request(std::string_view text, const Limits& limits, CompletionRequest& out,
                                               bool count_tokens) {
    out = CompletionRequest{};
    out.endpoint = Endpoint::Messages;
    json body;
    if (auto e = parse_body(text, limits, body)) return e;
    for (auto f = body.begin(); f != body.end(); ++f)
        if (count_tokens ? !in(f.key(), {"model", "messages", "system", "tools", "tool_choice"})
                         : !in(f.key(), {"model", "messages", "system", "max_tokens", "temperature", "top_p", "top_k",
                                         "stop_sequences", "stream", "tools", "tool_choice", "metadata"}))
            return bad(f.key() + ": Extra inputs are not permitted (this server does not support it).", f.key());

    auto model = body.find("model");
    if (model == body.end()) return bad("model: Field required.", "model");
    if (!model->is_string()) return wrong_type("model", "a string", *model);
    out.model = model->get<std::string>();

    if (count_tokens) {
        out.max_tokens = 1;  // the prompt alone is counted; it must leave room for a token
    } else {
        if (!body.contains("max_tokens") || body["max_tokens"].is_null())
            return bad("max_tokens: Field required.", "max_tokens");
        if (auto e = token_cap(body, "max_tokens", limits, out.max_tokens)) return e;
    }

    auto msgs = body.find("messages");
    if (msgs == body.end()) return bad("messages: Field required.", "messages");
    if (!msgs->is_array()) return wrong_type("messages", "an array", *msgs);
    if (msgs->empty()) return bad("messages: at least one message is required.", "messages");
    if (msgs->size() > limits.max_messages)
        return bad("messages: " + std::to_string(msgs->size()) + " messages; this server takes at most " +
                       std::to_string(limits.max_messages) + ".",
                   "messages");
    if (auto s = body.find("system"); s != body.end() && !s->is_null()) {
        std::string system;
        if (auto e = block_text(*s, "system", system)) return e;
        if (!system.empty()) out.raw_messages.push_back({{"role", "system"}, {"content", system}});
    }
    for (size_t i = 0; i < msgs->size(); ++i)
        if (auto e = add_message((*msgs)[i], "messages[" + std::to_string(i) + "]", out.raw_messages)) return e;
    if (auto e = parse_tools(body, out)) return e;
    // As OpenAI's chat: without a template that reads tools, calls and tools are text.
    out.messages = text_messages(out.raw_messages, out.tool_choice == ToolChoice::None ? json::array() : out.tools);

    // Anthropic's ranges: temperature 0 to 1, default 1; top_p and top_k off unless given.
    if (auto e = number(body, "temperature", 0.0, 1.0, out.temperature)) return e;
    if (auto e = number(body, "top_p", 0.0, 1.0, out.top_p)) return e;
    if (auto it = body.find("top_k"); it != body.end() && !it->is_null()) {
        if (!it->is_number_integer()) return wrong_type("top_k", "an integer", *it);
        const int64_t k = it->get<int64_t>();
        if (k < 0 || k > (int64_t{1} << 20)) return bad("top_k: must be between 0 and 1048576, got " + it->dump() + ".", "top_k");
        out.top_k = k;
    }
    if (auto it = body.find("stop_sequences"); it != body.end() && !it->is_null() && !it->is_array())
        return wrong_type("stop_sequences", "an array of strings", *it);
    if (auto e = stop_sequences(body, "stop_sequences", limits, out.stop)) return e;
    if (auto e = boolean(body, "stream", out.stream)) return e;
    if (auto it = body.find("metadata"); it != body.end() && !it->is_null()) {
        if (!it->is_object()) return wrong_type("metadata", "an object", *it);
        for (auto f = it->begin(); f != it->end(); ++f)
            if (f.key() != "user_id") return bad("metadata." + f.key() + ": Extra inputs are not permitted.", "metadata");
        if (auto u = it->find("user_id"); u != it->end() && !u->is_null() && !u->is_string())
            return wrong_type("metadata.user_id", "a string", *u);
    }
    return std::nullopt;
}

std::string anthropic_stop_reason(const std::string& finish_reason, const std::string& stop_sequence, bool tool_use) {
    if (tool_use) return "tool_use";
    if (finish_reason == "length") return "max_tokens";
    if (!stop_sequence.empty()) return "stop_sequence";
    return "end_turn";
}

json text_block(const std::string& text) { return json{{"type", "text"}, {"text", text}}; }

json tool_use_block(const std::string& id, const ToolCall& call, bool empty_input) {
    json input = json::object();
    if (!empty_input) {
        input = json::parse(call.arguments, nullptr, false);
        if (input.is_discarded() || !input.is_object()) input = json::object();
    }
    return json{{"type", "tool_use"}, {"id", id}, {"name", call.name}, {"input", input}};
}

namespace {
json nullable(const std::string& s) { return s.empty() ? json() : json(s); }
json usage(const Usage& u) { return json{{"input_tokens", u.prompt_tokens}, {"output_tokens", u.completion_tokens}}; }
}  // namespace

json message_json(const ReplyIds& ids, const json& content, const std::string& stop_reason,
                  const std::string& stop_sequence, const Usage& u) {
    return json{{"id", ids.id},
                {"type", "message"},
                {"role", "assistant"},
                {"model", ids.model},
                {"content", content},
                {"stop_reason", nullable(stop_reason)},
                {"stop_sequence", nullable(stop_sequence)},
                {"usage", usage(u)}};
}

json message_start_event(const ReplyIds& ids, int64_t input_tokens) {
    return json{{"type", "message_start"}, {"message", message_json(ids, json::array(), "", "", Usage{input_tokens, 0})}};
}
json block_start_event(size_t index, const json& block) {
    return json{{"type", "content_block_start"}, {"index", index}, {"content_block", block}};
}
json text_delta_event(size_t index, const std::string& text) {
    return json{{"type", "content_block_delta"}, {"index", index}, {"delta", {{"type", "text_delta"}, {"text", text}}}};
}
json input_json_delta_event(size_t index, const std::string& partial_json) {
    return json{{"type", "content_block_delta"},
                {"index", index},
                {"delta", {{"type", "input_json_delta"}, {"partial_json", partial_json}}}};
}
json block_stop_event(size_t index) { return json{{"type", "content_block_stop"}, {"index", index}}; }
json message_delta_event(const std::string& stop_reason, const std::string& stop_sequence, const Usage& u) {
    return json{{"type", "message_delta"},
                {"delta", {{"stop_reason", nullable(stop_reason)}, {"stop_sequence", nullable(stop_sequence)}}},
                {"usage", usage(u)}};
}
json message_stop_event() { return json{{"type", "message_stop"}}; }
json ping_event() { return json{{"type", "ping"}}; }

}  // namespace eg::server
