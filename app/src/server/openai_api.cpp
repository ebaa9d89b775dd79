#include "server/openai_api.h"

#include <cctype>
#include <cmath>
#include <initializer_list>

#include "runtime/json_constraint.h"
#include "server/request_checks.h"

namespace eg::server {

using json = nlohmann::ordered_json;
using namespace checks;

json error_json(const ApiError& e) {
    json err = {{"message", e.message}, {"type", e.type}, {"param", nullptr}, {"code", nullptr}};
    if (!e.param.empty()) err["param"] = e.param;
    if (!e.code.empty()) err["code"] = e.code;
    return json{{"error", err}};
}

namespace {

// The text of a message's content: a string, or text parts.
std::optional<ApiError> content_text(const json& c, const std::string& param, std::string& out) {
    if (c.is_string()) {
        out = c.get<std::string>();
        return std::nullopt;
    }
    if (!c.is_array()) return wrong_type(param, "a string or an array of content parts", c);
    for (size_t i = 0; i < c.size(); ++i) {
        const json& part = c[i];
        const std::string p = param + "[" + std::to_string(i) + "]";
        if (!part.is_object()) return wrong_type(p, "an object", part);
        auto t = part.find("type");
        if (t == part.end() || !t->is_string()) return bad("Missing 'type' in " + p + ".", p + ".type");
        if (*t != "text")
            return bad("Content parts of type " + t->dump() + " are not supported; this model reads text only.",
                       p + ".type", "unsupported_content");
        for (auto it = part.begin(); it != part.end(); ++it)
            if (!in(it.key(), {"type", "text"})) return bad("Unrecognized field '" + it.key() + "' in " + p + ".", p);
        auto tx = part.find("text");
        if (tx == part.end() || !tx->is_string()) return wrong_type(p + ".text", "a string", tx == part.end() ? json() : *tx);
        out += tx->get<std::string>();
    }
    return std::nullopt;
}

std::optional<ApiError> parse_tool_calls_field(const json& calls, const std::string& p) {
    if (!calls.is_array()) return wrong_type(p, "an array", calls);
    for (size_t j = 0; j < calls.size(); ++j) {
        const json& c = calls[j];
        const std::string q = p + "[" + std::to_string(j) + "]";
        if (!c.is_object()) return wrong_type(q, "an object", c);
        for (auto f = c.begin(); f != c.end(); ++f)
            if (!in(f.key(), {"id", "type", "function"})) return bad("Unrecognized field '" + f.key() + "' in " + q + ".", q);
        if (!c.contains("id") || !c["id"].is_string()) return bad("Missing 'id' in " + q + ".", q + ".id");
        if (c.value("type", "") != "function") return bad(q + ".type must be \"function\".", q + ".type", "invalid_value");
        const json& fn = c.value("function", json());
        if (!fn.is_object() || !fn.contains("name") || !fn["name"].is_string())
            return bad("Missing 'function.name' in " + q + ".", q + ".function.name");
        if (!fn.contains("arguments") || !fn["arguments"].is_string())
            return bad(q + ".function.arguments must be a string of JSON.", q + ".function.arguments", "invalid_type");
    }
    return std::nullopt;
}

std::optional<ApiError> parse_messages(const json& body, const Limits& limits, json& out) {
    auto it = body.find("messages");
    if (it == body.end()) return bad("Missing required parameter: 'messages'.", "messages", "missing_required_parameter");
    if (!it->is_array()) return wrong_type("messages", "an array", *it);
    if (it->empty()) return bad("'messages' must hold at least one message.", "messages", "invalid_value");
    if (it->size() > limits.max_messages)
        return bad("'messages' holds " + std::to_string(it->size()) + " messages; this server takes at most " +
                       std::to_string(limits.max_messages) + ".",
                   "messages", "too_many_messages");
    for (size_t i = 0; i < it->size(); ++i) {
        const json& m = (*it)[i];
        const std::string p = "messages[" + std::to_string(i) + "]";
        if (!m.is_object()) return wrong_type(p, "an object", m);
        for (auto f = m.begin(); f != m.end(); ++f)
            if (!in(f.key(), {"role", "content", "name", "tool_calls", "tool_call_id"}))
                return bad("Unrecognized field '" + f.key() + "' in " + p + ".", p + "." + f.key(), "unknown_parameter");
        auto role = m.find("role");
        if (role == m.end()) return bad("Missing 'role' in " + p + ".", p + ".role", "missing_required_parameter");
        if (!role->is_string()) return wrong_type(p + ".role", "a string", *role);
        std::string r = role->get<std::string>();
        if (r == "developer") r = "system";  // OpenAI's newer name for the system role
        if (!in(r, {"system", "user", "assistant", "tool"}))
            return bad("Invalid role " + role->dump() + " in " + p + ": expected system, developer, user, assistant or tool.",
                       p + ".role", "invalid_value");
        auto name = m.find("name");
        if (name != m.end() && !name->is_string()) return wrong_type(p + ".name", "a string", *name);
        json msg = {{"role", r}};
        const bool calls = m.contains("tool_calls") && !m["tool_calls"].is_null();
        if (calls) {
            if (r != "assistant") return bad("Only assistant messages carry 'tool_calls' (" + p + ").", p + ".tool_calls");
            if (auto e = parse_tool_calls_field(m["tool_calls"], p + ".tool_calls")) return e;
        }
        if (r == "tool") {
            auto id = m.find("tool_call_id");
            if (id == m.end() || !id->is_string())
                return bad("A tool message needs its 'tool_call_id' (" + p + ").", p + ".tool_call_id", "missing_required_parameter");
            msg["tool_call_id"] = *id;
        } else if (m.contains("tool_call_id")) {
            return bad("Only tool messages carry 'tool_call_id' (" + p + ").", p + ".tool_call_id");
        }
        auto c = m.find("content");
        std::string text;
        if (c == m.end() || c->is_null()) {
            if (!calls) return bad("Missing 'content' in " + p + ".", p + ".content", "missing_required_parameter");
            msg["content"] = nullptr;
        } else {
            if (auto e = content_text(*c, p + ".content", text)) return e;
            msg["content"] = text;
        }
        if (calls) msg["tool_calls"] = m["tool_calls"];
        out.push_back(std::move(msg));
    }
    return std::nullopt;
}

std::optional<ApiError> parse_tools(const json& body, CompletionRequest& out) {
    if (auto it = body.find("tools"); it != body.end() && !it->is_null()) {
        if (!it->is_array()) return wrong_type("tools", "an array", *it);
        if (it->size() > 128) return bad("'tools' holds more than 128 tools.", "tools", "invalid_value");
        for (size_t i = 0; i < it->size(); ++i) {
            const json& t = (*it)[i];
            const std::string p = "tools[" + std::to_string(i) + "]";
            if (!t.is_object()) return wrong_type(p, "an object", t);
            for (auto f = t.begin(); f != t.end(); ++f)
                if (!in(f.key(), {"type", "function"})) return bad("Unrecognized field '" + f.key() + "' in " + p + ".", p);
            if (t.value("type", "") != "function") return bad(p + ".type must be \"function\".", p + ".type", "invalid_value");
            const json& fn = t.value("function", json());
            if (!fn.is_object()) return bad("Missing 'function' in " + p + ".", p + ".function", "missing_required_parameter");
            for (auto f = fn.begin(); f != fn.end(); ++f)
                if (!in(f.key(), {"name", "description", "parameters", "strict"}))
                    return bad("Unrecognized field '" + f.key() + "' in " + p + ".function.", p + ".function." + f.key());
            if (!fn.contains("name") || !fn["name"].is_string() || !tool_name_ok(fn["name"].get<std::string>()))
                return bad(p + ".function.name must be 1 to 64 letters, digits, '_' or '-'.", p + ".function.name",
                           "invalid_value");
            if (fn.contains("description") && !fn["description"].is_string())
                return wrong_type(p + ".function.description", "a string", fn["description"]);
            if (fn.contains("parameters") && !fn["parameters"].is_object())
                return wrong_type(p + ".function.parameters", "an object", fn["parameters"]);
            out.tools.push_back(t);
        }
    }
    out.tool_choice = out.tools.empty() ? ToolChoice::None : ToolChoice::Auto;
    if (auto it = body.find("tool_choice"); it != body.end() && !it->is_null()) {
        if (it->is_string()) {
            const std::string c = it->get<std::string>();
            if (c == "none") out.tool_choice = ToolChoice::None;
            else if (c == "auto") out.tool_choice = ToolChoice::Auto;
            else if (c == "required") out.tool_choice = ToolChoice::Required;
            else return bad("Invalid tool_choice " + it->dump() + ": expected none, auto, required or a function.",
                            "tool_choice", "invalid_value");
        } else if (it->is_object()) {
            const json& fn = it->value("function", json());
            if (it->value("type", "") != "function" || !fn.is_object() || !fn.contains("name") || !fn["name"].is_string())
                return bad("tool_choice must name a function: {\"type\": \"function\", \"function\": {\"name\": ...}}.",
                           "tool_choice", "invalid_value");
            out.tool_choice = ToolChoice::Named;
            out.tool_name = fn["name"].get<std::string>();
        } else {
            return wrong_type("tool_choice", "a string or an object", *it);
        }
        if (out.tool_choice != ToolChoice::None && out.tools.empty())
            return bad("tool_choice needs 'tools'.", "tool_choice", "invalid_value");
        if (out.tool_choice == ToolChoice::Named) {
            bool found = false;
            for (const auto& t : out.tools) found = found || t["function"]["name"] == out.tool_name;
            if (!found) return bad("tool_choice names '" + out.tool_name + "', which is not among the tools.", "tool_choice",
                                   "invalid_value");
        }
    }
    if (auto it = body.find("parallel_tool_calls"); it != body.end() && !it->is_null() && !it->is_boolean())
        return wrong_type("parallel_tool_calls", "a boolean", *it);
    return std::nullopt;
}

std::optional<ApiError> parse_logit_bias(const json& body, int32_t n_vocab,
                                         std::vector<std::pair<int32_t, float>>& out) {
    auto it = body.find("logit_bias");
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_object()) return wrong_type("logit_bias", "an object", *it);
    if (it->size() > 1024) return bad("'logit_bias' holds more than 1024 tokens.", "logit_bias", "invalid_value");
    for (auto f = it->begin(); f != it->end(); ++f) {
        const std::string& key = f.key();
        size_t used = 0;
        long long id = -1;
        try {
            id = std::stoll(key, &used);
        } catch (...) {
            used = 0;
        }
        if (used != key.size() || key.empty() || id < 0 || id >= n_vocab)
            return bad("'logit_bias' key '" + key + "' is not a token id of this model (0 to " +
                           std::to_string(n_vocab - 1) + ").",
                       "logit_bias", "invalid_value");
        if (!f->is_number()) return wrong_type("logit_bias." + key, "a number", *f);
        const double b = f->get<double>();
        if (!std::isfinite(b) || b < -100 || b > 100)
            return bad("'logit_bias' values must be between -100 and 100.", "logit_bias", "invalid_value");
        out.emplace_back((int32_t)id, (float)b);
    }
    return std::nullopt;
}

}  // namespace

std::optional<ApiError> parse_request(Endpoint endpoint, std::string_view text, const Limits& limits, int32_t n_vocab,
                                      CompletionRequest& out) {
    out = CompletionRequest{};
    out.endpoint = endpoint;
    json body;
    if (auto e = parse_body(text, limits, body)) return e;

    const bool chat = endpoint == Endpoint::ChatCompletions;
    for (auto f = body.begin(); f != body.end(); ++f) {
        const std::string& k = f.key();
        const bool known = chat ? in(k, {"model", "messages", "temperature", "top_p", "max_tokens", "max_completion_tokens",
                                         "stop", "seed", "stream", "stream_options", "n", "presence_penalty",
                                         "frequency_penalty", "logit_bias", "user", "logprobs", "response_format",
                                         "tools", "tool_choice", "parallel_tool_calls"})
                                : in(k, {"model", "prompt", "temperature", "top_p", "max_tokens", "stop", "seed", "stream",
                                         "stream_options", "n", "presence_penalty", "frequency_penalty", "logit_bias",
                                         "user", "echo", "logprobs", "best_of", "suffix"});
        if (!known) {
            if (chat && in(k, {"functions", "function_call"}))
                return bad("'" + k + "' is OpenAI's retired form of tool calls: use 'tools' and 'tool_choice'.", k,
                           "unsupported_parameter");
            return bad("Unrecognized request argument supplied: " + k, k, "unknown_parameter");
        }
    }

    auto model = body.find("model");
    if (model == body.end()) return bad("Missing required parameter: 'model'.", "model", "missing_required_parameter");
    if (!model->is_string()) return wrong_type("model", "a string", *model);
    out.model = model->get<std::string>();

    if (chat) {
        if (auto e = parse_messages(body, limits, out.raw_messages)) return e;
        if (auto e = parse_tools(body, out)) return e;
        // Without a template that reads tools, the calls and tools are text.
        out.messages = text_messages(out.raw_messages,
                                     out.tool_choice == ToolChoice::None ? json::array() : out.tools);
    } else {
        auto p = body.find("prompt");
        if (p == body.end()) return bad("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter");
        if (p->is_string()) out.prompt = p->get<std::string>();
        else if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) out.prompt = (*p)[0].get<std::string>();
        else return wrong_type("prompt", "a string", *p);
        if (out.prompt.empty()) return bad("'prompt' is empty.", "prompt", "invalid_value");
    }

    if (auto e = number(body, "temperature", 0.0, 2.0, out.temperature)) return e;
    if (auto e = number(body, "top_p", 0.0, 1.0, out.top_p)) return e;
    if (auto e = number(body, "presence_penalty", -2.0, 2.0, out.presence_penalty)) return e;
    if (auto e = number(body, "frequency_penalty", -2.0, 2.0, out.frequency_penalty)) return e;

    // max_tokens: chat replies run to the server's cap by default; legacy
    // completions default to 16 tokens, as OpenAI's do.
    out.max_tokens = chat ? limits.max_tokens : std::min<int64_t>(16, limits.max_tokens);
    for (const char* key : {"max_tokens", "max_completion_tokens"})
        if (auto e = token_cap(body, key, limits, out.max_tokens)) return e;

    if (auto it = body.find("seed"); it != body.end() && !it->is_null()) {
        if (!it->is_number_integer()) return wrong_type("seed", "an integer", *it);
        out.seed = it->is_number_unsigned() ? it->get<uint64_t>() : (uint64_t)it->get<int64_t>();
    }
    if (auto e = stop_sequences(body, "stop", limits, out.stop)) return e;
    if (auto e = parse_logit_bias(body, n_vocab, out.logit_bias)) return e;
    if (auto e = boolean(body, "stream", out.stream)) return e;

    if (auto it = body.find("stream_options"); it != body.end() && !it->is_null()) {
        if (!it->is_object()) return wrong_type("stream_options", "an object", *it);
        if (!out.stream) return bad("'stream_options' is only allowed when 'stream' is true.", "stream_options", "invalid_value");
        for (auto f = it->begin(); f != it->end(); ++f)
            if (f.key() != "include_usage")
                return bad("Unrecognized field '" + f.key() + "' in stream_options.", "stream_options." + f.key(),
                           "unknown_parameter");
        if (auto e = boolean(*it, "include_usage", out.include_usage)) return e;
    }
    if (auto it = body.find("n"); it != body.end() && !it->is_null()) {
        if (!it->is_number_integer()) return wrong_type("n", "an integer", *it);
        if (it->get<int64_t>() != 1) return bad("Only n = 1 is supported.", "n", "unsupported_value");
    }
    if (auto it = body.find("best_of"); it != body.end() && !it->is_null()) {
        if (!it->is_number_integer()) return wrong_type("best_of", "an integer", *it);
        if (it->get<int64_t>() != 1) return bad("Only best_of = 1 is supported.", "best_of", "unsupported_value");
    }
    if (auto it = body.find("user"); it != body.end() && !it->is_null() && !it->is_string())
        return wrong_type("user", "a string", *it);
    if (auto it = body.find("echo"); it != body.end() && !it->is_null()) {
        if (!it->is_boolean()) return wrong_type("echo", "a boolean", *it);
        if (it->get<bool>()) return bad("'echo' is not supported.", "echo", "unsupported_value");
    }
    if (auto it = body.find("suffix"); it != body.end() && !it->is_null())
        return bad("'suffix' is not supported.", "suffix", "unsupported_value");
    if (auto it = body.find("logprobs"); it != body.end() && !it->is_null()) {
        if (!(it->is_boolean() && !it->get<bool>()) && !(it->is_number_integer() && it->get<int64_t>() == 0))
            return bad("'logprobs' is not supported.", "logprobs", "unsupported_value");
    }
    if (auto it = body.find("response_format"); it != body.end() && !it->is_null()) {
        if (!it->is_object()) return wrong_type("response_format", "an object", *it);
        auto t = it->find("type");
        if (t == it->end() || !t->is_string())
            return bad("'response_format' needs a 'type'.", "response_format.type", "missing_required_parameter");
        for (auto f = it->begin(); f != it->end(); ++f)
            if (!in(f.key(), {"type", "json_schema"}))
                return bad("Unrecognized field '" + f.key() + "' in response_format.", "response_format." + f.key(),
                           "unknown_parameter");
        if (*t == "json_object") {
            out.json_reply = true;
        } else if (*t == "json_schema") {
            auto js = it->find("json_schema");
            if (js == it->end() || !js->is_object())
                return bad("response_format json_schema needs a 'json_schema' object.", "response_format.json_schema",
                           "missing_required_parameter");
            for (auto f = js->begin(); f != js->end(); ++f)
                if (!in(f.key(), {"name", "description", "schema", "strict"}))
                    return bad("Unrecognized field '" + f.key() + "' in response_format.json_schema.",
                               "response_format.json_schema." + f.key(), "unknown_parameter");
            auto name = js->find("name");
            if (name == js->end() || !name->is_string())
                return bad("response_format.json_schema needs a 'name'.", "response_format.json_schema.name",
                           "missing_required_parameter");
            auto schema = js->find("schema");
            if (schema != js->end() && !schema->is_null()) {
                if (std::string why = check_json_schema(*schema); !why.empty())
                    return bad("This server cannot enforce that schema: " + why + ".", "response_format.json_schema.schema",
                               "unsupported_schema");
                out.json_schema = *schema;
            }
            out.json_reply = true;
        } else if (*t != "text") {
            return bad("Invalid response_format type " + t->dump() + ": expected text, json_object or json_schema.",
                       "response_format.type", "invalid_value");
        }
    }
    return std::nullopt;
}

json usage_json(const Usage& u) {
    return json{{"prompt_tokens", u.prompt_tokens},
                {"completion_tokens", u.completion_tokens},
                {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

namespace {
json head(Endpoint endpoint, const ReplyIds& ids, bool chunk) {
    const bool chat = endpoint == Endpoint::ChatCompletions;
    return json{{"id", ids.id},
                {"object", chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion"},
                {"created", ids.created},
                {"model", ids.model},
                {"system_fingerprint", nullptr}};
}
json reason(const std::string& finish_reason) { return finish_reason.empty() ? json() : json(finish_reason); }
}  // namespace

json completion_json(Endpoint endpoint, const ReplyIds& ids, const std::string& text, const std::string& finish_reason,
                     const Usage& usage) {
    json j = head(endpoint, ids, false);
    json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", reason(finish_reason)}};
    if (endpoint == Endpoint::ChatCompletions) choice["message"] = {{"role", "assistant"}, {"content", text}};
    else choice["text"] = text;
    j["choices"] = json::array({choice});
    j["usage"] = usage_json(usage);
    return j;
}

json chunk_json(Endpoint endpoint, const ReplyIds& ids, const std::string* role, const std::string& text,
                const std::string& finish_reason, bool with_usage_field) {
    json j = head(endpoint, ids, true);
    json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", reason(finish_reason)}};
    if (endpoint == Endpoint::ChatCompletions) {
        json delta = json::object();
        if (role) delta["role"] = *role;
        if (role || !text.empty()) delta["content"] = text;
        choice["delta"] = delta;
    } else {
        choice["text"] = text;
    }
    j["choices"] = json::array({choice});
    if (with_usage_field) j["usage"] = nullptr;
    return j;
}

json usage_chunk_json(Endpoint endpoint, const ReplyIds& ids, const Usage& usage) {
    json j = head(endpoint, ids, true);
    j["choices"] = json::array();
    j["usage"] = usage_json(usage);
    return j;
}

json models_json(const std::string& model_id, int64_t created) {
    json data = json::array();
    if (!model_id.empty())
        data.push_back({{"id", model_id}, {"object", "model"}, {"created", created}, {"owned_by", "engram-desktop"}});
    return json{{"object", "list"}, {"data", data}};
}

}  // namespace eg::server
