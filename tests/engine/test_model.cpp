// SmolLM2-135M-Instruct Q4_1 through our engine: the session behaviours a
// chat relies on (batch splits, rollback, prefix reuse, context overflow,
// seeds, the logits of every position). Accuracy against exact math is
// test_accuracy's; the prompts' token ids come from its reference header
// (tests/reference/model/smollm2_exact.json, llama.cpp's tokenization).
#include <QtTest>

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "exact_reference.h"
#include "runtime/chat_session.h"
#include "runtime/generate.h"
#include "runtime/session.h"
#include "test_env.h"

using namespace eg;

namespace {

// The prompts (name, text, token ids) of the exact-math reference.
nlohmann::json prompts_header() { return eg_test::exact_header(); }

std::vector<int32_t> ids_of(const nlohmann::json& a) { return a.get<std::vector<int32_t>>(); }

int32_t argmax(const float* l, int64_t n) {
    int32_t b = 0;
    for (int64_t i = 1; i < n; ++i)
        if (l[i] > l[b]) b = (int32_t)i;
    return b;
}

// KL(softmax(p) || softmax(q)) of two logit rows, natural log.
double kl(const float* p, const float* q, int64_t n) {
    auto lse = [n](const float* l) {
        double mx = -INFINITY, s = 0;
        for (int64_t i = 0; i < n; ++i) mx = std::max(mx, (double)l[i]);
        for (int64_t i = 0; i < n; ++i) s += std::exp((double)l[i] - mx);
        return mx + std::log(s);
    };
    const double lp = lse(p), lq = lse(q);
    double k = 0;
    for (int64_t i = 0; i < n; ++i) k += std::exp(p[i] - lp) * ((p[i] - lp) - (q[i] - lq));
    return k;
}

}  // namespace

class TestModel : public QObject {
    Q_OBJECT
    std::unique_ptr<Model> model_;

private slots:
    void initTestCase() {
        const std::string path = eg_test::default_model_path();
        if (!QFile::exists(QString::fromStdString(path)))
            QFAIL(qPrintable(QString("default model missing at %1: run scripts/fetch-model.sh").arg(path.c_str())));
        auto m = Model::load(path);
        QVERIFY2(m.ok(), m.ok() ? "" : m.message().c_str());
        model_ = std::move(m.value());
    }

    void hparams() {
        const HParams& hp = model_->hparams();
        QCOMPARE(hp.arch, std::string("llama"));
        QCOMPARE(hp.n_layer, 30);
        QCOMPARE(hp.n_embd, 576);
        QCOMPARE(hp.n_head, 9);
        QCOMPARE(hp.n_head_kv, 3);
        QCOMPARE(hp.n_vocab, 49152);
        QVERIFY(hp.tied_output);
        QVERIFY(model_->chat_template().has_value());
        // 134.5 M parameters (SmolLM2-135M with tied embeddings).
        QVERIFY(model_->parameter_count() > 134'000'000 && model_->parameter_count() < 135'000'000);
    }

    // Prefill in batches of any size gives the same bits; rolling the cache
    // back and re-running a suffix too. One token at a time goes through the
    // decode kernels, whose sums run in another order: test_accuracy holds
    // both paths to exact math, and here they must stay within the
    // activation-quantization noise of each other with the same top token.
    // That noise is large: exact float64 logits and llama.cpp's differ by up
    // to 0.86 on these prompts, so two quantized paths may differ by twice
    // that; a real bug moves logits by many units.
    void batch_sizes_and_rollback_agree() {
        const auto g = prompts_header();
        const auto toks = ids_of(g["prompts"][1]["tokens"]);  // 15 tokens, clear top-1
        auto a = Session::create(*model_, SessionOptions{128, 512, 0});
        auto b = Session::create(*model_, SessionOptions{128, 4, 0});  // batches of 4, last of 1
        auto c = Session::create(*model_, SessionOptions{128, 512, 0});
        QVERIFY(a.ok() && b.ok() && c.ok());
        QVERIFY(a.value()->eval(toks).ok());
        QVERIFY(b.value()->eval(std::vector<int32_t>(toks.begin(), toks.end() - 1)).ok());  // 14 = 4+4+4+2
        QVERIFY(b.value()->eval(std::vector<int32_t>(toks.end() - 1, toks.end())).ok());
        for (int32_t t : toks) QVERIFY(c.value()->eval(&t, 1).ok());
        const int64_t nv = a.value()->n_vocab();
        auto max_diff = [&](const float* x, const float* y) {
            float w = 0;
            for (int64_t i = 0; i < nv; ++i) w = std::max(w, std::fabs(x[i] - y[i]));
            return w;
        };
        // The last token of b ran alone (decode path): compare b with c, a with a re-run.
        const float bc = max_diff(b.value()->logits(), c.value()->logits());
        const float ac = max_diff(a.value()->logits(), c.value()->logits());
        qInfo("batched+single vs all single: %.5f, all batched vs all single: %.5f", bc, ac);
        QVERIFY(ac < 2.0f);
        QCOMPARE(argmax(a.value()->logits(), nv), argmax(c.value()->logits(), nv));

        // Rolling back a batched session and re-running the suffix in a batch
        // reproduces the batch result bit for bit.
        std::vector<float> before(a.value()->logits(), a.value()->logits() + nv);
        a.value()->truncate(10);
        QCOMPARE(a.value()->n_past(), int64_t(10));
        QVERIFY(a.value()->eval(std::vector<int32_t>(toks.begin() + 10, toks.end())).ok());
        QCOMPARE(max_diff(before.data(), a.value()->logits()), 0.0f);
        // Different batch splits of the same prompt agree exactly too.
        auto d = Session::create(*model_, SessionOptions{128, 5, 0});
        QVERIFY(d.value()->eval(std::vector<int32_t>(toks.begin(), toks.end())).ok());  // 5 + 5 + 5
        QCOMPARE(max_diff(before.data(), d.value()->logits()), 0.0f);
    }

    // eval() with all_logits: row i holds the logits after token i. The last
    // row is logits() itself; every row is what a session stopped at token i
    // reports, up to the kernels' noise between batch compositions (KL of
    // thousandths) — a row of the wrong position is another distribution
    // altogether (KL above 1, printed). Token by token, each step fills its row.
    void eval_fills_logits_of_every_position() {
        const auto toks = ids_of(prompts_header()["prompts"][1]["tokens"]);  // 15
        const int64_t n = (int64_t)toks.size(), nv = model_->hparams().n_vocab;
        auto a = Session::create(*model_, SessionOptions{64, 6, 0});  // batches of 6 + 6 + 3
        QVERIFY(a.ok());
        std::vector<float> all((size_t)(n * nv), NAN);
        QVERIFY(a.value()->eval(toks.data(), n, all.data()).ok());
        QCOMPARE(a.value()->n_past(), n);
        QVERIFY(std::equal(a.value()->logits(), a.value()->logits() + nv, all.data() + (n - 1) * nv));
        for (int64_t j = 0; j < n * nv; ++j) QVERIFY2(std::isfinite(all[j]), "a row was not written");
        // The rows on both sides of each batch boundary, the first and the last.
        double worst = 0, nearest_other = INFINITY;
        for (int64_t i : {0, 1, 5, 6, 11, 12, 14}) {
            auto b = Session::create(*model_, SessionOptions{64, 512, 0});
            QVERIFY(b.value()->eval(toks.data(), i + 1).ok());
            const float* row = all.data() + i * nv;
            worst = std::max(worst, kl(b.value()->logits(), row, nv));
            if (i > 0) nearest_other = std::min(nearest_other, kl(b.value()->logits(), row - nv, nv));
        }
        qInfo("all logits, batches of 6: KL to a session stopped there <= %.5f; to the position before >= %.2f",
              worst, nearest_other);
        QVERIFY2(worst < 0.05, qPrintable(QString("a row's KL to its own position is %1").arg(worst)));
        QVERIFY(nearest_other > 0.5);

        auto c = Session::create(*model_, SessionOptions{64, 512, 0});
        QVERIFY(c.ok());
        std::vector<float> rows((size_t)(n * nv), NAN);
        for (int64_t i = 0; i < n; ++i) {
            QVERIFY(c.value()->eval(&toks[(size_t)i], 1, rows.data() + i * nv).ok());
            QVERIFY(std::equal(c.value()->logits(), c.value()->logits() + nv, rows.data() + i * nv));
        }
        // A failed eval changes nothing, its rows included.
        std::vector<float> untouched((size_t)nv, 7.0f);
        const int32_t bad = (int32_t)nv;
        QVERIFY(!c.value()->eval(&bad, 1, untouched.data()).ok());
        QCOMPARE(c.value()->n_past(), n);
        QVERIFY(std::all_of(untouched.begin(), untouched.end(), [](float v) { return v == 7.0f; }));
    }

    void chat_answers_and_reuses_prefix() {
        auto s = Session::create(*model_, SessionOptions{2048, 512, 0});
        QVERIFY(s.ok());
        auto cs = ChatSession::create(*s.value());
        QVERIFY2(cs.ok(), cs.ok() ? "" : cs.message().c_str());
        GenerateOptions opt;
        opt.max_tokens = 48;
        opt.sampling.temperature = 0;
        std::string streamed;
        auto r1 = cs.value()->send("What is the capital of France?", opt, [&](const std::string& p) { streamed += p; });
        QVERIFY2(r1.ok(), r1.ok() ? "" : r1.message().c_str());
        QCOMPARE(streamed, r1.value().text);
        QVERIFY(!r1.value().text.empty());
        QVERIFY(r1.value().stats.generated_tokens > 0);
        auto r2 = cs.value()->send("And of Germany?", opt, {});
        QVERIFY2(r2.ok(), r2.ok() ? "" : r2.message().c_str());
        // The second turn re-uses the first turn's KV: only the new part is prefilled.
        QVERIFY2(r2.value().stats.reused_tokens > 30,
                 qPrintable(QString("reused %1 tokens").arg(r2.value().stats.reused_tokens)));
        QVERIFY(r2.value().stats.prompt_tokens < 40);
        QCOMPARE(cs.value()->messages().size(), size_t(4));  // 2 turns; the template's default system text is not a message
    }

    void context_overflow_drops_oldest_turns_keeps_system() {
        auto s = Session::create(*model_, SessionOptions{160, 512, 0});
        QVERIFY(s.ok());
        auto cs = ChatSession::create(*s.value());
        QVERIFY(cs.ok());
        cs.value()->set_system_prompt("You are terse.");
        GenerateOptions opt;
        opt.max_tokens = 24;
        opt.sampling.temperature = 0;
        std::vector<std::string> notices;
        for (int i = 0; i < 6; ++i) {
            auto r = cs.value()->send("Tell me a fact about the number " + std::to_string(i) + ".", opt, {},
                                      [&](const std::string& n) { notices.push_back(n); });
            QVERIFY2(r.ok(), r.ok() ? "" : r.message().c_str());
        }
        QVERIFY(!notices.empty());
        QVERIFY2(notices.front().find("the oldest") != std::string::npos &&
                     notices.front().find("left out") != std::string::npos,
                 notices.front().c_str());
        QCOMPARE(cs.value()->messages().front().role, std::string("system"));
        QCOMPARE(cs.value()->messages().front().content, std::string("You are terse."));
        // The newest exchange is still there.
        QVERIFY(cs.value()->messages()[cs.value()->messages().size() - 2].content.find("number 5") != std::string::npos);
        // A message longer than the context is an error, not a crash.
        auto too_long = cs.value()->send(std::string(4000, 'x'), opt, {});
        QVERIFY(!too_long.ok());
        QVERIFY(too_long.message().find("too long") != std::string::npos);
    }

    // The one trimming rule (ChatSession::fit, used by the CLI and the
    // window): whole turns go, oldest first, the system prompt and the newest
    // message stay, and it says how many turns went.
    void fit_leaves_out_whole_oldest_turns() {
        auto s = Session::create(*model_, SessionOptions{128, 512, 0});
        QVERIFY(s.ok());
        auto cs = ChatSession::create(*s.value());
        QVERIFY(cs.ok());
        std::vector<ChatMessage> msgs{{"system", "You are terse."}};
        for (int i = 0; i < 5; ++i) {
            msgs.push_back({"user", "Question number " + std::to_string(i) + " about the sea and the sky?"});
            msgs.push_back({"assistant", "Answer number " + std::to_string(i) + ": the sea is blue, so is the sky."});
        }
        msgs.push_back({"user", "The newest question?"});
        const std::vector<ChatMessage> all = msgs;

        // Room for the reply is part of the rule: more room, more turns go.
        auto roomy = cs.value()->fit(msgs, 16);
        QVERIFY2(roomy.ok(), roomy.ok() ? "" : roomy.message().c_str());
        const FittedPrompt& f = roomy.value();
        QCOMPARE(f.reply_room, int64_t(16));
        QVERIFY(f.dropped_turns > 0);
        QCOMPARE(f.dropped_messages, 2 * f.dropped_turns);  // each left-out turn had its reply
        QCOMPARE(msgs.size(), all.size() - f.dropped_messages);
        QVERIFY((int64_t)f.tokens.size() + f.reply_room <= 128);
        QCOMPARE(msgs.front().content, std::string("You are terse."));
        QCOMPARE(msgs.back().content, std::string("The newest question?"));
        // What stays is the newest part, in order.
        QCOMPARE(msgs[1].content, all[1 + f.dropped_messages].content);
        // One turn fewer would not have fit.
        std::vector<ChatMessage> one_more(all.begin(), all.end());
        one_more.erase(one_more.begin() + 1, one_more.begin() + 1 + (std::ptrdiff_t)(f.dropped_messages - 2));
        auto t = cs.value()->render_tokens(one_more);
        QVERIFY(t.ok());
        QVERIFY((int64_t)t.value().size() + 16 > 128);

        std::vector<ChatMessage> msgs2 = all;
        auto tight = cs.value()->fit(msgs2, 64);
        QVERIFY(tight.ok());
        QCOMPARE(tight.value().reply_room, int64_t(64));
        QVERIFY(tight.value().dropped_turns > f.dropped_turns);

        // Nothing to leave out: nothing changes, nothing is said.
        std::vector<ChatMessage> short_msgs{{"user", "Hi"}};
        auto none = cs.value()->fit(short_msgs, 16);
        QVERIFY(none.ok());
        QCOMPARE(none.value().dropped_turns, size_t(0));
        QCOMPARE(short_msgs.size(), size_t(1));
        QCOMPARE(trimmed_notice(0, 128), std::string());
        QCOMPARE(trimmed_notice(1, 128),
                 std::string("The conversation no longer fits the context (128 tokens): the oldest turn was left out."));
        QCOMPARE(trimmed_notice(3, 2048), std::string("The conversation no longer fits the context (2048 tokens): "
                                                      "the oldest 3 turns were left out."));
        // The reply's room: max_tokens, a quarter of the context for "no
        // limit", never more than half.
        QCOMPARE(reply_room(100, 1024), int64_t(100));
        QCOMPARE(reply_room(0, 1024), int64_t(256));
        QCOMPARE(reply_room(4000, 1024), int64_t(512));
    }

    void same_seed_same_text() {
        const auto g = prompts_header();
        const auto prompt = ids_of(g["prompts"][1]["tokens"]);
        auto run = [&](uint64_t seed) {
            auto s = Session::create(*model_, SessionOptions{256, 512, 0});
            GenerateOptions opt;
            opt.max_tokens = 24;
            opt.sampling.temperature = 1.0f;
            opt.sampling.top_k = 0;
            opt.sampling.top_p = 1.0f;
            opt.sampling.min_p = 0.0f;
            opt.sampling.seed = seed;
            auto r = generate(*s.value(), prompt, opt, {});
            return r.value().tokens;
        };
        const auto a = run(7), b = run(7), c = run(8);
        QCOMPARE(a, b);
        QVERIFY(a != c);
    }

    // A context that is not a multiple of the kernels' 16/32-wide chunks
    // filled to its very last position, in one batch and token by token.
    void context_filled_to_last_position() {
        const auto toks = ids_of(prompts_header()["prompts"][0]["tokens"]);  // 37
        auto a = Session::create(*model_, SessionOptions{37, 512, 0});
        auto b = Session::create(*model_, SessionOptions{37, 512, 0});
        QVERIFY(a.ok() && b.ok());
        QVERIFY(a.value()->eval(toks).ok());
        for (int32_t t : toks) QVERIFY(b.value()->eval(&t, 1).ok());
        QCOMPARE(a.value()->n_past(), int64_t(37));
        QCOMPARE(b.value()->n_past(), int64_t(37));
        for (int64_t i = 0; i < a.value()->n_vocab(); ++i) {
            QVERIFY(std::isfinite(a.value()->logits()[i]));
            QVERIFY(std::isfinite(b.value()->logits()[i]));
        }
        const int32_t one = 1;
        QVERIFY(!a.value()->eval(&one, 1).ok());  // full
    }

    void bad_tokens_are_errors() {
        auto s = Session::create(*model_, SessionOptions{16, 512, 0});
        QVERIFY(s.ok());
        const int32_t bad = 49152;
        auto st = s.value()->eval(&bad, 1);
        QVERIFY(!st.ok());
        QVERIFY(st.message().find("outside the vocabulary") != std::string::npos);
        std::vector<int32_t> many(17, 1);
        st = s.value()->eval(many);
        QVERIFY(!st.ok());
        QVERIFY(st.message().find("context is full") != std::string::npos);
        QCOMPARE(s.value()->n_past(), int64_t(0));  // nothing half-applied
    }
};

QTEST_APPLESS_MAIN(TestModel)
#include "test_model.moc"
