#include "runtime/chat_session.h"

#include <algorithm>

#include "core/log.h"

namespace eg {

Result<std::unique_ptr<ChatSession>> ChatSession::create(Session& session) {
    const Model& m = session.model();
    std::string src;
    if (m.chat_template()) {
        src = *m.chat_template();
    } else {
        EG_LOG_WARN("{} has no chat template; using ChatML", m.file().path());
        src = chatml_template_source();
    }
    auto t = ChatTemplate::parse(src);
    if (!t) return Error{m.file().path() + ": tokenizer.chat_template: " + t.message()};
    return std::unique_ptr<ChatSession>(new ChatSession(session, std::move(t.value())));
}

void ChatSession::set_system_prompt(const std::string& text) {
    if (!messages_.empty() && messages_.front().role == "system") {
        if (text.empty()) messages_.erase(messages_.begin());
        else messages_.front().content = text;
    } else if (!text.empty()) {
        messages_.insert(messages_.begin(), ChatMessage{"system", text});
    }
}

void ChatSession::clear() {
    std::vector<ChatMessage> keep;
    if (!messages_.empty() && messages_.front().role == "system") keep.push_back(messages_.front());
    messages_ = std::move(keep);
}

Result<std::vector<int32_t>> ChatSession::render_tokens(const std::vector<ChatMessage>& msgs) const {
    const Tokenizer& tok = s_.model().tokenizer();
    const std::string bos = tok.bos_id() >= 0 ? std::string(tok.token_text(tok.bos_id())) : std::string();
    const std::string eos = tok.eos_id() >= 0 ? std::string(tok.token_text(tok.eos_id())) : std::string();
    auto text = tmpl_.render(msgs, true, bos, eos);
    if (!text) return text.error();
    // The template writes BOS itself when the model wants one; add it only if
    // the rendered text does not already start with it.
    const bool has_bos = !bos.empty() && text.value().rfind(bos, 0) == 0;
    return tok.encode(text.value(), tok.add_bos() && !has_bos, true);
}

Result<std::vector<int32_t>> ChatSession::render_tokens(nlohmann::ordered_json context) const {
    const Tokenizer& tok = s_.model().tokenizer();
    const std::string bos = tok.bos_id() >= 0 ? std::string(tok.token_text(tok.bos_id())) : std::string();
    const std::string eos = tok.eos_id() >= 0 ? std::string(tok.token_text(tok.eos_id())) : std::string();
    context["add_generation_prompt"] = true;
    context["bos_token"] = bos;
    context["eos_token"] = eos;
    auto text = tmpl_.render_context(context);
    if (!text) return text.error();
    const bool has_bos = !bos.empty() && text.value().rfind(bos, 0) == 0;
    return tok.encode(text.value(), tok.add_bos() && !has_bos, true);
}

bool ChatSession::template_takes_tools() const { return tmpl_.source().find("tools") != std::string::npos; }

int64_t reply_room(int64_t max_tokens, int64_t n_ctx) {
    return std::min<int64_t>(max_tokens > 0 ? max_tokens : n_ctx / 4, n_ctx / 2);
}

std::string trimmed_notice(size_t dropped_turns, int64_t n_ctx) {
    if (dropped_turns == 0) return {};
    return "The conversation no longer fits the context (" + std::to_string(n_ctx) + " tokens): " +
           (dropped_turns == 1 ? std::string("the oldest turn was")
                               : "the oldest " + std::to_string(dropped_turns) + " turns were") +
           " left out.";
}

Result<FittedPrompt> ChatSession::fit(std::vector<ChatMessage>& msgs, int64_t max_tokens) const {
    FittedPrompt f;
    const int64_t n_ctx = s_.n_ctx();
    f.reply_room = reply_room(max_tokens, n_ctx);
    auto prompt = render_tokens(msgs);
    if (!prompt) return prompt.error();
    const size_t first = (!msgs.empty() && msgs.front().role == "system") ? 1 : 0;
    while ((int64_t)prompt.value().size() + f.reply_room > n_ctx) {
        if (msgs.size() - first <= 1) {
            return Error{"the message is too long for the context: " + std::to_string(prompt.value().size()) +
                         " tokens plus " + std::to_string(f.reply_room) + " for the reply exceed " +
                         std::to_string(n_ctx)};
        }
        // The oldest turn: a user message and the assistant reply after it
        // (never the newest message).
        size_t n = 1;
        if (first + 1 < msgs.size() - 1 && msgs[first + 1].role == "assistant") n = 2;
        msgs.erase(msgs.begin() + (std::ptrdiff_t)first, msgs.begin() + (std::ptrdiff_t)(first + n));
        ++f.dropped_turns;
        f.dropped_messages += n;
        prompt = render_tokens(msgs);
        if (!prompt) return prompt.error();
    }
    if (f.dropped_turns > 0)
        EG_LOG_INFO("context {} tokens: left out the oldest {} turns ({} messages); prompt {} tokens + {} for the reply",
                    n_ctx, f.dropped_turns, f.dropped_messages, prompt.value().size(), f.reply_room);
    f.tokens = std::move(prompt.value());
    return f;
}

Result<GenerationResult> ChatSession::send(const std::string& user_text, const GenerateOptions& opt,
                                           const PieceFn& on_piece,
                                           const std::function<void(const std::string&)>& on_notice) {
    std::vector<ChatMessage> msgs = messages_;
    msgs.push_back({"user", user_text});
    auto fitted = fit(msgs, opt.max_tokens);
    if (!fitted) return fitted.error();
    if (fitted.value().dropped_turns > 0 && on_notice) on_notice(trimmed_notice(fitted.value().dropped_turns, s_.n_ctx()));

    auto res = generate(s_, fitted.value().tokens, opt, on_piece);
    if (!res) return res.error();
    msgs.push_back({"assistant", res.value().text});
    messages_ = std::move(msgs);
    return res;
}

}  // namespace eg
