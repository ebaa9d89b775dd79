// The checks every request body goes through, whichever API it speaks
// (openai_api.*, anthropic_api.*): the body's size and JSON, and the typed
// reading of its fields, each failure an ApiError (400, invalid_request_error)
// naming the field. One implementation, so both APIs refuse alike.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/openai_api.h"

namespace eg::server::checks {

using json = nlohmann::ordered_json;

ApiError bad(std::string message, std::string param = {}, std::string code = {});
const char* type_name(const json& v);
ApiError wrong_type(const std::string& param, const char* want, const json& got);
bool in(const std::string& key, std::initializer_list<const char*> keys);

// The body within Limits::max_body_bytes (else 413) and a JSON object.
std::optional<ApiError> parse_body(std::string_view text, const Limits& limits, json& out);
// A number in [lo, hi] (absent or null: unset, the default stays).
std::optional<ApiError> number(const json& body, const char* key, double lo, double hi, double& out);
std::optional<ApiError> boolean(const json& body, const char* key, bool& out);
// An integer max_tokens-like field in [1, Limits::max_tokens].
std::optional<ApiError> token_cap(const json& body, const char* key, const Limits& limits, int64_t& out);
// Stop sequences: a string or an array of strings, within the caps.
std::optional<ApiError> stop_sequences(const json& body, const char* key, const Limits& limits,
                                       std::vector<std::string>& out);
// 1 to 64 letters, digits, '_' or '-'.
bool tool_name_ok(const std::string& n);

}  // namespace eg::server::checks
