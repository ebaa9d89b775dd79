#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace eg {

Sampler::Sampler(SamplerParams p) : p_(p), rng_(p.seed) {}

int32_t Sampler::sample(const float* logits, int64_t n_vocab, const std::vector<int32_t>& history) {
    const float* l = logits;
    const bool penalties = p_.repeat_penalty != 1.0f || p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f;
    if (!p_.logit_bias.empty()) {
        adjusted_.assign(logits, logits + n_vocab);
        for (const auto& [id, bias] : p_.logit_bias)
            if (id >= 0 && id < n_vocab) adjusted_[id] += bias;
        l = adjusted_.data();
    }
    if (penalties && !history.empty()) {
        if (l != adjusted_.data()) adjusted_.assign(logits, logits + n_vocab);
        // Count each recent token once per occurrence; recent_ is reused, so
        // the decode loop allocates nothing after the first token.
        const size_t n = std::min<size_t>(history.size(), p_.penalty_last_n > 0 ? (size_t)p_.penalty_last_n : 0);
        recent_.assign(history.end() - (std::ptrdiff_t)n, history.end());
        std::sort(recent_.begin(), recent_.end());
        for (size_t i = 0; i < recent_.size();) {
            size_t j = i;
            while (j < recent_.size() && recent_[j] == recent_[i]) ++j;
            const int32_t id = recent_[i];
            const int c = (int)(j - i);
            i = j;
            if (id < 0 || id >= n_vocab) continue;
            float& x = adjusted_[id];
            // As llama.cpp: divide positive logits, multiply negative ones.
            x = x > 0 ? x / p_.repeat_penalty : x * p_.repeat_penalty;
            x -= (float)c * p_.frequency_penalty + p_.presence_penalty;
        }
        l = adjusted_.data();
    }

    if (p_.temperature <= 0.0f) {
        int32_t best = 0;
        for (int64_t i = 1; i < n_vocab; ++i)
            if (l[i] > l[best]) best = (int32_t)i;
        return best;
    }

    cands_.resize(n_vocab);
    for (int64_t i = 0; i < n_vocab; ++i) cands_[i] = {(int32_t)i, l[i], 0.0f};
    auto by_logit = [](const Cand& a, const Cand& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); };
    size_t n = cands_.size();
    if (p_.top_k > 0 && (size_t)p_.top_k < n) {
        std::partial_sort(cands_.begin(), cands_.begin() + p_.top_k, cands_.end(), by_logit);
        n = p_.top_k;
    } else {
        std::sort(cands_.begin(), cands_.end(), by_logit);
    }
    // Softmax over the survivors (without temperature) for top-p and min-p.
    auto softmax = [&](float temp) {
        const float mx = cands_[0].logit;
        double sum = 0;
        for (size_t i = 0; i < n; ++i) {
            cands_[i].p = std::exp((cands_[i].logit - mx) / temp);
            sum += cands_[i].p;
        }
        for (size_t i = 0; i < n; ++i) cands_[i].p = (float)(cands_[i].p / sum);
    };
    softmax(1.0f);
    if (p_.top_p < 1.0f) {
        double cum = 0;
        size_t keep = n;
        for (size_t i = 0; i < n; ++i) {
            cum += cands_[i].p;
            if (cum >= p_.top_p) { keep = i + 1; break; }
        }
        n = std::max<size_t>(keep, 1);
    }
    if (p_.min_p > 0.0f) {
        const float floor = cands_[0].p * p_.min_p;
        size_t keep = 1;
        while (keep < n && cands_[keep].p >= floor) ++keep;
        n = keep;
    }
    softmax(p_.temperature);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    double r = u(rng_), cum = 0;
    for (size_t i = 0; i < n; ++i) {
        cum += cands_[i].p;
        if (r < cum) return cands_[i].id;
    }
    return cands_[n - 1].id;
}

}  // namespace eg
