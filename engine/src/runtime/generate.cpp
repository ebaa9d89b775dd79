#include "runtime/generate.h"

#include <chrono>
#include <limits>

#include "core/log.h"
#include "runtime/json_constraint.h"
#include "tokenizer/tokenizer.h"

namespace eg {

const char* stop_reason_name(StopReason r) {
    switch (r) {
        case StopReason::EndOfGeneration: return "end of generation";
        case StopReason::MaxTokens: return "max tokens";
        case StopReason::ContextFull: return "context full";
        case StopReason::Stopped: return "stopped";
    }
    return "unknown";
}

namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }
// A draw the constraint allows: the refused token is masked and the sampler
// draws again; after a few refusals every token the constraint refuses is
// masked at once, so a draw always ends.
Result<int32_t> constrained_draw(Sampler& sampler, const float* logits, int64_t n_vocab,
                                 const std::vector<int32_t>& history, const TokenConstraint& c,
                                 std::vector<float>& masked, int32_t refused) {
    masked.assign(logits, logits + n_vocab);
    const float none = -std::numeric_limits<float>::infinity();
    for (int tries = 0; tries < 16; ++tries) {
        masked[refused] = none;
        const int32_t id = sampler.sample(masked.data(), n_vocab, history);
        if (c.allows(id)) return id;
        refused = id;
    }
    bool any = false;
    for (int64_t v = 0; v < n_vocab; ++v) {
        if (masked[v] == none) continue;
        if (c.allows((int32_t)v)) any = true;
        else masked[v] = none;
    }
    if (!any) return Error{"no token of the vocabulary can continue the constrained reply"};
    return sampler.sample(masked.data(), n_vocab, history);
}

}  // namespace

Result<GenerationResult> generate(Session& s, const std::vector<int32_t>& prompt, const GenerateOptions& opt,
                                  const PieceFn& on_piece) {
    if (prompt.empty()) return Error{"the prompt is empty"};
    GenerationResult res;
    const Tokenizer& tok = s.model().tokenizer();

    // Reuse the cached prefix; at least the last prompt token is run so that
    // its logits are fresh.
    int64_t keep = s.common_prefix(prompt);
    if (keep >= (int64_t)prompt.size()) keep = (int64_t)prompt.size() - 1;
    s.truncate(keep);
    res.stats.reused_tokens = keep;
    res.stats.prompt_tokens = (int64_t)prompt.size() - keep;

    const auto t0 = Clock::now();
    if (auto st = s.eval(prompt.data() + keep, (int64_t)prompt.size() - keep); !st) return st.error();
    res.stats.prompt_ms = ms_since(t0);

    Sampler sampler(opt.sampling);
    std::vector<float> masked;  // constrained draws only: the logits with refused tokens at -inf
    StreamDecoder dec(tok);
    std::vector<int32_t> history = prompt;
    history.reserve(prompt.size() + (opt.max_tokens > 0 ? opt.max_tokens : s.n_ctx()));
    Clock::time_point t_first;
    res.stop_reason = StopReason::MaxTokens;
    for (int64_t i = 0; opt.max_tokens <= 0 || i < opt.max_tokens; ++i) {
        if (opt.stop && opt.stop->load(std::memory_order_relaxed)) { res.stop_reason = StopReason::Stopped; break; }
        int32_t id = sampler.sample(s.logits(), s.n_vocab(), history);
        if (opt.constraint && !opt.constraint->allows(id)) {
            auto picked = constrained_draw(sampler, s.logits(), s.n_vocab(), history, *opt.constraint, masked, id);
            if (!picked) return picked.error();
            id = picked.value();
        }
        if (opt.constraint) opt.constraint->accept(id);
        if (i == 0) {
            t_first = Clock::now();
            res.stats.time_to_first_token_ms = ms_since(t0);
            if (ThroughputCounters* c = s.counters())
                c->last_ttft_us.store((int64_t)(res.stats.time_to_first_token_ms * 1000.0), std::memory_order_relaxed);
        }
        if (!opt.constraint && tok.is_eog(id)) { res.stop_reason = StopReason::EndOfGeneration; break; }
        res.tokens.push_back(id);
        history.push_back(id);
        res.stats.generated_tokens++;
        const std::string piece = dec.push(id);
        if (!piece.empty()) {
            res.text += piece;
            if (on_piece) on_piece(piece);
        }
        if (opt.constraint && opt.constraint->complete()) { res.stop_reason = StopReason::EndOfGeneration; break; }
        if (opt.max_tokens > 0 && i + 1 >= opt.max_tokens) { res.stop_reason = StopReason::MaxTokens; break; }
        if (s.n_past() >= s.n_ctx()) { res.stop_reason = StopReason::ContextFull; break; }
        if (auto st = s.eval(&id, 1); !st) return st.error();
    }
    const std::string tail = dec.flush();
    if (!tail.empty()) {
        res.text += tail;
        if (on_piece) on_piece(tail);
    }
    if (res.stats.generated_tokens > 0) res.stats.generate_ms = ms_since(t_first);
    EG_LOG_INFO("generated {} tokens ({}): prompt {} tok in {:.1f} ms, reused {}, {:.1f} tok/s", res.stats.generated_tokens,
                stop_reason_name(res.stop_reason), res.stats.prompt_tokens, res.stats.prompt_ms, res.stats.reused_tokens,
                res.stats.generate_tokens_per_s());
    return res;
}

}  // namespace eg
