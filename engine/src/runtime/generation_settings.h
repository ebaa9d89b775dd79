// What the user sets for a reply, typed, with its defaults written once: the
// window's settings drawer, a conversation's saved settings and the engine
// thread all carry this struct (the window converts it to QML's map at its
// edge). The system prompt is a field of its own, not a message.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "runtime/generate.h"

namespace eg {

struct GenerationSettings {
    // As the user sets them (decimal, as shown); the sampler takes floats.
    double temperature = 0.7;     // 0: greedy
    double top_p = 0.95;          // >= 1: off
    int32_t top_k = 40;           // <= 0: off
    double min_p = 0.05;          // <= 0: off
    double repeat_penalty = 1.1;  // 1: off
    int64_t max_tokens = 1024;    // reply length at most; <= 0: until the context is full
    int64_t seed = -1;            // < 0: a new random seed per reply
    std::string system_prompt;    // "": none

    bool operator==(const GenerationSettings&) const = default;

    // The engine's options for one reply; random_seed is used when seed < 0.
    GenerateOptions options(uint64_t random_seed) const {
        GenerateOptions o;
        o.max_tokens = max_tokens;
        o.sampling.temperature = (float)temperature;
        o.sampling.top_p = (float)top_p;
        o.sampling.top_k = top_k;
        o.sampling.min_p = (float)min_p;
        o.sampling.repeat_penalty = (float)repeat_penalty;
        o.sampling.seed = seed >= 0 ? (uint64_t)seed : random_seed;
        return o;
    }
};

// What one reply took, as the window shows and stores it.
struct ReplyStats {
    int64_t prompt_tokens = 0;   // the prompt as fitted to the context
    GenerationStats generation;  // prefilled, reused, generated tokens and rates
    StopReason stop_reason = StopReason::EndOfGeneration;
};

// One reply asked of the engine: the conversation so far, oldest first and
// ending with the user's turn, and the settings it is generated with.
struct ReplyRequest {
    std::vector<ChatMessage> messages;
    GenerationSettings settings;

    // The messages the template renders: the system prompt first, when set.
    std::vector<ChatMessage> with_system_prompt() const;
};

}  // namespace eg
