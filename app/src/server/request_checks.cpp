#include "server/request_checks.h"

#include <cctype>
#include <cmath>

namespace eg::server::checks {

ApiError bad(std::string message, std::string param, std::string code) {
    return ApiError{400, std::move(message), "invalid_request_error", std::move(param), std::move(code)};
}

const char* type_name(const json& v) {
    switch (v.type()) {
        case json::value_t::null: return "null";
        case json::value_t::boolean: return "a boolean";
        case json::value_t::string: return "a string";
        case json::value_t::array: return "an array";
        case json::value_t::object: return "an object";
        default: return "a number";
    }
}

ApiError wrong_type(const std::string& param, const char* want, const json& got) {
    return bad("Invalid type for '" + param + "': expected " + want + ", but got " + type_name(got) + ".", param,
               "invalid_type");
}

bool in(const std::string& key, std::initializer_list<const char*> keys) {
    for (const char* k : keys)
        if (key == k) return true;
    return false;
}

std::optional<ApiError> parse_body(std::string_view text, const Limits& limits, json& out) {
    if (text.size() > limits.max_body_bytes) {
        ApiError e = bad("The request body is " + std::to_string(text.size()) + " bytes; this server takes at most " +
                             std::to_string(limits.max_body_bytes) + ".",
                         {}, "request_too_large");
        e.http_status = 413;
        return e;
    }
    out = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (out.is_discarded())
        return bad("We could not parse the JSON body of your request. The body must be valid JSON.", {}, "invalid_json");
    if (!out.is_object()) return bad("The request body must be a JSON object, not " + std::string(type_name(out)) + ".");
    return std::nullopt;
}

std::optional<ApiError> number(const json& body, const char* key, double lo, double hi, double& out) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_number()) return wrong_type(key, "a number", *it);
    const double v = it->get<double>();
    if (!std::isfinite(v) || v < lo || v > hi) {
        // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict, a false
        // positive) on the chain of operator+ this was.
        std::string message = "'";
        message.append(key).append("' must be between ").append(json(lo).dump());
        message.append(" and ").append(json(hi).dump()).append(", got ").append(it->dump()).append(".");
        return bad(message, key, "invalid_value");
    }
    out = v;
    return std::nullopt;
}

std::optional<ApiError> boolean(const json& body, const char* key, bool& out) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_boolean()) return wrong_type(key, "a boolean", *it);
    out = it->get<bool>();
    return std::nullopt;
}

std::optional<ApiError> token_cap(const json& body, const char* key, const Limits& limits, int64_t& out) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer()) return wrong_type(key, "an integer", *it);
    const int64_t v = it->get<int64_t>();
    if (v < 1) return bad("'" + std::string(key) + "' must be at least 1, got " + it->dump() + ".", key, "invalid_value");
    if (v > limits.max_tokens)
        return bad("'" + std::string(key) + "' is " + it->dump() + "; this server allows at most " +
                       std::to_string(limits.max_tokens) + ".",
                   key, "invalid_value");
    out = v;
    return std::nullopt;
}

std::optional<ApiError> stop_sequences(const json& body, const char* key, const Limits& limits,
                                       std::vector<std::string>& out) {
    const std::string k = key;
    auto it = body.find(k);
    if (it == body.end() || it->is_null()) return std::nullopt;
    std::vector<std::string> v;
    if (it->is_string()) {
        v.push_back(it->get<std::string>());
    } else if (it->is_array()) {
        for (size_t i = 0; i < it->size(); ++i) {
            if (!(*it)[i].is_string()) return wrong_type(k + "[" + std::to_string(i) + "]", "a string", (*it)[i]);
            v.push_back((*it)[i].get<std::string>());
        }
    } else {
        return wrong_type(k, "a string or an array of strings", *it);
    }
    if (v.size() > limits.max_stop_sequences)
        return bad("'" + k + "' holds " + std::to_string(v.size()) + " sequences; at most " +
                       std::to_string(limits.max_stop_sequences) + " are allowed.",
                   k, "invalid_value");
    for (const auto& s : v)
        if (s.size() > limits.max_stop_bytes)
            return bad("A stop sequence is " + std::to_string(s.size()) + " bytes long; at most " +
                           std::to_string(limits.max_stop_bytes) + " are allowed.",
                       k, "invalid_value");
    out = std::move(v);
    return std::nullopt;
}

bool tool_name_ok(const std::string& n) {
    if (n.empty() || n.size() > 64) return false;
    for (char c : n)
        if (!(std::isalnum((unsigned char)c) || c == '_' || c == '-')) return false;
    return true;
}

}  // namespace eg::server::checks
