// ChatTemplate: parse once, render many times; jinja errors become
// eg::Error sentences naming the template line and column.
#include "chat/chat_template.h"

#include "chat/jinja_interp.h"
#include "chat/jinja_parser.h"

namespace eg {
namespace {

std::string describe(const jinja::TemplateError& e, const char* what) {
    std::string where = e.line > 0 ? "chat template line " + std::to_string(e.line) + ", column " + std::to_string(e.col)
                                   : std::string("chat template");
    if (dynamic_cast<const jinja::RaisedError*>(&e))
        return where + ": the template refused these messages: " + e.what();
    return where + ": " + what + e.what();
}

}  // namespace

Result<ChatTemplate> ChatTemplate::parse(std::string source) {
    ChatTemplate t;
    try {
        t.tmpl_ = jinja::parse_template(source);
    } catch (const jinja::TemplateError& e) {
        return make_error(describe(e, ""));
    } catch (const std::bad_alloc&) {
        return make_error("chat template: out of memory while parsing");
    }
    t.source_ = std::move(source);
    return t;
}

Result<std::string> ChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                         const std::string& bos_token, const std::string& eos_token) const {
    nlohmann::ordered_json ctx;
    ctx["messages"] = nlohmann::ordered_json::array();
    for (const auto& m : messages) {
        nlohmann::ordered_json jm;
        jm["role"] = m.role;
        jm["content"] = m.content;
        ctx["messages"].push_back(std::move(jm));
    }
    ctx["add_generation_prompt"] = add_generation_prompt;
    ctx["bos_token"] = bos_token;
    ctx["eos_token"] = eos_token;
    return render_context(ctx);
}

Result<std::string> ChatTemplate::render_context(const nlohmann::ordered_json& context) const {
    if (!tmpl_) return make_error("chat template: not parsed");
    if (!context.is_object()) return make_error("chat template: the render context must be a JSON object");
    jinja::RenderEnv env;
    env.limits.max_output_bytes = options_.max_output_bytes;
    env.limits.max_steps = options_.max_steps;
    if (options_.now) {
        env.now = *options_.now;
    } else {
        std::time_t t = std::time(nullptr);
        localtime_r(&t, &env.now);
    }
    try {
        std::vector<std::pair<std::string, jinja::Value>> vars;
        for (auto it = context.begin(); it != context.end(); ++it)
            vars.emplace_back(it.key(), jinja::Value::from_json(it.value()));
        return jinja::render_template(*tmpl_, std::move(vars), env);
    } catch (const jinja::TemplateError& e) {
        return make_error(describe(e, ""));
    } catch (const std::bad_alloc&) {
        return make_error("chat template: out of memory while rendering");
    }
}

std::string chatml_template_source() {
    // The ChatML layout (<|im_start|>role\ncontent<|im_end|>\n) that
    // llama.cpp and transformers fall back to.
    return "{% for message in messages %}"
           "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
           "{% endfor %}"
           "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
}

}  // namespace eg
