// Tool calls (OpenAI's `tools`, `tool_choice`, assistant `tool_calls` and
// `tool` messages) for a model's own template: the messages as a template
// that reads `tools` wants them, or, for a template that does not, as text
// in the widespread Hermes form (the tools described in the system message,
// calls as <tool_call>{"name": ..., "arguments": {...}}</tool_call>, results
// as <tool_response>); and a reply parsed back into tool calls.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"

namespace eg::server {

enum class ToolChoice { None = 1, Auto, Required, Named };

// For a template that reads `tools`: the messages with each call's
// arguments as an object (templates write them with tojson), content null
// kept as "".
nlohmann::ordered_json template_messages(const nlohmann::ordered_json& messages);

// For a template that does not: plain role/content messages, the tools
// (when any) described in the system message.
std::vector<ChatMessage> text_messages(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools);

struct ToolCall {
    std::string name;
    std::string arguments;  // JSON text of an object
};
struct ParsedReply {
    std::string content;    // the text outside the calls
    std::vector<ToolCall> calls;
};
// Finds <tool_call>{...}</tool_call> blocks, or a reply that is just such an
// object, naming one of the tools; anything else stays content.
ParsedReply parse_tool_calls(const std::string& text, const nlohmann::ordered_json& tools);

// The JSON schema a forced call is sampled under: {"name": one of the
// tools (or the named one), "arguments": its parameters' schema when the
// matcher can enforce it and there is one tool to choose, else any object}.
nlohmann::ordered_json forced_call_schema(const nlohmann::ordered_json& tools, const std::string& name);

}  // namespace eg::server
