// The mixture-of-experts shape of a GGUF (model/moe_shape.h) on the tiny
// random-weight qwen3moe and olmoe models of tests/reference/moe/ (written by
// gguf-py, run by llama.cpp), and on malformed copies of them: each
// disagreement between the expert keys and the expert tensors is refused
// with one sentence naming the key or the tensor, by the planner too.
#include <QTemporaryDir>
#include <QtTest>

#include <functional>
#include <set>
#include <string>

#include "gguf/gguf.h"
#include "model/model.h"
#include "model/moe_shape.h"
#include "plan/model_info.h"
#include "test_env.h"

using namespace eg;

namespace {

std::string model_path(const char* name) { return eg_test::fixture(std::string("reference/moe/") + name); }

// A copy of `src` with its keys passed through `key` (return false to drop
// one; it may write another value instead) and its tensors through `tensor`
// (return false to drop; it may change the shape it passes on).
using KeyEdit = std::function<bool(const std::string& key, GgufWriter& w)>;
using TensorEdit = std::function<bool(const GgufTensorInfo& t, std::vector<int64_t>& ne, uint64_t& n_bytes)>;

Status write_variant(const GgufFile& src, const std::string& out, const KeyEdit& key, const TensorEdit& tensor) {
    GgufWriter w;
    for (const auto& [k, v] : src.metadata())
        if (key(k, w)) w.set_value(k, v);
    for (const GgufTensorInfo& t : src.tensors()) {
        std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
        uint64_t n_bytes = t.n_bytes;
        if (tensor(t, ne, n_bytes)) w.add_tensor_ref(t.name, t.type, ne, t.data, n_bytes);
    }
    return w.write(out);
}

}  // namespace

class TestMoeShape : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;

    // The variant's error from the reader, the planner (model_info) and the
    // model loader (which runs the experts): the same sentence, naming
    // `names` and the file.
    void refused(const char* what, const KeyEdit& key, const TensorEdit& tensor, const std::string& names) {
        auto src = GgufFile::open(model_path("qwen3moe-tiny.gguf"));
        QVERIFY(src.ok());
        const std::string out = dir_.filePath(QString(what).replace(' ', '_') + ".gguf").toStdString();
        EG_VERIFY_OK(write_variant(*src.value(), out, key, tensor));
        auto f = GgufFile::open(out);
        EG_VERIFY_OK(f);
        auto s = read_moe_shape(*f.value(), "qwen3moe", 3, 64);
        QVERIFY2(!s.ok(), what);
        QVERIFY2(s.message().find(names) != std::string::npos && s.message().find(out) != std::string::npos,
                 qPrintable(QString("%1: %2").arg(what, QString::fromStdString(s.message()))));
        auto mi = model_info(*f.value());
        QVERIFY2(!mi.ok() && mi.message() == s.message(), what);
        auto m = Model::load(out);
        QVERIFY2(!m.ok() && m.message() == s.message(),
                 qPrintable(QString("%1: the loader says: %2").arg(what, QString::fromStdString(m.message()))));
    }

    static KeyEdit keep_keys() {
        return [](const std::string&, GgufWriter&) { return true; };
    }
    static TensorEdit keep_tensors() {
        return [](const GgufTensorInfo&, std::vector<int64_t>&, uint64_t&) { return true; };
    }
    static KeyEdit set_key(const std::string& name, uint32_t value) {
        return [name, value](const std::string& k, GgufWriter& w) {
            if (k != name) return true;
            w.set_u32(k, value);
            return false;
        };
    }

private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    // The tiny models as written: 8 experts, 2 used, width 32, in each of 3 blocks.
    void reads_the_tiny_models() {
        for (const char* arch : {"qwen3moe", "olmoe"}) {
            auto f = GgufFile::open(model_path((std::string(arch) + "-tiny.gguf").c_str()));
            EG_VERIFY_OK(f);
            auto s = read_moe_shape(*f.value(), arch, 3, 64);
            EG_VERIFY_OK(s);
            QVERIFY(s.value().has_value());
            const MoeShape& m = *s.value();
            QCOMPARE(m.n_expert, 8);
            QCOMPARE(m.n_expert_used, 2);
            QCOMPARE(m.n_ff_exp, 32);
            QCOMPARE(m.layers.size(), size_t(3));
            // F32 gate, up and down of one expert: 3 matrices of 64 x 32 floats.
            for (const MoeLayer& l : m.layers) QCOMPARE(l.expert_bytes, uint64_t(3 * 64 * 32 * 4));
            QCOMPARE(m.expert_bytes(), uint64_t(3 * 8 * 3 * 64 * 32 * 4));
            // The planner sees the experts as part of each block, and apart.
            auto mi = model_info(*f.value());
            EG_VERIFY_OK(mi);
            QCOMPARE(mi->n_expert, 8);
            QCOMPARE(mi->n_expert_used, 2);
            QCOMPARE(mi->expert_bytes(), m.expert_bytes());
            for (int il = 0; il < 3; ++il) QVERIFY(mi->block_weight_bytes[il] > mi->block_expert_bytes[il]);
        }
        // A dense model has no MoE shape.
        auto dense = GgufFile::open(eg_test::fixture("reference/arch/qwen3-tiny.gguf"));
        EG_VERIFY_OK(dense);
        auto none = read_moe_shape(*dense.value(), "qwen3", 2, 64);
        EG_VERIFY_OK(none);
        QVERIFY(!none.value().has_value());
    }

    void more_used_than_experts() {
        refused("used above count", set_key("qwen3moe.expert_used_count", 9), keep_tensors(),
                "qwen3moe.expert_used_count: 9 is out of range [1, 8]");
    }
    void no_expert_used() {
        refused("used zero", set_key("qwen3moe.expert_used_count", 0), keep_tensors(),
                "qwen3moe.expert_used_count: 0 is out of range");
    }
    void count_disagrees_with_the_tensors() {
        refused("count 4", set_key("qwen3moe.expert_count", 4), keep_tensors(),
                "tensor blk.0.ffn_gate_inp.weight: shape [64, 8], expected [64, 4]");
    }
    void width_disagrees_with_the_tensors() {
        refused("width 16", set_key("qwen3moe.expert_feed_forward_length", 16), keep_tensors(),
                "tensor blk.0.ffn_gate_exps.weight: shape [64, 32, 8], expected [64, 16, 8]");
    }
    void experts_without_a_count() {
        refused("no count", [](const std::string& k, GgufWriter&) { return k != "qwen3moe.expert_count"; },
                keep_tensors(), "blk.0.ffn_gate_exps.weight: an expert matrix, but qwen3moe.expert_count is missing");
    }
    void an_expert_matrix_missing() {
        refused("no down", keep_keys(),
                [](const GgufTensorInfo& t, std::vector<int64_t>&, uint64_t&) {
                    return t.name != "blk.2.ffn_down_exps.weight";
                },
                "tensor blk.2.ffn_down_exps.weight: missing");
    }
    void one_expert_short() {
        // blk.1's up matrix holds 7 experts: its bytes shrink with its shape.
        refused("up short", keep_keys(),
                [](const GgufTensorInfo& t, std::vector<int64_t>& ne, uint64_t& n_bytes) {
                    if (t.name == "blk.1.ffn_up_exps.weight") {
                        ne[2] = 7;
                        n_bytes = n_bytes / 8 * 7;
                    }
                    return true;
                },
                "tensor blk.1.ffn_up_exps.weight: shape [64, 32, 7], expected [64, 32, 8]");
    }
    void a_router_without_experts() {
        refused("router only", keep_keys(),
                [](const GgufTensorInfo& t, std::vector<int64_t>&, uint64_t&) {
                    return t.name.rfind("blk.0.ffn_", 0) != 0 || t.name == "blk.0.ffn_gate_inp.weight" ||
                           t.name == "blk.0.ffn_norm.weight";
                },
                "tensor blk.0.ffn_gate_inp.weight: a router in a block without experts");
    }
};

QTEST_GUILESS_MAIN(TestMoeShape)
#include "test_moe_shape.moc"
