// A multi-turn chat on top of a Session: renders the model's chat template
// over the whole conversation, reuses the KV prefix of earlier turns, and
// drops the oldest turns (never the system prompt) when the context fills.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "core/result.h"
#include "runtime/generate.h"
#include "runtime/session.h"

namespace eg {

class ChatSession {
public:
    // Uses the model's template, or ChatML when the model carries none.
    static Result<std::unique_ptr<ChatSession>> create(Session& session);

    void set_system_prompt(const std::string& text);
    const std::vector<ChatMessage>& messages() const { return messages_; }
    void clear();

    // Adds the user's message, generates the reply and appends it.
    // on_notice receives sentences for the user (e.g. turns dropped).
    Result<GenerationResult> send(const std::string& user_text, const GenerateOptions& opt, const PieceFn& on_piece,
                                  const std::function<void(const std::string&)>& on_notice = {});

    // Renders the conversation (with the generation prompt) to tokens.
    Result<std::vector<int32_t>> render_tokens(const std::vector<ChatMessage>& msgs) const;

private:
    ChatSession(Session& s, ChatTemplate t) : s_(s), tmpl_(std::move(t)) {}
    Session& s_;
    ChatTemplate tmpl_;
    std::vector<ChatMessage> messages_;
};

}  // namespace eg
