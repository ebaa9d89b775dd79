// The OpenAI API's requests and replies as this server speaks them: request
// bodies parsed and checked into typed requests (every wrong type, unknown
// field or value past a cap is an ApiError with OpenAI's error shape, never
// an exception), and the reply objects built from what the engine produced.
// Plain C++ over nlohmann-json; the HTTP side is api_server.*.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "server/tools.h"

namespace eg::server {

// {"error":{"message","type","param","code"}} with an HTTP status.
struct ApiError {
    ApiError(int status, std::string msg, std::string error_type = "invalid_request_error", std::string parameter = {},
             std::string error_code = {})
        : http_status(status), message(std::move(msg)), type(std::move(error_type)), param(std::move(parameter)),
          code(std::move(error_code)) {}
    int http_status = 400;
    std::string message;
    std::string type = "invalid_request_error";
    std::string param;  // "" = null
    std::string code;   // "" = null
};
nlohmann::ordered_json error_json(const ApiError& e);

// What one request may ask for; past any of them the request gets a 400
// (the body: 413) saying which.
struct Limits {
    size_t max_body_bytes = size_t{1} << 20;  // 1 MiB of JSON
    size_t max_messages = 256;
    int64_t max_tokens = 4096;                // max_tokens at most
    size_t max_stop_sequences = 4;            // as OpenAI
    size_t max_stop_bytes = 256;              // each
    int queue_limit = 16;                     // requests waiting or running; more get a 429
};

// Messages: Anthropic's POST /v1/messages (anthropic_api.h), served by the
// same queue and engine as OpenAI's two.
enum class Endpoint { ChatCompletions = 1, Completions, Messages };
// 0, 1, 2: the endpoint's row in ServerCounters::requests.
inline int endpoint_index(Endpoint e) { return (int)e - 1; }

// One completion request, checked: the chat messages or the prompt, and the
// sampling as OpenAI defines it (temperature 1, top_p 1, no top-k/min-p;
// Anthropic's requests may set top_k).
struct CompletionRequest {
    Endpoint endpoint = Endpoint::ChatCompletions;
    std::string model;
    std::vector<ChatMessage> messages;  // chat
    std::string prompt;                 // completions
    double temperature = 1.0;
    double top_p = 1.0;
    int64_t top_k = 0;                  // 0: off
    double presence_penalty = 0.0, frequency_penalty = 0.0;
    int64_t max_tokens = 0;             // set by parse: the request's, else the endpoint's default
    std::optional<uint64_t> seed;
    std::vector<std::string> stop;
    std::vector<std::pair<int32_t, float>> logit_bias;  // token id, bias added to its logit
    bool stream = false;
    bool include_usage = false;         // stream_options.include_usage
    // response_format: json_object (any JSON object) or json_schema (the
    // schema's subset that runtime/json_constraint.h enforces).
    bool json_reply = false;
    nlohmann::ordered_json json_schema;  // null: any object
    // Tool calls (chat): the messages as given (roles normalized, text parts
    // joined), the tools, and what the model may do with them.
    nlohmann::ordered_json raw_messages = nlohmann::ordered_json::array();
    nlohmann::ordered_json tools = nlohmann::ordered_json::array();
    ToolChoice tool_choice = ToolChoice::None;
    std::string tool_name;  // ToolChoice::Named
};

// Parses a request body for the endpoint. n_vocab bounds logit_bias's ids.
std::optional<ApiError> parse_request(Endpoint endpoint, std::string_view body, const Limits& limits,
                                      int32_t n_vocab, CompletionRequest& out);

// What the engine made of one request.
struct Usage {
    int64_t prompt_tokens = 0, completion_tokens = 0;
};
nlohmann::ordered_json usage_json(const Usage& u);

// "stop" (end of generation or a stop sequence) or "length".
struct ReplyIds {
    std::string id;  // chatcmpl-… / cmpl-…
    int64_t created = 0;  // Unix seconds
    std::string model;
};

// A whole reply (stream: false).
nlohmann::ordered_json completion_json(Endpoint endpoint, const ReplyIds& ids, const std::string& text,
                               const std::string& finish_reason, const Usage& usage);
// One streamed chunk: a role (chat's first chunk), a piece of text, or the
// finish reason (finish_reason non-empty, no text). with_usage_field adds
// "usage": null, as OpenAI does when the client asked for usage.
nlohmann::ordered_json chunk_json(Endpoint endpoint, const ReplyIds& ids, const std::string* role, const std::string& text,
                          const std::string& finish_reason, bool with_usage_field);
// The last chunk when stream_options.include_usage: no choices, the usage.
nlohmann::ordered_json usage_chunk_json(Endpoint endpoint, const ReplyIds& ids, const Usage& usage);

// GET /v1/models for the one model this server serves.
nlohmann::ordered_json models_json(const std::string& model_id, int64_t created);

}  // namespace eg::server
