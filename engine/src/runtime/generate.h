// Text generation on a Session: prefill the prompt, then sample, stream text
// pieces (complete UTF-8 only) and stop on end-of-generation, max tokens,
// a full context or the caller's stop flag. Timing goes into GenerationStats.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"
#include "runtime/session.h"
#include "sampling/sampler.h"

namespace eg {

class TokenConstraint;  // runtime/json_constraint.h

struct GenerationStats {
    int64_t prompt_tokens = 0;      // tokens actually prefilled (the reused prefix is not counted)
    int64_t reused_tokens = 0;      // tokens served from the KV cache
    int64_t generated_tokens = 0;
    double prompt_ms = 0;
    double generate_ms = 0;         // from the first sampled token to the end
    double time_to_first_token_ms = 0;
    double prompt_tokens_per_s() const { return prompt_ms > 0 ? prompt_tokens * 1000.0 / prompt_ms : 0; }
    double generate_tokens_per_s() const {
        return generate_ms > 0 && generated_tokens > 1 ? (generated_tokens - 1) * 1000.0 / generate_ms : 0;
    }
};

enum class StopReason { EndOfGeneration = 1, MaxTokens, ContextFull, Stopped };
const char* stop_reason_name(StopReason r);

struct GenerateOptions {
    int64_t max_tokens = 512;        // <= 0: until the context is full
    SamplerParams sampling;
    const std::atomic<bool>* stop = nullptr;  // checked between tokens
    // When set, only tokens it allows are drawn (a refused draw is drawn
    // again without that token), and the reply ends when it is complete.
    TokenConstraint* constraint = nullptr;
};

struct GenerationResult {
    std::string text;
    std::vector<int32_t> tokens;
    StopReason stop_reason = StopReason::EndOfGeneration;
    GenerationStats stats;
};

using PieceFn = std::function<void(const std::string& piece)>;

// Makes `prompt` the session's tokens (reusing the longest cached prefix),
// then generates. The generated tokens stay in the session's cache.
Result<GenerationResult> generate(Session& s, const std::vector<int32_t>& prompt, const GenerateOptions& opt,
                                  const PieceFn& on_piece);

}  // namespace eg
