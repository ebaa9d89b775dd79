// The Engram module forward (engram/src/module.cpp) against a float64 NumPy
// re-implementation (tests/reference/engram/forward_reference.py): both
// module forms on the small random-weight fixtures made by
// make_module_golden.py (V4.1 form with an F16 table; demo form with a Q8_0
// table, built through engram/tools/convert_demo_state_dict.py). Also: the
// demo form run in pieces equals the whole run bit for bit, the named
// intermediates add up to the output, and a truncated file is an error.
#include <QtTest>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>

#include <nlohmann/json.hpp>

#include "config.h"
#include "core/thread_pool.h"
#include "cpu/matmul.h"
#include "gguf/gguf.h"
#include "hash.h"
#include "module.h"
#include "test_env.h"

using namespace eg;
using namespace eg::engram;

namespace {

// Everything after the dequantized table and weights runs in float32 (sums in
// double where ours does so), the reference in float64. A float32 dot product
// of E = 128 terms is off by at most ~E * 2^-24 of the sum of |terms| and in
// practice by sqrt(E) * 2^-24 ~ 1e-6 of it; after RMSNorm, the gate's sigmoid
// and the conv of K = 4 terms the outputs (|ref| up to ~6) differ by a few
// 1e-7 (measured, printed below). 1e-5 * (1 + |ref|) leaves an order of
// magnitude for other CPUs' libm (expf, sqrtf) and stays four to five orders
// below a real mistake: the module's update of x is of order 1 (a no-op
// module, a swapped key/value or a conv tap off by one position moves outputs
// by tenths to units).
constexpr double kRelTol = 1e-5;

std::string fixture_path(const std::string& name) { return eg_test::fixture("reference/engram/" + name); }

nlohmann::json golden() {
    std::ifstream in(fixture_path("module_golden.json"));
    return nlohmann::json::parse(in);
}

// What the engine's loader fills from the file's keys.
Result<HParams> hparams_of(const GgufFile& f) {
    auto arch = f.get_string("general.architecture");
    if (!arch) return arch.error();
    if (!arch.value()) return f.error("general.architecture", "missing");
    HParams hp;
    hp.arch = *arch.value();
    auto num = [&](const char* key, int64_t* out) -> Status {
        auto v = f.get_int(hp.arch + "." + key);
        if (!v) return v.error();
        if (!v.value()) return f.error(hp.arch + "." + key, "missing");
        *out = *v.value();
        return {};
    };
    if (auto s = num("embedding_length", &hp.n_embd); !s) return s.error();
    if (auto s = num("block_count", &hp.n_layer); !s) return s.error();
    if (auto s = num("vocab_size", &hp.n_vocab); !s) return s.error();
    auto eps = f.get_float(hp.arch + ".attention.layer_norm_rms_epsilon");
    if (!eps) return eps.error();
    if (eps.value()) hp.rms_eps = (float)*eps.value();
    return hp;
}

struct Loaded {
    std::unique_ptr<GgufFile> file;
    HParams hp;
    Config cfg;
};

Result<Loaded> load(const std::string& path) {
    auto f = GgufFile::open(path);
    if (!f) return f.error();
    Loaded l;
    l.file = std::move(f.value());
    auto hp = hparams_of(*l.file);
    if (!hp) return hp.error();
    l.hp = hp.value();
    auto c = read_config(*l.file, l.hp);
    if (!c) return c.error();
    l.cfg = std::move(c.value());
    return l;
}

// rows [n_tok][heads_per_layer] -> e [n_tok, E], dequantized from the mapping.
std::vector<float> gather(const Config& c, int li, const std::vector<uint64_t>& rows) {
    const TableInfo& t = c.layers[li].table;
    const WeightView table{t.type, t.key_length, (int64_t)t.n_rows, t.mapped, (int64_t)t.row_bytes};
    const int64_t H = c.heads_per_layer(), K = c.key_length;
    const int64_t n_tok = (int64_t)rows.size() / H;
    std::vector<float> e((size_t)(n_tok * H * K));
    for (int64_t i = 0; i < n_tok * H; ++i) dequantize_row(table, (int64_t)rows[i], e.data() + i * K);
    return e;
}

std::vector<uint64_t> hash_rows(const Config& c, int li, const std::vector<int32_t>& tokens) {
    Hasher h(c);
    std::vector<int32_t> comp(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) comp[i] = h.compress(tokens[i]);
    std::vector<uint64_t> rows(tokens.size() * (size_t)c.heads_per_layer());
    h.rows(li, comp.data(), 0, (int64_t)tokens.size(), rows.data());
    return rows;
}

// x + module(x) of a whole sequence from position 0, in pieces of `splits`
// tokens that share one conv history (and one scratch, sized for the largest).
std::vector<float> run(const Config& c, int li, int64_t n_embd, std::vector<float> x, const std::vector<float>& e,
                       const std::vector<int64_t>& splits, ThreadPool& pool, const TensorDumpFn* dump = nullptr) {
    const int64_t n_tok = (int64_t)x.size() / n_embd, E = c.gathered_width();
    int64_t biggest = 0;
    for (int64_t n : splits) biggest = std::max(biggest, n);
    ModuleScratch s;
    s.allocate(c, n_embd, biggest);
    ConvHistory h;
    h.allocate(n_tok, n_embd);
    int64_t p = 0;
    for (int64_t n : splits) {
        forward(c, c.layers[li], n_embd, x.data() + p * n_embd, e.data() + p * E, n, p,
                c.form == Form::Demo ? &h : nullptr, s, pool, dump);
        p += n;
    }
    return x;
}

// splitmix64: random inputs without storing them.
struct Rng {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    float uniform() { return (float)((next() >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f; }
};

}  // namespace

class TestEngramModule : public QObject {
    Q_OBJECT

    // Every golden run of one fixture: our rows and outputs against the reference.
    void check_golden(int fixture_index, const char* form) {
        const nlohmann::json g = golden();
        const auto& fx = g["fixtures"][fixture_index];
        QCOMPARE(fx["form"].get<std::string>(), std::string(form));
        auto l = load(fixture_path(fx["file"].get<std::string>()));
        QVERIFY2(l.ok(), l.ok() ? "" : l.message().c_str());
        const Config& c = l->cfg;
        QCOMPARE(c.form == Form::Demo, std::string(form) == "demo");
        const int64_t n = l->hp.n_embd;
        ThreadPool pool(4);
        double worst = 0;
        for (const auto& r : fx["runs"]) {
            const int64_t il = r["layer"].get<int64_t>();
            const int li = c.index_of_layer(il);
            QVERIFY2(li >= 0, qPrintable(QString("layer %1 has no Engram module").arg(il)));
            const auto tokens = r["tokens"].get<std::vector<int32_t>>();
            const int64_t T = (int64_t)tokens.size();

            // The rows first, so that a hashing fault is not reported as a forward fault.
            const auto rows = hash_rows(c, li, tokens);
            const auto& grows = r["rows"];
            for (int64_t t = 0; t < T; ++t)
                for (int64_t h = 0; h < c.heads_per_layer(); ++h)
                    QVERIFY2(rows[t * c.heads_per_layer() + h] == grows[t][h].get<uint64_t>(),
                             qPrintable(QString("%1 layer %2 position %3 head %4: row %5, reference %6")
                                            .arg(form).arg(il).arg(t).arg(h)
                                            .arg(rows[t * c.heads_per_layer() + h])
                                            .arg(grows[t][h].get<uint64_t>())));

            std::vector<float> x;
            for (double v : r["x"]) x.push_back((float)v);
            QCOMPARE((int64_t)x.size(), T * n);
            const auto out = run(c, li, n, x, gather(c, li, rows), {T}, pool);
            const auto& ref = r["out"];
            double layer_worst = 0, update = 0;
            int64_t at = 0;
            for (int64_t i = 0; i < T * n; ++i) {
                const double want = ref[i].get<double>();
                const double err = std::fabs((double)out[i] - want) / (1.0 + std::fabs(want));
                if (err > layer_worst) layer_worst = err, at = i;
                update = std::max(update, std::fabs(want - (double)x[i]));
            }
            qInfo("%s layer %lld: max |ours - ref| / (1 + |ref|) = %.3g (position %lld, channel %lld), "
                  "largest update of x %.3g",
                  form, (long long)il, layer_worst, (long long)(at / n), (long long)(at % n), update);
            QVERIFY2(update > 0.5, "the golden update is too small to tell a module from none");
            QVERIFY2(layer_worst <= kRelTol,
                     qPrintable(QString("%1 layer %2 position %3 channel %4: ours %5, reference %6")
                                    .arg(form).arg(il).arg(at / n).arg(at % n)
                                    .arg(out[at], 0, 'g', 9).arg(ref[at].get<double>(), 0, 'g', 12)));
            worst = std::max(worst, layer_worst);
        }
        qInfo("%s: worst relative error %.3g (bound %.1g)", form, worst, kRelTol);
    }

private slots:
    void v41MatchesReference() { check_golden(0, "v41"); }
    void demoMatchesReference() { check_golden(1, "demo"); }

    // Incremental decoding must equal the full-sequence forward: the golden
    // run in the reference's pieces (5 + 1 + 6) and one token at a time, and
    // a long sequence whose whole-batch run takes the multi-threaded path.
    void demoIncrementalEqualsFull() {
        const nlohmann::json g = golden();
        const auto& fx = g["fixtures"][1];
        auto l = load(fixture_path(fx["file"].get<std::string>()));
        QVERIFY2(l.ok(), l.ok() ? "" : l.message().c_str());
        const Config& c = l->cfg;
        QVERIFY(c.form == Form::Demo);
        const int64_t n = l->hp.n_embd;
        ThreadPool pool4(4), pool1(1);
        for (const auto& r : fx["runs"]) {
            const int li = c.index_of_layer(r["layer"].get<int64_t>());
            const auto tokens = r["tokens"].get<std::vector<int32_t>>();
            const int64_t T = (int64_t)tokens.size();
            std::vector<float> x;
            for (double v : r["x"]) x.push_back((float)v);
            const auto e = gather(c, li, hash_rows(c, li, tokens));
            const auto full = run(c, li, n, x, e, {T}, pool4);
            const auto pieces = run(c, li, n, x, e, g["splits"].get<std::vector<int64_t>>(), pool4);
            const auto single = run(c, li, n, x, e, std::vector<int64_t>((size_t)T, 1), pool1);
            QVERIFY2(std::memcmp(full.data(), pieces.data(), full.size() * sizeof(float)) == 0,
                     "5 + 1 + 6 differs from the whole run");
            QVERIFY2(std::memcmp(full.data(), single.data(), full.size() * sizeof(float)) == 0,
                     "one token at a time differs from the whole run");
            QVERIFY(full != x);
        }

        // 320 positions x 64 channels is past the module's threshold for
        // threads; random tokens and hidden states.
        Rng rng{42};
        const int64_t T = 320;
        std::vector<int32_t> tokens((size_t)T);
        for (auto& t : tokens) t = (int32_t)(rng.next() % (uint64_t)l->hp.n_vocab);
        std::vector<float> x((size_t)(T * n));
        for (auto& v : x) v = 2.0f * rng.uniform();
        for (int li = 0; li < (int)c.layers.size(); ++li) {
            const auto e = gather(c, li, hash_rows(c, li, tokens));
            const auto full = run(c, li, n, x, e, {T}, pool4);
            const auto pieces = run(c, li, n, x, e, {100, 1, 1, 57, 161}, pool4);
            const auto single = run(c, li, n, x, e, std::vector<int64_t>((size_t)T, 1), pool1);
            QVERIFY2(std::memcmp(full.data(), pieces.data(), full.size() * sizeof(float)) == 0,
                     "long sequence: pieces differ from the whole run");
            QVERIFY2(std::memcmp(full.data(), single.data(), full.size() * sizeof(float)) == 0,
                     "long sequence: one token at a time differs from the whole run");
        }
    }

    // The named intermediates are what a debugger compares with the
    // reference: each is dumped once per call with its layer and shape, and
    // engram_out is exactly what was added to x.
    void dumpsNameEveryIntermediate() {
        for (const char* file : {"module-v41.gguf", "module-demo.gguf"}) {
            auto l = load(fixture_path(file));
            QVERIFY2(l.ok(), l.ok() ? "" : l.message().c_str());
            const Config& c = l->cfg;
            const int64_t n = l->hp.n_embd, T = 7;
            const int li = 1;
            const int64_t il = c.layers[li].layer;
            std::vector<int32_t> tokens = {5, 9, 2, 6, 5, 3, 5};
            Rng rng{7};
            std::vector<float> x((size_t)(T * n));
            for (auto& v : x) v = rng.uniform();
            std::map<std::string, std::vector<float>> seen;
            bool layer_ok = true, shape_ok = true;
            TensorDumpFn dump = [&](const char* name, int64_t layer, const float* data, int64_t n_tok, int64_t w) {
                layer_ok = layer_ok && layer == il;
                const bool per_pos = std::strcmp(name, "engram_gate") == 0;
                shape_ok = shape_ok && n_tok == T && w == (per_pos ? 1 : n);
                seen[name].assign(data, data + n_tok * w);
            };
            ThreadPool pool(2);
            const auto out = run(c, li, n, x, gather(c, li, hash_rows(c, li, tokens)), {T}, pool, &dump);
            QVERIFY2(layer_ok, "a dump named the wrong layer");
            QVERIFY2(shape_ok, "a dump had the wrong shape");
            std::vector<std::string> want = {"engram_key", "engram_value", "engram_gate", "engram_out"};
            if (c.form == Form::Demo) want.insert(want.end(), {"engram_conv_in", "engram_conv"});
            for (const auto& name : want) QVERIFY2(seen.count(name), (std::string(file) + ": no " + name).c_str());
            QCOMPARE(seen.size(), want.size());
            for (size_t i = 0; i < x.size(); ++i) QCOMPARE(out[i], x[i] + seen["engram_out"][i]);
            for (float gte : seen["engram_gate"]) QVERIFY(gte > 0.0f && gte < 1.0f);
        }
    }

    // A fixture cut short anywhere (header, metadata, tensor table, data) is
    // an error naming the file, never a crash or a half-loaded config.
    void truncatedFileIsAnError() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        for (const char* file : {"module-v41.gguf", "module-demo.gguf"}) {
            std::ifstream in(fixture_path(file), std::ios::binary);
            const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            QVERIFY(bytes.size() > 4096);
            for (size_t keep : {bytes.size() - 1, bytes.size() - 4096, bytes.size() / 2, (size_t)2000, (size_t)100,
                                (size_t)10}) {
                const std::string path = dir.path().toStdString() + "/cut-" + std::to_string(keep) + "-" + file;
                std::ofstream(path, std::ios::binary).write(bytes.data(), (std::streamsize)keep);
                auto l = load(path);
                QVERIFY2(!l.ok(), qPrintable(QString("%1 cut to %2 bytes loaded").arg(file).arg(keep)));
                QVERIFY2(l.message().find(path) != std::string::npos,
                         qPrintable(QString("error does not name the file: %1").arg(l.message().c_str())));
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestEngramModule)
#include "test_engram_module.moc"
