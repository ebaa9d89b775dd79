// Turns logits into the next token: repetition/presence/frequency penalties,
// then top-k, top-p, min-p and temperature, then a draw from a seeded RNG
// (same seed, same text). Temperature <= 0 is greedy.
#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace eg {

struct SamplerParams {
    float temperature = 0.7f;
    int32_t top_k = 40;          // <= 0: off
    float top_p = 0.95f;         // >= 1: off
    float min_p = 0.05f;         // <= 0: off
    float repeat_penalty = 1.0f; // 1: off
    float presence_penalty = 0.0f;
    float frequency_penalty = 0.0f;
    int32_t penalty_last_n = 64; // tokens looked back for penalties
    uint64_t seed = 0xE9A3;      // fixed default: reproducible unless changed
    // Added to a token's logit before everything else (OpenAI's logit_bias:
    // -100 bans a token, +100 all but forces it); ids outside the vocabulary
    // are skipped.
    std::vector<std::pair<int32_t, float>> logit_bias;
};

class Sampler {
public:
    explicit Sampler(SamplerParams p);
    const SamplerParams& params() const { return p_; }

    // history: previously seen tokens (prompt and reply), newest last.
    int32_t sample(const float* logits, int64_t n_vocab, const std::vector<int32_t>& history);

    void reseed(uint64_t seed) { rng_.seed(seed); }

private:
    struct Cand { int32_t id; float logit; float p; };
    SamplerParams p_;
    std::mt19937_64 rng_;
    std::vector<Cand> cands_;      // reused: no allocation per token after the first
    std::vector<float> adjusted_;
    std::vector<int32_t> recent_;
};

}  // namespace eg
