// A model's own chat template (the GGUF's tokenizer.chat_template, Jinja)
// turned into the prompt text, rendered as Hugging Face transformers renders
// it with jinja2, byte for byte; ChatML stands in for models without one.
#pragma once

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace eg {

namespace jinja {
struct Template;
}

struct ChatMessage {
    std::string role;
    std::string content;
};

struct ChatTemplateOptions {
    // strftime_now() (Llama 3.x, Mistral Small, Granite) formats this moment;
    // unset means the local time at render, as transformers does.
    std::optional<std::tm> now;
    size_t max_output_bytes = size_t{8} << 20;  // a template that writes more fails
    uint64_t max_steps = 1'000'000;               // statements run + loop iterations
};

class ChatTemplate {
public:
    // Syntax errors name line:column ("chat template line 3, column 12: unknown filter 'foo'").
    static Result<ChatTemplate> parse(std::string source);

    Result<std::string> render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                               const std::string& bos_token, const std::string& eos_token) const;

    // The whole context as a JSON object: "messages" (which may carry
    // tool_calls etc.), "add_generation_prompt", "bos_token", "eos_token",
    // and anything else the template reads (tools, date_string,
    // enable_thinking, ...). Key order is kept, as Python dicts keep it.
    Result<std::string> render_context(const nlohmann::ordered_json& context) const;

    void set_options(const ChatTemplateOptions& options) { options_ = options; }
    const ChatTemplateOptions& options() const { return options_; }
    const std::string& source() const { return source_; }

private:
    std::string source_;
    std::shared_ptr<const jinja::Template> tmpl_;
    ChatTemplateOptions options_;
};

// ChatML, used only when a model carries no template.
std::string chatml_template_source();

}  // namespace eg
