// The exact-math reference of SmolLM2-135M-Instruct Q4_1 (float64 forward of
// the dequantized weights), written by
// tests/reference/model/make_exact_reference.py: smollm2_exact.json (header,
// token ids) and smollm2_exact.bin (log-probabilities). The script's
// docstring documents the format; this reads it for the model tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/fp16.h"
#include "test_env.h"

namespace eg_test {

// log softmax of n logits, in float64.
inline std::vector<double> log_softmax(const float* l, int64_t n) {
    double mx = -INFINITY;
    for (int64_t i = 0; i < n; ++i) mx = std::max(mx, (double)l[i]);
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += std::exp((double)l[i] - mx);
    const double lse = mx + std::log(s);
    std::vector<double> out((size_t)n);
    for (int64_t i = 0; i < n; ++i) out[(size_t)i] = (double)l[i] - lse;
    return out;
}


struct ExactPrompt {
    std::string name;
    std::vector<int32_t> tokens;
    int32_t top1 = 0;
    double top2_gap = 0;
    std::vector<double> logprobs;  // [n_vocab], renormalized after the F16 storage
};

// The text: position t predicts tokens[t + 1] from tokens[0..t].
struct ExactText {
    std::string name;
    std::vector<int32_t> tokens;
    int64_t n_positions = 0;
    int64_t topk = 0;
    std::vector<float> target;          // [n] log-probability of the next token
    std::vector<float> gap;             // [n] top-2 logit gap
    std::vector<float> tail;            // [n] mass outside the top K
    std::vector<uint16_t> topk_ids;     // [n][K], most probable first
    std::vector<float> topk_logprobs;   // [n][K]
};

struct ExactReference {
    nlohmann::json header;
    std::string model;
    uint64_t model_bytes = 0;
    int64_t n_vocab = 0;
    std::vector<ExactPrompt> prompts;
    ExactText text;
    double text_perplexity = 0;
};

inline std::vector<char> read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

// The header alone (token ids, names): what tests that only need the prompts read.
inline nlohmann::json exact_header() {
    std::ifstream in(fixture("reference/model/smollm2_exact.json"));
    if (!in) throw std::runtime_error("missing fixture reference/model/smollm2_exact.json");
    return nlohmann::json::parse(in);
}

inline ExactReference load_exact_reference() {
    ExactReference r;
    r.header = exact_header();
    const auto& h = r.header;
    r.model = h["model"].get<std::string>();
    r.model_bytes = h["model_bytes"].get<uint64_t>();
    r.n_vocab = h["n_vocab"].get<int64_t>();
    const std::vector<char> bin = read_all(fixture("reference/model/" + h["bin"].get<std::string>()));
    if ((uint64_t)bin.size() != h["bin_bytes"].get<uint64_t>())
        throw std::runtime_error("smollm2_exact.bin has " + std::to_string(bin.size()) + " bytes, the header says " +
                                 std::to_string(h["bin_bytes"].get<uint64_t>()));
    auto array = [&](uint64_t off, size_t n, size_t elem, void* dst) {
        if (off + n * elem > bin.size()) throw std::runtime_error("smollm2_exact.bin: array past the end");
        std::memcpy(dst, bin.data() + off, n * elem);
    };
    auto halves = [&](uint64_t off, size_t n) {
        std::vector<uint16_t> raw(n);
        array(off, n, 2, raw.data());
        std::vector<float> f(n);
        for (size_t i = 0; i < n; ++i) f[i] = eg::fp16_to_fp32(raw[i]);
        return f;
    };
    for (const auto& p : h["prompts"]) {
        ExactPrompt e;
        e.name = p["name"].get<std::string>();
        e.tokens = p["tokens"].get<std::vector<int32_t>>();
        e.top1 = p["top1"].get<int32_t>();
        e.top2_gap = p["top2_gap"].get<double>();
        const std::vector<float> lp = halves(p["logprobs_offset"].get<uint64_t>(), (size_t)r.n_vocab);
        // Renormalize: F16 rounding leaves the stored probabilities summing to 1 +- 1e-4.
        double mx = -INFINITY, s = 0;
        for (float v : lp) mx = std::max(mx, (double)v);
        for (float v : lp) s += std::exp((double)v - mx);
        const double lse = mx + std::log(s);
        e.logprobs.resize(lp.size());
        for (size_t i = 0; i < lp.size(); ++i) e.logprobs[i] = (double)lp[i] - lse;
        r.prompts.push_back(std::move(e));
    }
    const auto& t = h["text"];
    ExactText& x = r.text;
    x.name = t["name"].get<std::string>();
    x.tokens = t["tokens"].get<std::vector<int32_t>>();
    x.n_positions = t["n_positions"].get<int64_t>();
    x.topk = h["topk"].get<int64_t>();
    const size_t n = (size_t)x.n_positions, k = (size_t)x.topk;
    if (x.tokens.size() != n + 1) throw std::runtime_error("smollm2_exact.json: text positions != tokens - 1");
    const auto& off = t["offsets"];
    x.target.resize(n);
    x.gap.resize(n);
    x.tail.resize(n);
    x.topk_ids.resize(n * k);
    array(off["target"].get<uint64_t>(), n, 4, x.target.data());
    array(off["gap"].get<uint64_t>(), n, 4, x.gap.data());
    array(off["tail"].get<uint64_t>(), n, 4, x.tail.data());
    array(off["topk_ids"].get<uint64_t>(), n * k, 2, x.topk_ids.data());
    x.topk_logprobs = halves(off["topk_logprobs"].get<uint64_t>(), n * k);
    r.text_perplexity = h["stats"]["text_perplexity"].get<double>();
    return r;
}

}  // namespace eg_test
