// Reading the Engram configuration: a small valid file of each form loads
// with the right shapes and offsets, and each kind of corruption a converter
// or a truncated download could produce is an error that names the key or
// tensor at fault. The base is the committed tiny llama3 model.
#include <QtTest>
#include <QTemporaryDir>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>

#include "config.h"
#include "core/fp16.h"
#include "forge.h"
#include "gguf/gguf.h"
#include "test_env.h"

using namespace eg;
using namespace eg::engram;

namespace {

constexpr int64_t kEmbd = 64, kVocab = 272, kBlocks = 2;

// Everything the test file gets, valid by default; each case changes a field.
struct Spec {
    bool demo = false;
    std::vector<int32_t> layer_ids = {1};
    uint32_t heads = 2, key_length = 32, max_ngram = 3;
    std::vector<uint64_t> multipliers = {3, 0x9E3779B97F4A7C15ull, 11};
    std::vector<uint64_t> primes = {31, 37, 41, 43};
    std::vector<uint64_t> offsets = {0, 31, 68, 109};
    std::vector<int32_t> token_map;
    uint32_t pad_id = 0;
    int64_t table_width = 32;
    int64_t table_rows = 152;  // sum of primes
    GgmlType table_type = GgmlType::F16;
    int64_t wkv_out = 2 * kEmbd;
    bool with_q = true;
    bool both_forms = false;
    GgmlType norm_type = GgmlType::F32;

    Spec() {
        for (int i = 0; i < kVocab; ++i) token_map.push_back(i % 100);
    }
    int64_t E() const { return (int64_t)((max_ngram - 1) * heads * key_length); }
};

std::vector<uint8_t> f32_bytes(size_t n, float v0, float step) {
    std::vector<uint8_t> b(n * 4);
    for (size_t i = 0; i < n; ++i) {
        const float x = v0 + step * (float)i;
        std::memcpy(b.data() + 4 * i, &x, 4);
    }
    return b;
}

std::vector<uint8_t> f16_bytes(size_t n, float v0, float step) {
    std::vector<uint8_t> b(n * 2);
    for (size_t i = 0; i < n; ++i) {
        const uint16_t h = fp32_to_fp16(v0 + step * (float)(i % 97));
        std::memcpy(b.data() + 2 * i, &h, 2);
    }
    return b;
}

HParams tiny_hparams() {
    HParams hp;
    hp.arch = "llama";
    hp.n_vocab = kVocab;
    hp.n_embd = kEmbd;
    hp.n_layer = kBlocks;
    hp.rms_eps = 1e-6f;
    return hp;
}

class Files {
public:
    Files() {
        auto b = GgufFile::open(eg_test::fixture("reference/arch/llama3-tiny.gguf"));
        if (!b.ok()) qFatal("%s", b.message().c_str());
        base_ = std::move(b.value());
    }
    const GgufFile& base() const { return *base_; }

    std::string write(const Spec& s, const QTemporaryDir& dir, const std::string& name) const {
        GgufWriter w;
        for (const auto& [k, v] : base_->metadata()) w.set_value(k, v);
        for (const auto& t : base_->tensors())
            w.add_tensor_ref(t.name, t.type, std::vector<int64_t>(t.ne, t.ne + t.n_dims), t.data, t.n_bytes);
        const std::string K = "llama.engram.";
        w.set_i32_array(K + "layer_ids", s.layer_ids);
        w.set_u32(K + "head_count", s.heads);
        w.set_u32(K + "key_length", s.key_length);
        w.set_u32(K + "max_ngram_size", s.max_ngram);
        w.set_u64_array(K + "multipliers", s.multipliers);
        w.set_u64_array(K + "primes", s.primes);
        w.set_u64_array(K + "offsets", s.offsets);
        w.set_i32_array(K + "token_map", s.token_map);
        w.set_u32(K + "pad_id", s.pad_id);
        if (s.demo) w.set_u32(K + "conv_kernel_size", 4);
        auto vec = [&](int64_t n, float v0) {
            return s.norm_type == GgmlType::F32 ? f32_bytes((size_t)n, v0, 0.001f) : f16_bytes((size_t)n, v0, 0.001f);
        };
        std::vector<int32_t> blocks = s.layer_ids;
        std::sort(blocks.begin(), blocks.end());
        blocks.erase(std::unique(blocks.begin(), blocks.end()), blocks.end());
        for (int32_t il : blocks) {
            const std::string b = "blk." + std::to_string(il) + ".";
            w.add_tensor(b + "engram_embd.weight", s.table_type, {s.table_width, s.table_rows},
                         s.table_type == GgmlType::F16 ? f16_bytes((size_t)(s.table_width * s.table_rows), -0.5f, 0.01f)
                                                       : f32_bytes((size_t)(s.table_width * s.table_rows), -0.5f, 0.01f));
            const int64_t E = s.E();
            if (!s.demo || s.both_forms)
                w.add_tensor(b + "engram_wkv.weight", GgmlType::F16, {E, s.wkv_out}, f16_bytes((size_t)(E * s.wkv_out), 0, 0.001f));
            if (s.demo || s.both_forms) {
                w.add_tensor(b + "engram_key.weight", GgmlType::F16, {E, kEmbd}, f16_bytes((size_t)(E * kEmbd), 0, 0.001f));
                w.add_tensor(b + "engram_key.bias", s.norm_type, {kEmbd}, vec(kEmbd, 0.1f));
                w.add_tensor(b + "engram_value.weight", GgmlType::F16, {E, kEmbd}, f16_bytes((size_t)(E * kEmbd), 0, 0.002f));
                w.add_tensor(b + "engram_value.bias", s.norm_type, {kEmbd}, vec(kEmbd, 0.2f));
                w.add_tensor(b + "engram_conv.weight", s.norm_type, {4, kEmbd}, vec(4 * kEmbd, 0.3f));
                w.add_tensor(b + "engram_conv_norm.weight", s.norm_type, {kEmbd}, vec(kEmbd, 1.0f));
            }
            if (s.with_q) w.add_tensor(b + "engram_q.weight", s.norm_type, {kEmbd}, vec(kEmbd, 1.0f));
            w.add_tensor(b + "engram_k.weight", s.norm_type, {kEmbd, 1}, vec(kEmbd, 2.0f));
        }
        const std::string path = dir.filePath(QString::fromStdString(name)).toStdString();
        Status st = w.write(path);
        if (!st) qFatal("%s", st.message().c_str());
        return path;
    }

private:
    std::unique_ptr<GgufFile> base_;
};

struct Loaded {
    std::unique_ptr<GgufFile> file;
    Result<Config> config = Error{"not read"};
};

Loaded load(const std::string& path) {
    Loaded l;
    auto f = GgufFile::open(path);
    if (!f.ok()) {
        l.config = f.error();
        return l;
    }
    l.file = std::move(f.value());
    l.config = read_config(*l.file, tiny_hparams());
    return l;
}

}  // namespace

class TestEngramConfig : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    Files files_;
    int n_ = 0;

    // The file of spec s must be rejected with an error naming `field`
    // (and the file), and containing `reason` when given.
    void expect_error(const Spec& s, const std::string& field, const std::string& reason = "") {
        const std::string path = files_.write(s, dir_, "bad" + std::to_string(n_++) + ".gguf");
        const Loaded l = load(path);
        QVERIFY2(!l.config.ok(), qPrintable(QString::fromStdString("accepted, expected an error about " + field)));
        const std::string& m = l.config.message();
        QVERIFY2(m.find(path) != std::string::npos, m.c_str());
        QVERIFY2(m.find(field) != std::string::npos, qPrintable(QString::fromStdString("'" + m + "' does not name " + field)));
        if (!reason.empty()) QVERIFY2(m.find(reason) != std::string::npos, m.c_str());
    }

private slots:
    void baseHasNoEngram() { QVERIFY(!has_engram(files_.base())); }

    void validV41Loads() {
        const Spec s;
        const std::string path = files_.write(s, dir_, "v41.gguf");
        const Loaded l = load(path);
        QVERIFY2(l.config.ok(), l.config.ok() ? "" : l.config.message().c_str());
        QVERIFY(has_engram(*l.file));
        const Config& c = l.config.value();
        QCOMPARE(c.form, Form::V41);
        QCOMPARE(c.layer_ids, (std::vector<int64_t>{1}));
        QCOMPARE(c.head_count, 2);
        QCOMPARE(c.key_length, 32);
        QCOMPARE(c.max_ngram, 3);
        QCOMPARE(c.heads_per_layer(), 4);
        QCOMPARE(c.gathered_width(), 128);
        QCOMPARE(c.multipliers, s.multipliers);  // a value above 2^63 survives
        QCOMPARE(c.n_compressed, 100);
        QCOMPARE(c.pad_id, 0);
        QCOMPARE(c.norm_eps, 1e-6f);
        QCOMPARE(c.index_of_layer(1), 0);
        QCOMPARE(c.index_of_layer(0), -1);
        QCOMPARE((int)c.layers.size(), 1);
        const LayerTensors& lt = c.layers[0];
        QCOMPARE(lt.layer, 1);
        QCOMPARE(lt.table.n_rows, 152ull);
        QCOMPARE(lt.table.row_bytes, 64ull);
        QCOMPARE(c.table_bytes(), 152ull * 64);
        QCOMPARE(lt.wkv.k, 128);
        QCOMPARE(lt.wkv.n, 128);
        QCOMPARE(lt.wkv.type, GgmlType::F16);
        QVERIFY(lt.q_norm && lt.k_norm);
        QCOMPARE(lt.q_norm[3], 1.003f);
        QCOMPARE(lt.k_norm[0], 2.0f);  // [n_embd, 1] accepted
        // file_offset points at row 0 in the file itself (for pread).
        std::ifstream in(path, std::ios::binary);
        in.seekg((std::streamoff)lt.table.file_offset);
        std::vector<char> row(lt.table.row_bytes);
        in.read(row.data(), (std::streamsize)row.size());
        QVERIFY(in.good());
        QVERIFY(std::memcmp(row.data(), lt.table.mapped, row.size()) == 0);
        const auto expect = f16_bytes(32, -0.5f, 0.01f);
        QVERIFY(std::memcmp(row.data(), expect.data(), row.size()) == 0);
        const std::string d = describe(c);
        QVERIFY2(d.find("DeepSeek-V4.1") != std::string::npos && d.find("152 rows") != std::string::npos, d.c_str());
        // A copy keeps its norm pointers valid.
        Config copy = c;
        QCOMPARE(copy.layers[0].q_norm[3], 1.003f);
    }

    void validDemoLoadsWithF16Vectors() {
        Spec s;
        s.demo = true;
        s.norm_type = GgmlType::F16;
        const Loaded l = load(files_.write(s, dir_, "demo.gguf"));
        QVERIFY2(l.config.ok(), l.config.ok() ? "" : l.config.message().c_str());
        const Config& c = l.config.value();
        QCOMPARE(c.form, Form::Demo);
        QCOMPARE(c.conv_kernel, 4);
        const LayerTensors& lt = c.layers[0];
        QCOMPARE(lt.key.k, 128);
        QCOMPARE(lt.key.n, kEmbd);
        QCOMPARE(lt.value.n, kEmbd);
        QVERIFY(lt.key_bias && lt.value_bias && lt.conv && lt.conv_norm);
        QCOMPARE(lt.value_bias[0], fp16_to_fp32(fp32_to_fp16(0.2f)));
        QCOMPARE(lt.conv[5], fp16_to_fp32(fp32_to_fp16(0.3f + 0.005f)));  // [n_embd][kernel]: channel 1, tap 1
    }

    void primesNotSummingToTableRows() {
        Spec s;
        s.table_rows = 150;
        expect_error(s, "blk.1.engram_embd.weight", "sum to 152");
    }
    void offsetsInconsistent() {
        Spec s;
        s.offsets[2] = 69;
        expect_error(s, "llama.engram.offsets[2]");
    }
    void tokenMapValueOutOfRange() {
        Spec s;
        s.token_map[5] = (int32_t)kVocab;
        expect_error(s, "llama.engram.token_map[5]", "out of range");
        s.token_map[5] = -1;
        expect_error(s, "llama.engram.token_map[5]", "out of range");
    }
    void tokenMapWrongLength() {
        Spec s;
        s.token_map.pop_back();
        expect_error(s, "llama.engram.token_map", "271 entries");
    }
    void padIdOutOfRange() {
        Spec s;
        s.pad_id = 100;
        expect_error(s, "llama.engram.pad_id", "out of range");
    }
    void layerIdBeyondBlockCount() {
        Spec s;
        s.layer_ids = {2};
        expect_error(s, "llama.engram.layer_ids[0]", "does not exist");
        s.layer_ids = {1, 1};
        s.multipliers = {3, 5, 7, 9, 11, 13};
        s.primes = {31, 37, 41, 43, 31, 37, 41, 43};
        s.offsets = {0, 31, 68, 109, 0, 31, 68, 109};
        expect_error(s, "llama.engram.layer_ids[1]", "twice");
    }
    void tableWrongWidth() {
        Spec s;
        s.table_width = 16;
        expect_error(s, "blk.1.engram_embd.weight", "key_length");
    }
    // Any gatherable type of any width its blocks divide: F32 rows of 16.
    void f32TableWithNarrowRowsLoads() {
        Spec s;
        s.key_length = 16;
        s.table_width = 16;
        s.table_type = GgmlType::F32;
        const Loaded l = load(files_.write(s, dir_, "f32table.gguf"));
        QVERIFY2(l.config.ok(), l.config.ok() ? "" : l.config.message().c_str());
    }
    void missingQNorm() {
        Spec s;
        s.with_q = false;
        expect_error(s, "blk.1.engram_q.weight", "missing");
    }
    void bothFormsPresent() {
        Spec s;
        s.both_forms = true;
        expect_error(s, "blk.1.engram_wkv.weight", "both module forms");
    }
    void wrongMultipliersCount() {
        Spec s;
        s.multipliers.pop_back();
        expect_error(s, "llama.engram.multipliers", "expected 3");
    }
    void wrongPrimesCount() {
        Spec s;
        s.primes.pop_back();
        expect_error(s, "llama.engram.primes", "expected 4");
    }
    void hyperConnectionsRejected() {
        Spec s;
        s.wkv_out = 3 * kEmbd;
        expect_error(s, "blk.1.engram_wkv.weight", "hyper-connections (hc=2) are not supported");
    }
    void rangesChecked() {
        Spec s;
        s.max_ngram = 9;
        expect_error(s, "llama.engram.max_ngram_size", "out of range");
        Spec h;
        h.heads = 65;
        expect_error(h, "llama.engram.head_count", "out of range");
    }
};

QTEST_APPLESS_MAIN(TestEngramConfig)
#include "test_engram_config.moc"
