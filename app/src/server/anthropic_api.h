// Anthropic's Messages API (POST /v1/messages) as this server speaks it: a
// request body checked into the same CompletionRequest the OpenAI endpoints
// make (system, text / tool_use / tool_result blocks and tools become the
// OpenAI-shaped messages and tools that tools.h renders, so one queue, one
// engine job and one tool-call parser serve both), and the replies, stream
// events and errors in Anthropic's shapes. Plain C++ over nlohmann-json; the
// HTTP side is api_server.*.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "server/openai_api.h"

namespace eg::server {

// {"type":"error","error":{"type","message"}}: the type follows the HTTP
// status (400 invalid_request_error, 401 authentication_error, 404
// not_found_error, 413 request_too_large, 429 rate_limit_error, 503
// overloaded_error, 5xx api_error).
nlohmann::ordered_json anthropic_error_json(const ApiError& e);

// Parses a /v1/messages body: model, max_tokens (required), messages,
// system, temperature, top_p, top_k, stop_sequences, stream, tools,
// tool_choice, metadata. Anything else is refused by name. count_tokens:
// a /v1/messages/count_tokens body (model, messages, system, tools,
// tool_choice; no max_tokens).
std::optional<ApiError> parse_messages_request(std::string_view body, const Limits& limits, CompletionRequest& out,
                                               bool count_tokens = false);

// "end_turn", "max_tokens", "stop_sequence" or "tool_use" for what the
// engine said ("stop" / "length", the stop sequence that matched if any).
std::string anthropic_stop_reason(const std::string& finish_reason, const std::string& stop_sequence, bool tool_use);

nlohmann::ordered_json text_block(const std::string& text);
// {"type":"tool_use","id","name","input"}: input is the call's arguments
// (JSON text of an object) as an object; with empty_input, {} (a stream's
// content_block_start, the input following as input_json_delta).
nlohmann::ordered_json tool_use_block(const std::string& id, const ToolCall& call, bool empty_input = false);

// A whole reply (stream: false).
nlohmann::ordered_json message_json(const ReplyIds& ids, const nlohmann::ordered_json& content,
                                    const std::string& stop_reason, const std::string& stop_sequence, const Usage& usage);

// Stream events: each is sent as "event: <type>\ndata: <json>\n\n".
nlohmann::ordered_json message_start_event(const ReplyIds& ids, int64_t input_tokens);
nlohmann::ordered_json block_start_event(size_t index, const nlohmann::ordered_json& block);
nlohmann::ordered_json text_delta_event(size_t index, const std::string& text);
nlohmann::ordered_json input_json_delta_event(size_t index, const std::string& partial_json);
nlohmann::ordered_json block_stop_event(size_t index);
// usage carries input_tokens too: message_start's were not known yet.
nlohmann::ordered_json message_delta_event(const std::string& stop_reason, const std::string& stop_sequence,
                                           const Usage& usage);
nlohmann::ordered_json message_stop_event();
nlohmann::ordered_json ping_event();

}  // namespace eg::server
