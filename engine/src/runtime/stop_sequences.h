// Stop sequences (OpenAI's `stop`): strings that end a reply when the model
// writes them and are never shown. Text is held back while it could still
// be the start of one, so a streamed reply never shows half a stop sequence.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace eg {

class StopSequences {
public:
    StopSequences() = default;
    explicit StopSequences(std::vector<std::string> stops);

    // Adds a piece of the reply (complete UTF-8) and returns the text that
    // is now safe to show. Once matched() is true the reply has ended: the
    // stop sequence and anything after it are dropped.
    std::string push(std::string_view piece);
    // The text still held back when the reply ended without a match.
    std::string flush();
    bool matched() const { return matched_; }
    // Which stop sequence ended the reply ("" before a match): Anthropic's
    // API names it in the reply.
    const std::string& matched_sequence() const { return which_; }
    bool empty() const { return stops_.empty(); }

private:
    std::vector<std::string> stops_;  // empty strings removed
    std::string held_;
    bool matched_ = false;
    std::string which_;
};

}  // namespace eg
