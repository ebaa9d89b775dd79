#include "runtime/chat_session.h"

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

Result<GenerationResult> ChatSession::send(const std::string& user_text, const GenerateOptions& opt,
                                           const PieceFn& on_piece,
                                           const std::function<void(const std::string&)>& on_notice) {
    std::vector<ChatMessage> msgs = messages_;
    msgs.push_back({"user", user_text});

    // Room for the reply: max_tokens, but at most half the context.
    const int64_t reserve = std::min<int64_t>(opt.max_tokens > 0 ? opt.max_tokens : s_.n_ctx() / 4, s_.n_ctx() / 2);
    auto prompt = render_tokens(msgs);
    if (!prompt) return prompt.error();
    size_t dropped = 0;
    while ((int64_t)prompt.value().size() + reserve > s_.n_ctx()) {
        // Drop the oldest turn after the system prompt; never the new message.
        const size_t first = (!msgs.empty() && msgs.front().role == "system") ? 1 : 0;
        if (msgs.size() - first <= 1) {
            return Error{"the message is too long for the context: " + std::to_string(prompt.value().size()) +
                         " tokens plus " + std::to_string(reserve) + " for the reply exceed " +
                         std::to_string(s_.n_ctx())};
        }
        // Remove a user message and the assistant reply that follows it.
        size_t n = 1;
        if (first + 1 < msgs.size() - 1 && msgs[first + 1].role == "assistant") n = 2;
        msgs.erase(msgs.begin() + first, msgs.begin() + first + n);
        dropped += n;
        prompt = render_tokens(msgs);
        if (!prompt) return prompt.error();
    }
    if (dropped > 0) {
        const std::string note = "The conversation is longer than the context (" + std::to_string(s_.n_ctx()) +
                                 " tokens): the " + std::to_string(dropped) + " oldest messages were left out.";
        EG_LOG_INFO("{}", note);
        if (on_notice) on_notice(note);
    }

    auto res = generate(s_, prompt.value(), opt, on_piece);
    if (!res) return res.error();
    msgs.push_back({"assistant", res.value().text});
    messages_ = std::move(msgs);
    return res;
}

}  // namespace eg
