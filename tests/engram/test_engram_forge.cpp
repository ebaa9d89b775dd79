// The token map and the forge on the real SmolLM2 model: our compression of
// its vocabulary equals what HF `tokenizers` gives with the paper's
// normaliser (make_token_map_golden.py), and forged files of both forms and
// both table types read back with the keys, shapes and weights promised.
#include <QtTest>
#include <QTemporaryDir>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "config.h"
#include "core/fp16.h"
#include "cpu/matmul.h"
#include "forge.h"
#include "model/model.h"
#include "test_env.h"
#include "token_map.h"

using namespace eg;
using namespace eg::engram;

namespace {

// The golden map, decoded from its "+ = next new class" text form.
std::vector<int32_t> golden_map() {
    std::ifstream in(eg_test::fixture("reference/engram/smollm2_token_map.txt"));
    if (!in) qFatal("smollm2_token_map.txt is missing");
    std::vector<int32_t> m;
    int32_t top = -1;
    std::string line;
    while (std::getline(in, line)) {
        if (line == "+") m.push_back(++top);
        else m.push_back((int32_t)std::stol(line));
    }
    return m;
}

nlohmann::json golden_meta() {
    std::ifstream in(eg_test::fixture("reference/engram/smollm2_token_map.json"));
    return nlohmann::json::parse(in);
}

bool is_prime(uint64_t n) {
    if (n < 2) return false;
    for (uint64_t d = 2; d * d <= n; ++d)
        if (n % d == 0) return false;
    return true;
}

struct Forged {
    std::unique_ptr<GgufFile> file;
    Config config;
};

}  // namespace

class TestEngramForge : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    std::unique_ptr<Model> base_;

    std::string out(const std::string& name) { return dir_.filePath(QString::fromStdString(name)).toStdString(); }

    ForgeOptions small(Form form, GgmlType type, const std::string& name) {
        ForgeOptions o;
        o.base_path = eg_test::default_model_path();
        o.out_path = out(name);
        o.form = form;
        o.layers = {1, 15};
        o.max_ngram = 3;
        o.heads = 4;
        o.key_length = 64;
        o.rows_per_head = 1009;
        o.type = type;
        o.seed = 42;
        return o;
    }

    // Forges and reads back; QVERIFY failures leave f.file empty.
    Forged forge_and_read(const ForgeOptions& o) {
        Forged f;
        const Status st = forge(o);
        if (!st) {
            qWarning("%s", st.message().c_str());
            return f;
        }
        auto file = GgufFile::open(o.out_path);
        if (!file.ok()) {
            qWarning("%s", file.message().c_str());
            return f;
        }
        auto c = read_config(*file.value(), base_->hparams());
        if (!c.ok()) {
            qWarning("%s", c.message().c_str());
            return f;
        }
        f.file = std::move(file.value());
        f.config = std::move(c.value());
        return f;
    }

    // What every forged file must be.
    void check_common(const Forged& f, const ForgeOptions& o) {
        const Config& c = f.config;
        QCOMPARE(c.layer_ids, o.layers);
        QCOMPARE(c.max_ngram, o.max_ngram);
        QCOMPARE(c.head_count, o.heads);
        QCOMPARE(c.key_length, o.key_length);
        // Primes: strictly increasing (so unique across heads and layers),
        // prime, the first the smallest prime >= rows_per_head.
        QCOMPARE((int64_t)c.primes.size(), (int64_t)o.layers.size() * c.heads_per_layer());
        QCOMPARE(c.primes[0], 1009ull);
        for (size_t i = 0; i < c.primes.size(); ++i) {
            QVERIFY2(is_prime(c.primes[i]), qPrintable(QString::number(c.primes[i])));
            if (i) QVERIFY(c.primes[i] > c.primes[i - 1]);
        }
        QCOMPARE(c.primes, find_primes(o.rows_per_head, (int64_t)o.layers.size(), o.max_ngram, o.heads));
        const auto meta = golden_meta();
        QCOMPARE(c.n_compressed, meta["n_classes"].get<int64_t>());
        QCOMPARE(c.token_map, golden_map());
        QCOMPARE(c.pad_id, (int64_t)c.token_map[(size_t)*base_->file().get_int("tokenizer.ggml.padding_token_id").value()]);
        // Odd multipliers below 2 * half_bound: no product of ids overflows.
        const uint64_t half_bound = (uint64_t)(INT64_MAX / c.n_compressed) / 2;
        for (uint64_t m : c.multipliers) {
            QVERIFY(m % 2 == 1);
            QVERIFY(m < 2 * half_bound);
        }
        for (size_t l = 0; l < c.layers.size(); ++l) {
            const TableInfo& t = c.layers[l].table;
            uint64_t sum = 0;
            for (int64_t h = 0; h < c.heads_per_layer(); ++h) sum += c.primes[l * (size_t)c.heads_per_layer() + (size_t)h];
            QCOMPARE(t.n_rows, sum);
            QCOMPARE(t.type, o.type);
            QCOMPARE(t.row_bytes, o.type == GgmlType::F16 ? 128ull : 68ull);
            // Rows are random in [-1, 1): dequantize a few.
            WeightView w{t.type, t.key_length, (int64_t)t.n_rows, t.mapped, (int64_t)t.row_bytes};
            std::vector<float> row((size_t)t.key_length);
            for (uint64_t r : {uint64_t(0), t.n_rows / 2, t.n_rows - 1}) {
                dequantize_row(w, (int64_t)r, row.data());
                float amax = 0;
                for (float x : row) {
                    QVERIFY(x >= -1.0f && x <= 1.0f);
                    amax = std::max(amax, std::fabs(x));
                }
                QVERIFY(amax > 0.5f);
            }
        }
        // The base is inside, byte for byte.
        for (const char* name : {"token_embd.weight", "blk.0.attn_q.weight", "output_norm.weight"}) {
            const GgufTensorInfo* a = base_->file().find_tensor(name);
            const GgufTensorInfo* b = f.file->find_tensor(name);
            QVERIFY(a && b);
            QCOMPARE(a->n_bytes, b->n_bytes);
            QVERIFY(std::memcmp(a->data, b->data, a->n_bytes) == 0);
        }
        QCOMPARE(f.file->tensors().size(), base_->file().tensors().size() +
                                               o.layers.size() * (o.form == Form::V41 ? 4 : 9));
        auto chat = f.file->get_string("tokenizer.chat_template");
        QVERIFY(chat.ok() && chat.value() && *chat.value() == *base_->chat_template());
        auto tokens = f.file->get_string_array("tokenizer.ggml.tokens");
        QVERIFY(tokens.ok() && tokens.value() && (int64_t)tokens.value()->size() == base_->hparams().n_vocab);
    }

    static bool all_zero(const uint8_t* p, uint64_t n) {
        for (uint64_t i = 0; i < n; ++i)
            if (p[i]) return false;
        return true;
    }

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        auto m = Model::load(eg_test::default_model_path());
        if (!m.ok()) QSKIP(qPrintable("the default model is missing: " + QString::fromStdString(m.message())));
        base_ = std::move(m.value());
    }

    void normalizeAsHfTokenizers() {
        // Expected strings from tokenizers 0.23.3 with the paper's normaliser.
        QCOMPARE(normalize_text("  H\xc3\xa9llo\tWORLD "), std::string("hello world"));
        QCOMPARE(normalize_text(" "), std::string(" "));
        QCOMPARE(normalize_text("\n"), std::string(" "));
        QCOMPARE(normalize_text("\xc4\xb0stanbul"), std::string("istanbul"));
        QCOMPARE(normalize_text("\xef\xac\x81ne"), std::string("fine"));
        QCOMPARE(normalize_text("\xc2\xa0x\xc2\xa0"), std::string("x"));
        QCOMPARE(normalize_text("\xce\xa9\xe0\xa4\x83" "a\xe2\x83\x9d"), std::string("\xcf\x89" "a"));  // Mc, Me dropped
        QCOMPARE(normalize_text("\xe1\xba\x9e\xce\xa3"), std::string("\xc3\x9f\xcf\x83"));
        QCOMPARE(normalize_text("a \n\t b"), std::string("a b"));
        QCOMPARE(normalize_text("\xee\x80\x80"), std::string(" "));
        QCOMPARE(normalize_text("\xe2\x80\x83 \xe3\x80\x80"), std::string(" "));
        QCOMPARE(normalize_text("\x1c" "A\x1c"), std::string("\x1c" "a\x1c"));
        QCOMPARE(normalize_text("\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3\xe2\x91\xa0"), std::string("abc1"));
        QCOMPARE(normalize_text(""), std::string(""));
    }

    // Class count and every entry equal to the HF tokenizers reference.
    void tokenMapOfSmolLM2() {
        int64_t n_classes = 0;
        const auto map = build_token_map(base_->tokenizer(), &n_classes);
        const auto want = golden_map();
        const auto meta = golden_meta();
        QCOMPARE((int64_t)map.size(), meta["n_vocab"].get<int64_t>());
        QCOMPARE((int64_t)want.size(), meta["n_vocab"].get<int64_t>());
        for (size_t i = 0; i < map.size(); ++i) {
            if (map[i] != want[i])
                QFAIL(qPrintable(QString("token %1 (%2): compressed id %3, reference %4")
                                     .arg(i)
                                     .arg(QString::fromStdString(std::string(base_->tokenizer().token_text((int32_t)i))))
                                     .arg(map[i])
                                     .arg(want[i])));
        }
        QCOMPARE(n_classes, meta["n_classes"].get<int64_t>());
    }

    void forgeV41F16() {
        const ForgeOptions o = small(Form::V41, GgmlType::F16, "v41-f16.gguf");
        const Forged f = forge_and_read(o);
        QVERIFY(f.file);
        check_common(f, o);
        QCOMPARE(f.config.form, Form::V41);
        const WeightView& w = f.config.layers[0].wkv;
        QCOMPARE(w.k, 2 * 4 * 64);
        QCOMPARE(w.n, 2 * base_->hparams().n_embd);
        // Both halves carry weights, the value half much smaller.
        const uint64_t half = (uint64_t)(w.n / 2 * w.row_bytes);
        QVERIFY(!all_zero(w.data, half));
        QVERIFY(!all_zero(w.data + half, half));
        QVERIFY(!std::filesystem::exists(o.out_path + ".tmp"));
    }

    void forgeV41Q8ZeroValue() {
        ForgeOptions o = small(Form::V41, GgmlType::Q8_0, "v41-q8-zero.gguf");
        o.zero_value = true;
        const Forged f = forge_and_read(o);
        QVERIFY(f.file);
        check_common(f, o);
        for (const auto& lt : f.config.layers) {
            const uint64_t half = (uint64_t)(lt.wkv.n / 2 * lt.wkv.row_bytes);
            QVERIFY(!all_zero(lt.wkv.data, half));        // key half
            QVERIFY(all_zero(lt.wkv.data + half, half));  // value half
        }
    }

    void forgeDemoQ8() {
        const ForgeOptions o = small(Form::Demo, GgmlType::Q8_0, "demo-q8.gguf");
        const Forged f = forge_and_read(o);
        QVERIFY(f.file);
        check_common(f, o);
        QCOMPARE(f.config.form, Form::Demo);
        QCOMPARE(f.config.conv_kernel, 4);
        const auto& lt = f.config.layers[1];
        QCOMPARE(lt.key.k, 512);
        QCOMPARE(lt.value.n, base_->hparams().n_embd);
        QVERIFY(!all_zero(lt.value.data, (uint64_t)(lt.value.n * lt.value.row_bytes)));
        QVERIFY(lt.value_bias[0] != 0.0f);
        QVERIFY(std::fabs(lt.conv_norm[0] - 1.0f) < 0.2f);
    }

    void forgeDemoF16ZeroValue() {
        ForgeOptions o = small(Form::Demo, GgmlType::F16, "demo-f16-zero.gguf");
        o.zero_value = true;
        const Forged f = forge_and_read(o);
        QVERIFY(f.file);
        check_common(f, o);
        for (const auto& lt : f.config.layers) {
            QVERIFY(all_zero(lt.value.data, (uint64_t)(lt.value.n * lt.value.row_bytes)));
            for (int64_t i = 0; i < base_->hparams().n_embd; ++i) QCOMPARE(lt.value_bias[i], 0.0f);
            QVERIFY(!all_zero(lt.key.data, (uint64_t)(lt.key.n * lt.key.row_bytes)));
        }
    }

    // The same seed gives the same file; another seed other weights.
    void deterministic() {
        ForgeOptions a = small(Form::V41, GgmlType::F16, "det-a.gguf");
        a.layers = {3};
        a.rows_per_head = 101;
        ForgeOptions b = a;
        b.out_path = out("det-b.gguf");
        ForgeOptions c = a;
        c.out_path = out("det-c.gguf");
        c.seed = 43;
        QVERIFY(forge(a).ok() && forge(b).ok() && forge(c).ok());
        auto read = [](const std::string& p) {
            std::ifstream in(p, std::ios::binary);
            return std::vector<char>(std::istreambuf_iterator<char>(in), {});
        };
        QVERIFY(read(a.out_path) == read(b.out_path));
        QVERIFY(read(a.out_path) != read(c.out_path));
    }

    void parseOptions() {
        QCOMPARE(parse_form("v41"), std::optional<Form>(Form::V41));
        QCOMPARE(parse_form("DEMO"), std::optional<Form>(Form::Demo));
        QVERIFY(!parse_form("v4"));
        QCOMPARE(parse_table_type("q8_0"), std::optional<GgmlType>(GgmlType::Q8_0));
        QCOMPARE(parse_table_type("F16"), std::optional<GgmlType>(GgmlType::F16));
        QVERIFY(!parse_table_type("q4_0"));
    }

    void failuresLeaveNoFile() {
        ForgeOptions o = small(Form::V41, GgmlType::F16, "bad-base.gguf");
        o.base_path = out("no-such-model.gguf");
        Status st = forge(o);
        QVERIFY(!st.ok());
        QVERIFY2(st.message().find("no-such-model.gguf") != std::string::npos, st.message().c_str());
        QVERIFY(!std::filesystem::exists(o.out_path));
        QVERIFY(!std::filesystem::exists(o.out_path + ".tmp"));

        o = small(Form::V41, GgmlType::F16, "no-dir/out.gguf");
        st = forge(o);
        QVERIFY(!st.ok());
        QVERIFY2(st.message().find("no-dir/out.gguf") != std::string::npos, st.message().c_str());
        QVERIFY(!std::filesystem::exists(out("no-dir")));

        o = small(Form::V41, GgmlType::F16, "bad-layer.gguf");
        o.layers = {1, 30};
        st = forge(o);
        QVERIFY2(!st.ok() && st.message().find("block 30") != std::string::npos, st.message().c_str());
        QVERIFY(!std::filesystem::exists(o.out_path));

        o = small(Form::V41, GgmlType::Q8_0, "bad-kl.gguf");
        o.key_length = 48;
        st = forge(o);
        QVERIFY2(!st.ok() && st.message().find("--key-length 48") != std::string::npos, st.message().c_str());
        QVERIFY(!std::filesystem::exists(o.out_path));

        // An Engram model is not a base.
        o = small(Form::V41, GgmlType::F16, "twice.gguf");
        o.base_path = out("v41-f16.gguf");
        if (std::filesystem::exists(o.base_path)) {
            st = forge(o);
            QVERIFY2(!st.ok() && st.message().find("Engram") != std::string::npos, st.message().c_str());
            QVERIFY(!std::filesystem::exists(o.out_path));
        }
    }
};

QTEST_APPLESS_MAIN(TestEngramForge)
#include "test_engram_forge.moc"
