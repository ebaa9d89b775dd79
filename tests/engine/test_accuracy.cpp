// SmolLM2-135M-Instruct Q4_1 through our engine against exact math: a float64
// forward of the same dequantized weights (tests/reference/model/
// make_exact_reference.py, fixture smollm2_exact.{json,bin}). Not against
// another engine's bits: the kernels quantize activations to int8, round the
// KV cache and the attention weights to F16 and sum in their own order, so the
// question is how far that moves the distribution, not whether two programs
// round alike. Both kernel paths are checked: a sequence run batched (one
// batch for a prompt, 512 + 512 + 120 for the text: prefill kernels) and
// token by token (decode kernels).
//
// Bounds (DESIGN.md §6, issue 13), with what this engine measured on an AMD
// EPYC (packed AVX-512 kernels, 2 threads), batched / token by token:
//  - KL(reference || ours) over the whole vocabulary after each prompt
//    <= kMaxPromptKl (measured: chat 0.0082/0.0082, story 0.0001/0.0001,
//    code 0.0017/0.0017), and <= kMaxMeanKl on average (0.0033/0.0033);
//  - the top-1 token equal to the reference's wherever the reference's top-2
//    logit gap exceeds kTop1Gap (below it, quantization noise may swap them);
//  - over a 1,143-position English text: perplexity within kPerplexityTol of
//    the reference's (+0.25%/+0.18%), the per-position KL over the
//    reference's top 64 + the rest <= kMaxMeanKl on average (0.0022/0.0021)
//    and <= kMaxPositionKl everywhere (worst 0.014/0.022), top-1 as above
//    (731 of 731 such positions agree).
// llama.cpp 0.3.16 on this CPU (llama_cpp_accuracy.py), with the kernels
// whose bits this engine used to copy: prompts 0.0077 on average (code
// 0.0159), perplexity +0.46%, worst text position 0.024-0.030.
// A wrong RoPE base (10000 for 100000) gives KL 0.14 on the chat prompt,
// +17.6% perplexity and a text KL of 0.14 on average, 3.5 at worst.
// The measured values are printed (qInfo) on every run.
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "exact_reference.h"
#include "runtime/session.h"
#include "test_env.h"

using namespace eg;

namespace {

constexpr double kMaxPromptKl = 0.03;
constexpr double kMaxMeanKl = 0.01;
constexpr double kTop1Gap = 0.5;
constexpr double kPerplexityTol = 0.01;
// The worst single position of the text: three times the worst measured
// (0.030), 35 times below the worst position of the RoPE-base bug.
constexpr double kMaxPositionKl = 0.1;

int32_t argmax(const float* l, int64_t n) {
    return (int32_t)(std::max_element(l, l + n) - l);
}

// KL(p || q) over the whole vocabulary, natural log.
double kl_full(const std::vector<double>& p, const std::vector<double>& q) {
    double kl = 0;
    for (size_t i = 0; i < p.size(); ++i) kl += std::exp(p[i]) * (p[i] - q[i]);
    return kl;
}

// KL over K + 1 bins: the reference's top K tokens and everything else. It is
// the KL of the coarse-grained distributions, a lower bound of the full one
// that misses only how differently the two spread the tail mass among
// themselves: with K = 64 it is 83% of the full KL on average over the text
// (measured by llama_cpp_accuracy.py --full-kl) and 88-99% at the prompts
// (printed below), so the text bounds hold the full KL to about 1.2 times them.
double kl_topk(const uint16_t* ids, const float* ref_lp, double ref_tail, int64_t k, const std::vector<double>& q) {
    std::vector<double> p((size_t)k);
    double sp = ref_tail;
    for (int64_t j = 0; j < k; ++j) sp += p[(size_t)j] = std::exp((double)ref_lp[j]);
    double kl = 0;
    for (int64_t j = 0; j < k; ++j) {
        const double pj = p[(size_t)j] / sp;  // renormalized: F16 storage leaves the sum 1 +- 1e-3
        kl += pj * (std::log(pj) - q[ids[j]]);
    }
    double q_rest = 0;  // summed directly, no 1 - sq cancellation
    std::vector<char> in(q.size(), 0);
    for (int64_t j = 0; j < k; ++j) in[ids[j]] = 1;
    for (size_t i = 0; i < q.size(); ++i)
        if (!in[i]) q_rest += std::exp(q[i]);
    const double r = ref_tail / sp;
    if (r > 0) kl += r * std::log(r / q_rest);
    return kl;
}

enum class Path { Batch, TokenByToken };
const char* path_name(Path p) { return p == Path::Batch ? "batched" : "token by token"; }

// Runs tokens through a fresh session and returns the logits after each of
// them [n, n_vocab]: one eval of the whole sequence (in batches of 512), or
// one eval per token.
std::vector<float> run(const Model& model, const std::vector<int32_t>& toks, Path path) {
    const int64_t nv = model.hparams().n_vocab;
    auto s = Session::create(model, SessionOptions{(int64_t)toks.size() + 8, 512, 0});
    if (!s.ok()) qFatal("session: %s", s.message().c_str());
    std::vector<float> all(toks.size() * (size_t)nv);
    if (path == Path::Batch) {
        if (auto st = s.value()->eval(toks.data(), (int64_t)toks.size(), all.data()); !st)
            qFatal("eval: %s", st.message().c_str());
    } else {
        for (size_t i = 0; i < toks.size(); ++i)
            if (auto st = s.value()->eval(&toks[i], 1, all.data() + i * nv); !st) qFatal("eval: %s", st.message().c_str());
    }
    return all;
}

}  // namespace

class TestAccuracy : public QObject {
    Q_OBJECT
    std::unique_ptr<Model> model_;
    eg_test::ExactReference ref_;

    void prompts(Path path) {
        const int64_t nv = ref_.n_vocab;
        double sum = 0;
        for (const auto& p : ref_.prompts) {
            const auto all = run(*model_, p.tokens, path);
            const float* last = all.data() + (p.tokens.size() - 1) * nv;
            const auto q = eg_test::log_softmax(last, nv);
            const double kl = kl_full(p.logprobs, q);
            // The same position through the text's K+1-bin estimate, to show what it misses.
            std::vector<int32_t> order(nv);
            std::iota(order.begin(), order.end(), 0);
            const int64_t k = ref_.text.topk;
            std::partial_sort(order.begin(), order.begin() + k, order.end(),
                              [&](int32_t a, int32_t b) { return p.logprobs[a] > p.logprobs[b]; });
            std::vector<uint16_t> ids(k);
            std::vector<float> lps(k);
            double top_mass = 0;
            for (int64_t j = 0; j < k; ++j) {
                ids[j] = (uint16_t)order[j];
                lps[j] = (float)p.logprobs[order[j]];
                top_mass += std::exp(p.logprobs[order[j]]);
            }
            const double kl_k = kl_topk(ids.data(), lps.data(), std::max(0.0, 1.0 - top_mass), k, q);
            const int32_t top = argmax(last, nv);
            qInfo("%-12s %-14s KL %.5f (top-%lld bins: %.5f), top-1 %d (reference %d, its top-2 gap %.3f)",
                  p.name.c_str(), path_name(path), kl, (long long)k, kl_k, top, p.top1, p.top2_gap);
            QVERIFY2(kl <= kMaxPromptKl, qPrintable(QString("%1 (%2): KL(reference || ours) = %3 > %4")
                                                        .arg(p.name.c_str(), path_name(path)).arg(kl).arg(kMaxPromptKl)));
            if (p.top2_gap > kTop1Gap)
                QVERIFY2(top == p.top1, qPrintable(QString("%1 (%2): top-1 token %3, the reference's is %4 with a top-2 "
                                                           "gap of %5")
                                                       .arg(p.name.c_str(), path_name(path)).arg(top).arg(p.top1)
                                                       .arg(p.top2_gap)));
            sum += kl;
        }
        const double mean = sum / (double)ref_.prompts.size();
        qInfo("prompts, %s: mean KL %.5f", path_name(path), mean);
        QVERIFY2(mean <= kMaxMeanKl, qPrintable(QString("%1: mean KL over the prompts %2 > %3")
                                                    .arg(path_name(path)).arg(mean).arg(kMaxMeanKl)));
    }

    void text(Path path) {
        const auto& x = ref_.text;
        const int64_t nv = ref_.n_vocab, n = x.n_positions, k = x.topk;
        const auto all = run(*model_, x.tokens, path);
        double nll = 0, kl_sum = 0, kl_max = 0;
        int64_t kl_argmax = 0, agree = 0, decided = 0, decided_agree = 0;
        std::vector<double> kls;
        QString first_miss;
        for (int64_t t = 0; t < n; ++t) {
            const float* l = all.data() + t * nv;
            const auto q = eg_test::log_softmax(l, nv);
            nll -= q[x.tokens[t + 1]];
            const double kl = kl_topk(&x.topk_ids[t * k], &x.topk_logprobs[t * k], x.tail[t], k, q);
            kls.push_back(kl);
            kl_sum += kl;
            if (kl > kl_max) kl_max = kl, kl_argmax = t;
            const int32_t top = argmax(l, nv), ref_top = x.topk_ids[t * k];
            agree += top == ref_top;
            if (x.gap[t] > kTop1Gap) {
                ++decided;
                decided_agree += top == ref_top;
                if (top != ref_top && first_miss.isEmpty())
                    first_miss = QString("position %1: top-1 %2, the reference's %3 with a top-2 gap of %4")
                                     .arg(t).arg(top).arg(ref_top).arg(x.gap[t]);
            }
        }
        const double ppl = std::exp(nll / (double)n);
        const double ratio = ppl / ref_.text_perplexity;
        const double mean_kl = kl_sum / (double)n;
        std::sort(kls.begin(), kls.end());
        qInfo("%s, %s: perplexity %.4f vs the reference's %.4f (%+.3f%%), KL over top-%lld+rest: mean %.5f, "
              "median %.5f, p99 %.5f, max %.5f (position %lld); top-1 agrees at %lld/%lld positions, at %lld/%lld "
              "where the reference's top-2 gap > %.1f",
              x.name.c_str(), path_name(path), ppl, ref_.text_perplexity, (ratio - 1) * 100, (long long)k, mean_kl,
              kls[kls.size() / 2], kls[kls.size() * 99 / 100], kl_max, (long long)kl_argmax, (long long)agree,
              (long long)n, (long long)decided_agree, (long long)decided, kTop1Gap);
        QVERIFY2(std::fabs(ratio - 1) <= kPerplexityTol,
                 qPrintable(QString("%1: perplexity %2, the reference's %3: off by %4%, more than %5%")
                                .arg(path_name(path)).arg(ppl).arg(ref_.text_perplexity).arg((ratio - 1) * 100)
                                .arg(kPerplexityTol * 100)));
        QVERIFY2(mean_kl <= kMaxMeanKl, qPrintable(QString("%1: mean KL over the text %2 > %3")
                                                       .arg(path_name(path)).arg(mean_kl).arg(kMaxMeanKl)));
        QVERIFY2(kl_max <= kMaxPositionKl, qPrintable(QString("%1: KL %2 at text position %3 > %4")
                                                          .arg(path_name(path)).arg(kl_max).arg(kl_argmax)
                                                          .arg(kMaxPositionKl)));
        QVERIFY2(first_miss.isEmpty(), qPrintable(QString("%1: %2").arg(path_name(path), first_miss)));
    }

private slots:
    void initTestCase() {
        const std::string path = eg_test::default_model_path();
        if (!QFile::exists(QString::fromStdString(path)))
            QFAIL(qPrintable(QString("default model missing at %1: run scripts/fetch-model.sh").arg(path.c_str())));
        try {
            ref_ = eg_test::load_exact_reference();
        } catch (const std::exception& e) {
            QFAIL(e.what());
        }
        // The reference is of one file: another model (ENGRAM_TEST_MODEL) cannot be judged by it.
        const qint64 size = QFileInfo(QString::fromStdString(path)).size();
        QVERIFY2((uint64_t)size == ref_.model_bytes,
                 qPrintable(QString("%1 has %2 bytes; the reference was made from %3 (%4 bytes)")
                                .arg(path.c_str()).arg(size).arg(ref_.model.c_str()).arg(ref_.model_bytes)));
        auto m = Model::load(path);
        QVERIFY2(m.ok(), m.ok() ? "" : m.message().c_str());
        model_ = std::move(m.value());
        QCOMPARE(model_->hparams().n_vocab, ref_.n_vocab);
        QVERIFY(ref_.text.n_positions >= 1000);
    }

    void prompts_batched() { prompts(Path::Batch); }
    void prompts_token_by_token() { prompts(Path::TokenByToken); }
    void text_batched() { text(Path::Batch); }
    void text_token_by_token() { text(Path::TokenByToken); }
};

QTEST_APPLESS_MAIN(TestAccuracy)
#include "test_accuracy.moc"
