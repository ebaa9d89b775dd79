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

// A conversation rendered to fit the context: what fit() returns.
struct FittedPrompt {
    std::vector<int32_t> tokens;  // the prompt, with the generation prompt
    int64_t reply_room = 0;       // tokens kept free for the reply
    size_t dropped_turns = 0;     // oldest turns left out (a user message and its reply are one)
    size_t dropped_messages = 0;
};

// Room a reply keeps in the context: max_tokens (a quarter of the context
// when 0 = no limit), at most half the context.
int64_t reply_room(int64_t max_tokens, int64_t n_ctx);

// The sentence a user sees when turns were left out ("" when none were):
// "The conversation no longer fits the context (2048 tokens): the oldest 3
// turns were left out."
std::string trimmed_notice(size_t dropped_turns, int64_t n_ctx);

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
    // Renders a whole template context (messages with tool calls, tools, ...;
    // see ChatTemplate::render_context) with the generation prompt; bos_token
    // and eos_token are the model's.
    Result<std::vector<int32_t>> render_tokens(nlohmann::ordered_json context) const;
    // Whether the model's template reads `tools` (renders tool definitions itself).
    bool template_takes_tools() const;

    // Renders msgs for a reply of up to max_tokens, leaving out the oldest
    // turns after the system prompt (msgs shrinks in place) until the prompt
    // and the reply's room fit the context. The newest message is never left
    // out: when it alone does not fit, the error says by how much. The one
    // trimming rule of the CLI, send() and the window.
    Result<FittedPrompt> fit(std::vector<ChatMessage>& msgs, int64_t max_tokens) const;

private:
    ChatSession(Session& s, ChatTemplate t) : s_(s), tmpl_(std::move(t)) {}
    Session& s_;
    ChatTemplate tmpl_;
    std::vector<ChatMessage> messages_;
};

}  // namespace eg
