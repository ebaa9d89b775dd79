// GGUF reader tests: files made by GgufWriter (and by hand, for every value
// type) read back exactly, v2 files read, the real default model opens, and a
// catalogue of malformed, truncated and randomly mutated files all give an
// error naming the file and the field: never a crash, never a huge allocation.
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "model/model.h"
#include "runtime/session.h"
#include "test_env.h"

// --- allocation watch --------------------------------------------------------
// The reader must never allocate by a count it has not checked against the
// file. Replacing the global operator new lets a test see the largest single
// allocation made while a file was opened.
namespace {
std::atomic<std::size_t> g_peak_alloc_bytes{0};
void note_alloc(std::size_t n) {
    std::size_t cur = g_peak_alloc_bytes.load(std::memory_order_relaxed);
    while (n > cur && !g_peak_alloc_bytes.compare_exchange_weak(cur, n, std::memory_order_relaxed)) {}
}
void* alloc_or_throw(std::size_t n) {
    note_alloc(n);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t n) { return alloc_or_throw(n); }
void* operator new[](std::size_t n) { return alloc_or_throw(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
// The nothrow forms too (std::stable_sort's buffer, in the tokenizer a model
// load builds): their memory comes back through the operators above.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    note_alloc(n);
    return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    note_alloc(n);
    return std::malloc(n ? n : 1);
}
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

using eg::GgmlType;
using eg::GgufFile;
using eg::GgufType;
using eg::GgufWriter;
using Bytes = std::vector<uint8_t>;

// Nothing the reader does for a file of a few KiB (or the 100 MB model, whose
// largest arrays are 49,152 string views) needs more than this in one piece.
constexpr std::size_t kMaxSingleAllocBytes = 16u << 20;

constexpr uint64_t kHuge = 1ull << 62;

// Hand-built GGUF bytes, for the shapes GgufWriter will not produce.
class Raw {
public:
    Raw& u8(uint8_t v) { return put(v); }
    Raw& u16(uint16_t v) { return put(v); }
    Raw& u32(uint32_t v) { return put(v); }
    Raw& u64(uint64_t v) { return put(v); }
    Raw& i8(int8_t v) { return put(v); }
    Raw& i16(int16_t v) { return put(v); }
    Raw& i32(int32_t v) { return put(v); }
    Raw& i64(int64_t v) { return put(v); }
    Raw& f32(float v) { return put(v); }
    Raw& f64(double v) { return put(v); }
    Raw& chars(std::string_view s) {
        // resize + memcpy: GCC 12 warns falsely (-Wstringop-overflow) on insert().
        const size_t at = b_.size();
        b_.resize(at + s.size());
        if (!s.empty()) std::memcpy(b_.data() + at, s.data(), s.size());
        return *this;
    }
    Raw& str(std::string_view s) { return u64(s.size()).chars(s); }
    Raw& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
        return chars("GGUF").u32(version).u64(n_tensors).u64(n_kv);
    }
    Raw& key(std::string_view k, GgufType t) { return str(k).u32((uint32_t)t); }
    Raw& array(std::string_view k, GgufType elem, uint64_t count) {
        return key(k, GgufType::ARRAY).u32((uint32_t)elem).u64(count);
    }
    Raw& tensor(std::string_view name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
        str(name).u32((uint32_t)ne.size());
        for (uint64_t n : ne) u64(n);
        return u32(type).u64(offset);
    }
    Raw& zeros(size_t n) {
        b_.resize(b_.size() + n, 0);
        return *this;
    }
    Raw& pad(size_t alignment) { return zeros((alignment - b_.size() % alignment) % alignment); }
    const Bytes& bytes() const { return b_; }
    QByteArray qbytes() const { return QByteArray(reinterpret_cast<const char*>(b_.data()), (qsizetype)b_.size()); }

private:
    template <class T>
    Raw& put(T v) {
        const size_t at = b_.size();
        b_.resize(at + sizeof(T));
        std::memcpy(b_.data() + at, &v, sizeof(T));
        return *this;
    }
    Bytes b_;
};

constexpr uint32_t kF32 = (uint32_t)GgmlType::F32;
constexpr uint32_t kQ4_0 = (uint32_t)GgmlType::Q4_0;
constexpr uint32_t kQ4_K = (uint32_t)GgmlType::Q4_K;

// One F32 tensor "w" of `ne` at `offset`, with `data_bytes` of data after the
// (32-aligned) tensor table.
Raw one_tensor(std::vector<uint64_t> ne, uint32_t type = kF32, uint64_t offset = 0, size_t data_bytes = 128) {
    Raw r;
    r.header(1, 0).tensor("w", std::move(ne), type, offset).pad(32).zeros(data_bytes);
    return r;
}

Bytes random_bytes(std::mt19937_64& rng, size_t n) {
    Bytes b(n);
    for (auto& x : b) x = (uint8_t)rng();
    return b;
}

void write_file(const std::string& path, const Bytes& b) {
    // A new file each time: truncating one that holds data makes ext4 flush it
    // to disk on close (auto_da_alloc), which turns thousands of rewrites into seconds.
    std::filesystem::remove(path);
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), (std::streamsize)b.size());
}

struct Opened {
    eg::Result<std::unique_ptr<GgufFile>> file;
    std::size_t peak_alloc_bytes;
};

Opened open_watched(const std::string& path) {
    g_peak_alloc_bytes.store(0);
    auto r = GgufFile::open(path);
    return {std::move(r), g_peak_alloc_bytes.load()};
}

int64_t n_elements(const std::vector<int64_t>& ne) {
    int64_t n = 1;
    for (int64_t x : ne) n *= x;
    return n;
}

// Words that every "this file is cut short" message uses one of.
bool says_truncated(const std::string& m) {
    for (const char* w : {"truncated", "past the end", "cannot fit", "too short", "empty", "are left", "file ends"})
        if (m.find(w) != std::string::npos) return true;
    return false;
}

// "<path>: <field>: <reason>" with a non-empty field and reason.
bool names_path_and_field(const std::string& m, const std::string& path) {
    if (m.rfind(path + ": ", 0) != 0) return false;
    const std::string rest = m.substr(path.size() + 2);
    const size_t colon = rest.find(": ");
    return colon != std::string::npos && colon > 0 && colon + 2 < rest.size();
}

}  // namespace

class TestGguf : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;
    std::string path(const std::string& name) const { return (tmp_.path() + "/").toStdString() + name; }

    // A small valid file with metadata of every writer type and several tensor types.
    struct Small {
        GgufWriter w;
        std::map<std::string, Bytes> data;  // tensor name -> bytes
        std::map<std::string, std::pair<GgmlType, std::vector<int64_t>>> shape;
        std::vector<std::string> order;
    };
    static Small make_small(uint32_t alignment, bool set_alignment) {
        Small s;
        std::mt19937_64 rng(42 + alignment);
        if (set_alignment) s.w.set_alignment(alignment);
        s.w.set_string("general.architecture", "llama");
        s.w.set_string("general.name", "tiny \xe2\x9c\x93 test");  // UTF-8 kept as bytes
        s.w.set_string("general.empty", "");
        s.w.set_u8("t.u8", 200);
        s.w.set_u32("llama.block_count", 30);
        s.w.set_i32("t.i32", -123456);
        s.w.set_u64("t.u64", 0xfedcba9876543210ull);
        s.w.set_f32("t.f32", 1e-5f);
        s.w.set_bool("t.true", true);
        s.w.set_bool("t.false", false);
        s.w.set_string_array("tokenizer.ggml.tokens", {"<s>", "", "\xc4\xa0the", "hello world", std::string(300, 'x')});
        s.w.set_string_array("t.empty_strings", {});
        s.w.set_i32_array("tokenizer.ggml.token_type", {1, -2, 3, 2147483647, -2147483647 - 1});
        s.w.set_u64_array("t.u64s", {0, 1, 0xffffffffffffffffull});
        s.w.set_f32_array("t.f32s", {0.5f, -1.25f, 3.0e38f});
        const std::vector<std::pair<std::string, std::pair<GgmlType, std::vector<int64_t>>>> tensors = {
            {"token_embd.weight", {GgmlType::F32, {8, 3}}},
            {"blk.0.attn_norm.weight", {GgmlType::F16, {16}}},
            {"blk.0.attn_q.weight", {GgmlType::Q4_0, {64, 2}}},
            {"blk.0.ffn_up.weight", {GgmlType::Q8_0, {32, 1, 1, 3}}},
            {"blk.0.ffn_down.weight", {GgmlType::Q4_K, {256, 2}}},
            {"blk.0.attn_k.weight", {GgmlType::BF16, {4, 2, 3}}},
            {"output.weight", {GgmlType::Q6_K, {256}}},
        };
        for (const auto& [name, sh] : tensors) {
            const int64_t rb = eg::row_bytes(sh.first, sh.second[0]);
            const Bytes d = random_bytes(rng, (size_t)(rb * (n_elements(sh.second) / sh.second[0])));
            s.w.add_tensor(name, sh.first, sh.second, d);
            s.data[name] = d;
            s.shape[name] = sh;
            s.order.push_back(name);
        }
        return s;
    }

    void expect_error(const std::string& name, const Bytes& bytes, const QStringList& needles) {
        const std::string p = path(name + ".gguf");
        write_file(p, bytes);
        Opened o = open_watched(p);
        QVERIFY2(!o.file.ok(), ("a malformed file opened without error: " + name).c_str());
        const std::string m = o.file.message();
        QVERIFY2(names_path_and_field(m, p), ("message does not name the file and a field: " + m).c_str());
        for (const QString& n : needles)
            QVERIFY2(m.find(n.toStdString()) != std::string::npos,
                     ("message lacks \"" + n.toStdString() + "\": " + m).c_str());
        QVERIFY2(o.peak_alloc_bytes <= kMaxSingleAllocBytes,
                 ("allocated " + std::to_string(o.peak_alloc_bytes) + " bytes at once for " + name).c_str());
    }

private slots:
    void initTestCase() { QVERIFY(tmp_.isValid()); }

    // Every key, value and tensor written by GgufWriter reads back equal, for
    // the default alignment and custom ones.
    void writer_round_trip_data() {
        QTest::addColumn<uint32_t>("alignment");
        QTest::addColumn<bool>("set");
        QTest::newRow("default 32") << 32u << false;
        QTest::newRow("1") << 1u << true;
        QTest::newRow("64") << 64u << true;
        QTest::newRow("4096") << 4096u << true;
    }
    void writer_round_trip() {
        QFETCH(uint32_t, alignment);
        QFETCH(bool, set);
        Small s = make_small(alignment, set);
        const std::string p = path("roundtrip-" + std::to_string(alignment) + ".gguf");
        QVERIFY(s.w.write(p).ok());
        QVERIFY(!std::filesystem::exists(p + ".tmp"));
        Opened o = open_watched(p);
        QVERIFY2(o.file.ok(), o.file.ok() ? "" : o.file.message().c_str());
        const GgufFile& f = *o.file.value();
        QCOMPARE(f.version(), 3u);
        QCOMPARE(f.alignment(), (uint64_t)alignment);
        QCOMPARE(f.file_bytes(), (uint64_t)std::filesystem::file_size(p));
        QCOMPARE(f.data_offset() % alignment, 0u);

        QCOMPARE(f.metadata().size(), set ? 16u : 15u);
        QCOMPARE(f.metadata()[set ? 1 : 0].first, std::string("general.architecture"));  // file order kept
        QCOMPARE(f.get_string("general.architecture").value().value(), std::string("llama"));
        QCOMPARE(f.get_string("general.name").value().value(), std::string("tiny \xe2\x9c\x93 test"));
        QCOMPARE(f.get_string("general.empty").value().value(), std::string());
        QCOMPARE(f.find("t.u8")->type, GgufType::U8);
        QCOMPARE(f.find("t.u8")->u, 200u);
        QCOMPARE(f.get_int("llama.block_count").value().value(), 30);
        QCOMPARE(f.find("llama.block_count")->type, GgufType::U32);
        QCOMPARE(f.get_int("t.i32").value().value(), -123456);
        QCOMPARE(f.find("t.u64")->u, 0xfedcba9876543210ull);
        QVERIFY(!f.get_int("t.u64").ok());  // does not fit int64: an error, not a wrap
        QCOMPARE(f.find("t.f32")->type, GgufType::F32);
        QCOMPARE((float)f.get_float("t.f32").value().value(), 1e-5f);
        QCOMPARE(f.get_bool("t.true").value().value(), true);
        QCOMPARE(f.get_bool("t.false").value().value(), false);
        if (set) QCOMPARE(f.get_int("general.alignment").value().value(), (int64_t)alignment);

        auto toks = f.get_string_array("tokenizer.ggml.tokens").value().value();
        const std::vector<std::string_view> want_toks = {"<s>", "", "\xc4\xa0the", "hello world", std::string_view()};
        QCOMPARE(toks.size(), 5u);
        for (size_t k = 0; k < 4; ++k) QCOMPARE(toks[k], want_toks[k]);
        QCOMPARE(toks[4], std::string_view(std::string(300, 'x')));
        QCOMPARE(f.get_string_array("t.empty_strings").value().value().size(), 0u);
        QCOMPARE(f.get_int_array("tokenizer.ggml.token_type").value().value(),
                 (std::vector<int64_t>{1, -2, 3, 2147483647, -2147483648ll}));
        QVERIFY(!f.get_int_array("t.u64s").ok());  // 2^64-1 does not fit int64
        QCOMPARE(f.find("t.u64s")->count, 3u);
        QCOMPARE(f.find("t.u64s")->elem_type, GgufType::U64);
        uint64_t last = 0;
        std::memcpy(&last, f.find("t.u64s")->raw + 16, 8);
        QCOMPARE(last, 0xffffffffffffffffull);
        QCOMPARE(f.get_float_array("t.f32s").value().value(), (std::vector<float>{0.5f, -1.25f, 3.0e38f}));
        QVERIFY(!f.get_string("absent.key").value().has_value());
        QVERIFY(!f.get_int_array("absent.key").value().has_value());

        QCOMPARE(f.tensors().size(), s.order.size());
        uint64_t expect_offset = 0;
        for (size_t k = 0; k < s.order.size(); ++k) {
            const std::string& name = s.order[k];
            const eg::GgufTensorInfo& t = f.tensors()[k];
            QCOMPARE(t.name, name);
            QCOMPARE(f.find_tensor(name), &t);
            const auto& [type, ne] = s.shape[name];
            QCOMPARE(t.type, type);
            QCOMPARE(t.n_dims, (uint32_t)ne.size());
            for (size_t d = 0; d < 4; ++d) QCOMPARE(t.ne[d], d < ne.size() ? ne[d] : 1);
            QCOMPARE(t.n_elements, (uint64_t)n_elements(ne));
            QCOMPARE(t.n_bytes, (uint64_t)s.data[name].size());
            QCOMPARE(t.offset, expect_offset);
            QCOMPARE((f.data_offset() + t.offset) % alignment, 0u);
            QVERIFY(std::memcmp(t.data, s.data[name].data(), t.n_bytes) == 0);
            expect_offset += t.n_bytes;
            expect_offset += (alignment - expect_offset % alignment) % alignment;
        }
        QVERIFY(f.find_tensor("blk.1.attn_q.weight") == nullptr);
        QVERIFY(o.peak_alloc_bytes <= kMaxSingleAllocBytes);
    }

    // All thirteen value types, as scalars and as arrays, from hand-built bytes.
    void every_value_type() {
        Raw r;
        r.header(0, 25);
        r.key("s.u8", GgufType::U8).u8(255);
        r.key("s.i8", GgufType::I8).i8(-128);
        r.key("s.u16", GgufType::U16).u16(65535);
        r.key("s.i16", GgufType::I16).i16(-32768);
        r.key("s.u32", GgufType::U32).u32(4294967295u);
        r.key("s.i32", GgufType::I32).i32(-2147483647 - 1);
        r.key("s.f32", GgufType::F32).f32(-2.5f);
        r.key("s.bool", GgufType::BOOL).u8(1);
        r.key("s.string", GgufType::STRING).str("value");
        r.key("s.u64", GgufType::U64).u64(9223372036854775807ull);
        r.key("s.i64", GgufType::I64).i64(-9223372036854775807ll - 1);
        r.key("s.f64", GgufType::F64).f64(1.0 / 3.0);
        r.array("a.u8", GgufType::U8, 3).u8(0).u8(7).u8(255);
        r.array("a.i8", GgufType::I8, 2).i8(-1).i8(127);
        r.array("a.u16", GgufType::U16, 2).u16(1).u16(65535);
        r.array("a.i16", GgufType::I16, 2).i16(-32768).i16(5);
        r.array("a.u32", GgufType::U32, 2).u32(0).u32(4294967295u);
        r.array("a.i32", GgufType::I32, 2).i32(-7).i32(7);
        r.array("a.f32", GgufType::F32, 2).f32(1.5f).f32(-0.0f);
        r.array("a.bool", GgufType::BOOL, 3).u8(1).u8(0).u8(1);
        r.array("a.string", GgufType::STRING, 2).str("x").str("yz");
        r.array("a.u64", GgufType::U64, 1).u64(123);
        r.array("a.i64", GgufType::I64, 2).i64(-5).i64(9223372036854775807ll);
        r.array("a.f64", GgufType::F64, 2).f64(0.25).f64(-8.0);
        r.array("a.empty", GgufType::U32, 0);
        const std::string p = path("every-type.gguf");
        write_file(p, r.bytes());
        auto res = GgufFile::open(p);
        QVERIFY2(res.ok(), res.ok() ? "" : res.message().c_str());
        const GgufFile& f = *res.value();
        QCOMPARE(f.metadata().size(), 25u);
        QCOMPARE(f.tensors().size(), 0u);
        QCOMPARE(f.get_int("s.u8").value().value(), 255);
        QCOMPARE(f.get_int("s.i8").value().value(), -128);
        QCOMPARE(f.get_int("s.u16").value().value(), 65535);
        QCOMPARE(f.get_int("s.i16").value().value(), -32768);
        QCOMPARE(f.get_int("s.u32").value().value(), 4294967295ll);
        QCOMPARE(f.get_int("s.i32").value().value(), -2147483648ll);
        QCOMPARE(f.get_float("s.f32").value().value(), -2.5);
        QCOMPARE(f.get_bool("s.bool").value().value(), true);
        QCOMPARE(f.get_string("s.string").value().value(), std::string("value"));
        QCOMPARE(f.get_int("s.u64").value().value(), 9223372036854775807ll);
        QCOMPARE(f.get_int("s.i64").value().value(), -9223372036854775807ll - 1);
        QCOMPARE(f.get_float("s.f64").value().value(), 1.0 / 3.0);
        QCOMPARE(f.get_float("s.i16").value().value(), -32768.0);  // integers are numbers too
        const char* scalar_types[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "u64", "i64", "f64"};
        const GgufType types[] = {GgufType::U8, GgufType::I8, GgufType::U16, GgufType::I16, GgufType::U32, GgufType::I32,
                                  GgufType::F32, GgufType::BOOL, GgufType::STRING, GgufType::U64, GgufType::I64, GgufType::F64};
        for (size_t k = 0; k < 12; ++k) {
            QCOMPARE(f.find(std::string("s.") + scalar_types[k])->type, types[k]);
            const eg::GgufValue* a = f.find(std::string("a.") + scalar_types[k]);
            QVERIFY(a);
            QCOMPARE(a->type, GgufType::ARRAY);
            QCOMPARE(a->elem_type, types[k]);
        }
        using V = std::vector<int64_t>;
        QCOMPARE(f.get_int_array("a.u8").value().value(), (V{0, 7, 255}));
        QCOMPARE(f.get_int_array("a.i8").value().value(), (V{-1, 127}));
        QCOMPARE(f.get_int_array("a.u16").value().value(), (V{1, 65535}));
        QCOMPARE(f.get_int_array("a.i16").value().value(), (V{-32768, 5}));
        QCOMPARE(f.get_int_array("a.u32").value().value(), (V{0, 4294967295ll}));
        QCOMPARE(f.get_int_array("a.i32").value().value(), (V{-7, 7}));
        QCOMPARE(f.get_int_array("a.bool").value().value(), (V{1, 0, 1}));
        QCOMPARE(f.get_int_array("a.u64").value().value(), (V{123}));
        QCOMPARE(f.get_int_array("a.i64").value().value(), (V{-5, 9223372036854775807ll}));
        QCOMPARE(f.get_int_array("a.empty").value().value(), V{});
        QCOMPARE(f.get_float_array("a.f32").value().value(), (std::vector<float>{1.5f, -0.0f}));
        QCOMPARE(f.get_float_array("a.f64").value().value(), (std::vector<float>{0.25f, -8.0f}));
        QCOMPARE(f.get_float_array("a.i32").value().value(), (std::vector<float>{-7.0f, 7.0f}));
        QCOMPARE(f.get_string_array("a.string").value().value(), (std::vector<std::string_view>{"x", "yz"}));
        QCOMPARE(f.find("a.string")->count, 2u);
    }

    // Version 2 has the same layout as 3 for little-endian files (64-bit counts).
    void reads_version_2() {
        Small s = make_small(64, true);
        Bytes b = s.w.bytes();
        b[4] = 2;
        const std::string p = path("v2.gguf");
        write_file(p, b);
        auto res = GgufFile::open(p);
        QVERIFY2(res.ok(), res.ok() ? "" : res.message().c_str());
        const GgufFile& f = *res.value();
        QCOMPARE(f.version(), 2u);
        QCOMPARE(f.metadata().size(), 16u);
        QCOMPARE(f.get_string("general.architecture").value().value(), std::string("llama"));
        QCOMPARE(f.get_string_array("tokenizer.ggml.tokens").value().value().size(), 5u);
        QCOMPARE(f.tensors().size(), s.order.size());
        for (const auto& t : f.tensors()) {
            QCOMPARE(t.n_bytes, (uint64_t)s.data[t.name].size());
            QVERIFY(std::memcmp(t.data, s.data[t.name].data(), t.n_bytes) == 0);
        }
    }

    // A typed getter on a value of another type is an error naming file and key.
    void getter_on_wrong_type() {
        Small s = make_small(32, false);
        const std::string p = path("getters.gguf");
        QVERIFY(s.w.write(p).ok());
        auto res = GgufFile::open(p);
        QVERIFY(res.ok());
        const GgufFile& f = *res.value();
        struct Case { const char* key; const char* reason; eg::Status got; };
        auto status = [](const auto& r) { return r.ok() ? eg::Status() : eg::Status(r.error()); };
        const Case cases[] = {
            {"llama.block_count", "expected a string, found u32", status(f.get_string("llama.block_count"))},
            {"general.architecture", "expected an integer, found string", status(f.get_int("general.architecture"))},
            {"tokenizer.ggml.tokens", "expected a number", status(f.get_float("tokenizer.ggml.tokens"))},
            {"t.u8", "expected a bool, found u8", status(f.get_bool("t.u8"))},
            {"tokenizer.ggml.tokens", "expected an integer array", status(f.get_int_array("tokenizer.ggml.tokens"))},
            {"t.f32s", "expected an integer array", status(f.get_int_array("t.f32s"))},
            {"llama.block_count", "expected an array", status(f.get_int_array("llama.block_count"))},
            {"t.u64s", "expected a float array", status(f.get_float_array("t.u64s"))},
            {"tokenizer.ggml.token_type", "expected an array of strings", status(f.get_string_array("tokenizer.ggml.token_type"))},
            {"general.name", "expected an array of strings", status(f.get_string_array("general.name"))},
        };
        for (const Case& c : cases) {
            QVERIFY2(!c.got.ok(), c.key);
            const std::string& m = c.got.message();
            QVERIFY2(m.rfind(p + ": " + c.key + ": ", 0) == 0, m.c_str());
            QVERIFY2(m.find(c.reason) != std::string::npos, m.c_str());
        }
    }

    // The real default model: SmolLM2-135M-Instruct, Q4_1.
    void real_model() {
        const std::string model = eg_test::default_model_path();
        if (!std::filesystem::exists(model))
            QFAIL(("default model not found at " + model + ": run scripts/fetch-model.sh").c_str());
        Opened o = open_watched(model);
        QVERIFY2(o.file.ok(), o.file.ok() ? "" : o.file.message().c_str());
        const GgufFile& f = *o.file.value();
        QCOMPARE(f.version(), 3u);
        QCOMPARE(f.get_string("general.architecture").value().value(), std::string("llama"));
        QCOMPARE(f.get_int("llama.block_count").value().value(), 30);
        QCOMPARE(f.get_int("llama.embedding_length").value().value(), 576);
        QCOMPARE(f.get_int("llama.context_length").value().value(), 8192);
        QCOMPARE(f.get_int("general.file_type").value().value(), 3);  // MOSTLY_Q4_1
        QCOMPARE(f.get_string("tokenizer.ggml.model").value().value(), std::string("gpt2"));
        QCOMPARE(f.get_string("tokenizer.ggml.pre").value().value(), std::string("smollm"));
        QVERIFY(f.get_string("tokenizer.chat_template").value().value().find("<|im_start|>") != std::string::npos);
        const auto tokens = f.get_string_array("tokenizer.ggml.tokens").value().value();
        QCOMPARE(tokens.size(), 49152u);
        QCOMPARE(tokens[1], std::string_view("<|im_start|>"));
        QCOMPARE(f.get_int_array("tokenizer.ggml.token_type").value().value().size(), 49152u);
        QCOMPARE(f.get_string_array("tokenizer.ggml.merges").value().value().size(), 48900u);

        // 30 blocks x 9 tensors + token_embd + output_norm (output tied to token_embd).
        QCOMPARE(f.tensors().size(), 272u);
        std::map<GgmlType, int> by_type;
        for (const auto& t : f.tensors()) {
            ++by_type[t.type];
            QVERIFY(f.data_offset() + t.offset + t.n_bytes <= f.file_bytes());
        }
        QCOMPARE(by_type.size(), 3u);
        QCOMPARE(by_type[GgmlType::Q4_1], 210);
        QCOMPARE(by_type[GgmlType::F32], 61);
        QCOMPARE(by_type[GgmlType::Q8_0], 1);
        const eg::GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
        QVERIFY(embd);
        QCOMPARE(embd->type, GgmlType::Q8_0);
        QCOMPARE(embd->ne[0], 576);
        QCOMPARE(embd->ne[1], 49152);
        QVERIFY(f.find_tensor("blk.29.ffn_down.weight"));
        QVERIFY(!f.find_tensor("blk.30.ffn_down.weight"));
        QVERIFY(!f.find_tensor("output.weight"));
        QVERIFY2(o.peak_alloc_bytes <= kMaxSingleAllocBytes, std::to_string(o.peak_alloc_bytes).c_str());

        // The same model cut short (an interrupted download) names a tensor.
        const uint64_t keep = f.data_offset() + (8u << 20);
        Bytes head(keep);
        {
            std::ifstream in(model, std::ios::binary);
            in.read(reinterpret_cast<char*>(head.data()), (std::streamsize)keep);
            QVERIFY(in.good());
        }
        expect_error("model-cut", head, {"tensor ", "data ends at byte", "truncated download"});
    }

    // Every prefix of the header, metadata and tensor table, and a sampling
    // of prefixes that cut the data section, are errors.
    void truncated_everywhere() {
        Small s = make_small(64, true);
        const Bytes full = s.w.bytes();
        const std::string p = path("truncated.gguf");
        write_file(p, full);
        auto whole = GgufFile::open(p);
        QVERIFY(whole.ok());
        const uint64_t data_offset = whole.value()->data_offset();
        uint64_t data_end = 0;
        for (const auto& t : whole.value()->tensors()) data_end = std::max(data_end, data_offset + t.offset + t.n_bytes);
        whole = eg::Error{"closed"};
        QVERIFY(data_offset > 400);  // the sweep below covers a real header

        std::vector<uint64_t> cuts;
        for (uint64_t n = 0; n < data_offset; ++n) cuts.push_back(n);
        for (uint64_t n = data_offset; n < data_end; n += 13) cuts.push_back(n);
        cuts.push_back(data_end - 1);
        for (uint64_t n : cuts) {
            write_file(p, Bytes(full.begin(), full.begin() + (ptrdiff_t)n));
            Opened o = open_watched(p);
            QVERIFY2(!o.file.ok(), ("file cut to " + std::to_string(n) + " bytes opened").c_str());
            const std::string m = o.file.message();
            QVERIFY2(names_path_and_field(m, p), m.c_str());
            QVERIFY2(says_truncated(m), m.c_str());
            QVERIFY(o.peak_alloc_bytes <= kMaxSingleAllocBytes);
        }
        qInfo("%zu truncation points (header region %llu bytes, data to %llu)", cuts.size(),
              (unsigned long long)data_offset, (unsigned long long)data_end);
        // Only the padding after the last tensor may go.
        write_file(p, Bytes(full.begin(), full.begin() + (ptrdiff_t)data_end));
        QVERIFY(GgufFile::open(p).ok());
    }

    void malformed_data() {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QStringList>("needles");
        auto row = [](const char* tag, const Raw& r, QStringList needles) {
            QTest::newRow(tag) << r.qbytes() << needles;
        };
        // header
        row("empty file", Raw(), {"header", "empty"});
        row("3 bytes", Raw().chars("GGU"), {"header", "too short"});
        row("bad magic", Raw().chars("GGUX").u32(3).u64(0).u64(0), {"header", "magic"});
        row("lowercase magic", Raw().chars("gguf").u32(3).u64(0).u64(0), {"header", "magic"});
        row("version 1", Raw().header(0, 0, 1), {"header.version", "version 1"});
        row("version 4", Raw().header(0, 0, 4), {"header.version", "version 4"});
        row("version 0", Raw().header(0, 0, 0), {"header.version", "version 0"});
        row("version 2^32-1", Raw().header(0, 0, 0xffffffffu), {"header.version", "4294967295"});
        row("version only", Raw().chars("GGUF").u32(3).u32(0), {"header.tensor_count", "file ends"});
        row("n_kv 2^62", Raw().header(0, kHuge).zeros(64), {"header.metadata_kv_count", "4611686018427387904", "cannot fit"});
        row("n_kv 2^64-1", Raw().header(0, ~0ull).zeros(64), {"header.metadata_kv_count", "cannot fit"});
        row("n_tensors 2^62", Raw().header(kHuge, 0).zeros(64), {"header.tensor_count", "4611686018427387904", "cannot fit"});
        row("n_tensors 2^64-1", Raw().header(~0ull, 0).zeros(64), {"header.tensor_count", "cannot fit"});
        row("n_kv one too many", Raw().header(0, 2).key("a", GgufType::U32).u32(1).u64(20).zeros(6),
            {"metadata entry 1 key", "past the end"});
        // keys
        row("key length 2^62", Raw().header(0, 1).u64(kHuge).zeros(32), {"metadata entry 0 key", "string length", "exceeds"});
        row("key length 2^64-1", Raw().header(0, 1).u64(~0ull).zeros(32), {"metadata entry 0 key", "exceeds"});
        row("key longer than file", Raw().header(0, 1).u64(100).zeros(20), {"metadata entry 0 key", "past the end"});
        row("key 70000 bytes", Raw().header(0, 1).str(std::string(70000, 'k')).u32(4).u32(1), {"metadata entry 0 key", "exceeds the limit"});
        row("empty key", Raw().header(0, 1).str("").u32(0).u8(1).zeros(8), {"metadata entry 0", "empty key"});
        row("duplicate key", Raw().header(0, 2).key("general.name", GgufType::STRING).str("a").key("general.name", GgufType::STRING).str("b"),
            {"general.name", "appears twice"});
        // value types
        row("value type 13", Raw().header(0, 1).key("x.bad", (GgufType)13).u64(0), {"x.bad", "value type 13"});
        row("value type 2^32-1", Raw().header(0, 1).key("x.bad", (GgufType)0xffffffffu).u64(0), {"x.bad", "value type 4294967295"});
        row("bool 2", Raw().header(0, 1).key("x.flag", GgufType::BOOL).u8(2).zeros(8), {"x.flag", "boolean value is 2"});
        row("bool 255", Raw().header(0, 1).key("x.flag", GgufType::BOOL).u8(255).zeros(8), {"x.flag", "boolean value is 255"});
        row("u64 value cut", Raw().header(0, 1).key("x.n", GgufType::U64).u32(7), {"x.n", "file ends inside a u64 value"});
        // strings
        row("string length 2^62", Raw().header(0, 1).key("general.name", GgufType::STRING).u64(kHuge).zeros(32),
            {"general.name", "string length 4611686018427387904"});
        row("string length 2^64-1", Raw().header(0, 1).key("general.name", GgufType::STRING).u64(~0ull).zeros(32),
            {"general.name", "string length 18446744073709551615"});
        row("string 1 byte too long", Raw().header(0, 1).key("general.name", GgufType::STRING).u64(9).chars("12345678"),
            {"general.name", "runs past the end"});
        // arrays
        row("string array count 2^62", Raw().header(0, 1).array("tokenizer.ggml.tokens", GgufType::STRING, kHuge).str("a").zeros(64),
            {"tokenizer.ggml.tokens", "4611686018427387904 strings", "are left"});
        row("string array count 2^64-1", Raw().header(0, 1).array("tokenizer.ggml.tokens", GgufType::STRING, ~0ull).zeros(64),
            {"tokenizer.ggml.tokens", "strings", "are left"});
        row("string array element 2^62", Raw().header(0, 1).array("tokenizer.ggml.tokens", GgufType::STRING, 2).str("a").u64(kHuge).zeros(64),
            {"tokenizer.ggml.tokens[1]", "string length"});
        row("u8 array count 2^62", Raw().header(0, 1).array("x.arr", GgufType::U8, kHuge).zeros(64), {"x.arr", "array of 4611686018427387904 u8", "past the end"});
        row("u32 array count 2^62", Raw().header(0, 1).array("x.arr", GgufType::U32, kHuge).zeros(64), {"x.arr", "u32", "past the end"});
        row("u64 array count 2^61 (bytes wrap to 0)", Raw().header(0, 1).array("x.arr", GgufType::U64, 1ull << 61).zeros(64),
            {"x.arr", "u64", "past the end"});
        row("f32 array count 2^64-1", Raw().header(0, 1).array("x.arr", GgufType::F32, ~0ull).zeros(64), {"x.arr", "f32", "past the end"});
        row("i32 array 1 element too many", Raw().header(0, 1).array("x.arr", GgufType::I32, 3).i32(1).i32(2), {"x.arr", "past the end"});
        row("nested array", Raw().header(0, 1).array("x.arr", GgufType::ARRAY, 1).u32(4).u64(1).u32(5), {"x.arr", "nested arrays"});
        row("array element type 13", Raw().header(0, 1).array("x.arr", (GgufType)13, 1).zeros(16), {"x.arr", "element type 13"});
        row("bool array element 2", Raw().header(0, 1).array("x.flags", GgufType::BOOL, 3).u8(1).u8(2).u8(0),
            {"x.flags[1]", "boolean"});
        // general.alignment
        auto aligned = [](GgufType t, uint64_t v) {
            Raw r;
            r.header(1, 1).key("general.alignment", t);
            if (t == GgufType::U32) r.u32((uint32_t)v);
            else if (t == GgufType::U64) r.u64(v);
            else if (t == GgufType::I32) r.i32((int32_t)v);
            else r.str("32");
            r.tensor("w", {32}, kF32, 0).pad(64).zeros(128);
            return r;
        };
        row("alignment 0", aligned(GgufType::U32, 0), {"general.alignment", "power of two"});
        row("alignment 3", aligned(GgufType::U32, 3), {"general.alignment", "power of two"});
        row("alignment 48", aligned(GgufType::U32, 48), {"general.alignment", "power of two"});
        row("alignment 2^21", aligned(GgufType::U32, 1u << 21), {"general.alignment", "power of two"});
        row("alignment -32", aligned(GgufType::I32, (uint64_t)-32), {"general.alignment", "power of two"});
        row("alignment 2^64-1", aligned(GgufType::U64, ~0ull), {"general.alignment", "power of two"});
        row("alignment as string", aligned(GgufType::STRING, 0), {"general.alignment", "power of two"});
        // tensor table
        row("tensor name 2000 bytes", Raw().header(1, 0).tensor(std::string(2000, 'n'), {32}, kF32, 0).pad(32).zeros(128),
            {"tensor 0 name", "exceeds the limit"});
        row("tensor name length 2^62", Raw().header(1, 0).u64(kHuge).zeros(64), {"tensor 0 name", "exceeds"});
        row("duplicate tensor name", Raw().header(2, 0).tensor("w", {32}, kF32, 0).tensor("w", {32}, kF32, 128).pad(32).zeros(256),
            {"tensor w", "name appears twice"});
        row("0 dimensions", Raw().header(1, 0).tensor("w", {}, kF32, 0).pad(32).zeros(128), {"tensor w", "0 dimensions"});
        row("5 dimensions", Raw().header(1, 0).tensor("w", {2, 2, 2, 2, 2}, kF32, 0).pad(32).zeros(256), {"tensor w", "5 dimensions"});
        row("2^32-1 dimensions", Raw().header(1, 0).str("w").u32(0xffffffffu).zeros(64), {"tensor w", "4294967295 dimensions"});
        row("zero dimension", one_tensor({32, 0}), {"tensor w", "dimension 1 is 0"});
        row("zero first dimension", one_tensor({0}), {"tensor w", "dimension 0 is 0"});
        row("dimension 2^63", one_tensor({1ull << 63}), {"tensor w", "dimension 0 is 9223372036854775808"});
        row("elements overflow 2^64", one_tensor({1ull << 32, 1ull << 32}), {"tensor w", "element count overflows"});
        row("elements 2^63", one_tensor({1ull << 32, 1ull << 31}), {"tensor w", "element count overflows"});
        row("elements overflow in dim 3", one_tensor({1ull << 20, 1ull << 20, 1ull << 20, 1ull << 20}), {"tensor w", "element count overflows"});
        row("bytes overflow 2^64 (F32 x 2^62)", one_tensor({1ull << 31, 1ull << 31}), {"tensor w", "byte size overflows"});
        row("unknown tensor type 99", one_tensor({32}, 99), {"tensor w", "unknown tensor type 99"});
        row("removed tensor type 4 (Q4_2)", one_tensor({32}, 4), {"tensor w", "unknown tensor type 4"});
        row("tensor type 2^32-1", one_tensor({32}, 0xffffffffu), {"tensor w", "unknown tensor type 4294967295"});
        row("Q4_0 row of 33", one_tensor({33, 2}, kQ4_0), {"tensor w", "row length 33", "Q4_0 block size 32"});
        row("Q4_K row of 32", one_tensor({32}, kQ4_K), {"tensor w", "row length 32", "Q4_K block size 256"});
        row("offset unaligned", one_tensor({8}, kF32, 16), {"tensor w", "data offset 16 is not aligned to 32"});
        row("offset 1 with alignment 64",
            Raw().header(1, 1).key("general.alignment", GgufType::U32).u32(64).tensor("w", {8}, kF32, 1).pad(64).zeros(128),
            {"tensor w", "not aligned to 64"});
        row("tensor data past the end", one_tensor({64}, kF32, 0, 200), {"tensor w", "data ends at byte", "truncated"});
        row("tensor offset 2^40", one_tensor({8}, kF32, 1ull << 40), {"tensor w", "data ends at byte", "GiB"});
        row("tensor offset + size wraps", one_tensor({64}, kF32, ~0ull - 31), {"tensor w", "data ends at byte"});
        row("second tensor past the end",
            Raw().header(2, 0).tensor("a", {32}, kF32, 0).tensor("b", {32}, kF32, 128).pad(32).zeros(200),
            {"tensor b", "data ends at byte"});
        row("tensor table cut", Raw().header(1, 0).str("wwwww").u32(2).u64(32), {"tensor wwwww", "file ends inside the tensor table"});
        row("data section past the end", Raw().header(1, 0).tensor("w", {32}, kF32, 0), {"data section", "past the end"});
        row("tensors overlap", Raw().header(2, 0).tensor("a", {64}, kF32, 0).tensor("b", {8}, kF32, 128).pad(32).zeros(256),
            {"tensor b", "overlaps tensor a"});
        row("tensors at one offset", Raw().header(2, 0).tensor("a", {8}, kF32, 0).tensor("b", {8}, kF32, 0).pad(32).zeros(64),
            {"overlaps tensor"});
        row("overlap listed out of order",
            Raw().header(3, 0).tensor("c", {8}, kF32, 256).tensor("a", {8}, kF32, 0).tensor("b", {64}, kF32, 224).pad(32).zeros(512),
            {"tensor c", "overlaps tensor b"});
    }
    void malformed() {
        QFETCH(QByteArray, bytes);
        QFETCH(QStringList, needles);
        const Bytes b(bytes.begin(), bytes.end());
        QString tag = QTest::currentDataTag();
        tag.replace(QRegularExpression("[^A-Za-z0-9]+"), "_");
        expect_error("malformed-" + tag.toStdString(), b, needles);
    }

    void not_a_file() {
        {
            auto r = GgufFile::open(path("does-not-exist.gguf"));
            QVERIFY(!r.ok());
            QVERIFY2(r.message().find(path("does-not-exist.gguf") + ": open: ") == 0, r.message().c_str());
        }
        {
            auto r = GgufFile::open(tmp_.path().toStdString());
            QVERIFY(!r.ok());
            QVERIFY2(r.message().find("not a regular file") != std::string::npos, r.message().c_str());
        }
    }

    // Counts that fit in a large file must still not size an allocation before
    // the entries are read: a 4 GiB file of zeros behind a hostile header.
    // (The file is sparse: it takes no disk space.)
    void huge_counts_in_large_file_data() {
        QTest::addColumn<QByteArray>("header");
        QTest::addColumn<QString>("needle");
        QTest::newRow("n_kv 2^28") << Raw().header(0, 1ull << 28).qbytes() << "empty key";
        QTest::newRow("n_tensors 2^27") << Raw().header(1ull << 27, 0).qbytes() << "0 dimensions";
        QTest::newRow("string array 2^28")
            << Raw().header(0, 1).array("tokenizer.ggml.tokens", GgufType::STRING, 1ull << 28).u64(kHuge).qbytes()
            << "tokenizer.ggml.tokens[0]";
    }
    void huge_counts_in_large_file() {
        QFETCH(QByteArray, header);
        QFETCH(QString, needle);
        const std::string p = path("sparse.gguf");
        write_file(p, Bytes(header.begin(), header.end()));
        std::filesystem::resize_file(p, 4ull << 30);
        Opened o = open_watched(p);
        std::filesystem::remove(p);
        QVERIFY(!o.file.ok());
        QVERIFY2(names_path_and_field(o.file.message(), p), o.file.message().c_str());
        QVERIFY2(o.file.message().find(needle.toStdString()) != std::string::npos, o.file.message().c_str());
        QVERIFY2(o.peak_alloc_bytes <= kMaxSingleAllocBytes,
                 ("allocated " + std::to_string(o.peak_alloc_bytes) + " bytes at once").c_str());
    }

    // Random byte mutations of the header region: an error or a consistent
    // file, never a crash (ASan/UBSan builds check the "never").
    void fuzz_header_mutations() {
        Small s = make_small(32, true);
        const Bytes base = s.w.bytes();
        const std::string p = path("fuzz.gguf");
        write_file(p, base);
        uint64_t header_bytes = 0;
        {
            auto whole = GgufFile::open(p);
            QVERIFY(whole.ok());
            header_bytes = whole.value()->data_offset();
        }
        std::mt19937_64 rng(20261129);
        const int iterations = 3000;
        int opened = 0, rejected = 0;
        for (int it = 0; it < iterations; ++it) {
            Bytes b = base;
            const int n_mut = 1 + (int)(rng() % 4);
            for (int m = 0; m < n_mut; ++m) {
                const size_t at = (size_t)(rng() % header_bytes);
                switch (rng() % 5) {
                    case 0: b[at] = (uint8_t)rng(); break;
                    case 1: b[at] ^= (uint8_t)(1u << (rng() % 8)); break;
                    case 2: b[at] = (rng() & 1) ? 0xff : 0x00; break;
                    case 3: {  // a random 64-bit count or length
                        const uint64_t v = rng() >> (rng() % 64);
                        std::memcpy(b.data() + at, &v, std::min<size_t>(8, b.size() - at));
                        break;
                    }
                    default: b[at] = (uint8_t)(b[at] + 1); break;
                }
            }
            if (rng() % 8 == 0) b.resize((size_t)(rng() % b.size()));
            write_file(p, b);
            Opened o = open_watched(p);
            QVERIFY2(o.peak_alloc_bytes <= kMaxSingleAllocBytes, ("iteration " + std::to_string(it)).c_str());
            if (!o.file.ok()) {
                ++rejected;
                QVERIFY2(names_path_and_field(o.file.message(), p), o.file.message().c_str());
                continue;
            }
            ++opened;
            // Whatever was accepted must be usable: touch every value and tensor byte range.
            const GgufFile& f = *o.file.value();
            uint64_t sum = 0;
            for (const auto& [k, v] : f.metadata()) {
                for (char c : v.s) sum += (uint8_t)c;
                for (auto sv : v.strings) sum += sv.size();
                (void)f.get_int_array(k);
                (void)f.get_float_array(k);
                (void)f.get_string(k);
                (void)f.get_float(k);
            }
            for (const auto& t : f.tensors()) {
                QVERIFY(f.data_offset() + t.offset + t.n_bytes <= f.file_bytes());
                sum += t.data[0] + t.data[t.n_bytes - 1];
            }
            QVERIFY(sum != 1);  // keeps the reads
        }
        qInfo("%d mutated files: %d rejected, %d opened", iterations, rejected, opened);
        QVERIFY(rejected > iterations / 2);
    }

    // The MoE reference models (qwen3moe, olmoe, gpt-oss: expert counts and
    // stacked expert tensors) with random mutations of their headers, loaded
    // as models: a sentence naming the file, or a model that runs a few
    // tokens; never a crash (the ASan/UBSan pass runs this test too).
    void fuzz_moe_models_data() {
        QTest::addColumn<QString>("file");
        QTest::newRow("qwen3moe") << "reference/moe/qwen3moe-tiny.gguf";
        QTest::newRow("olmoe") << "reference/moe/olmoe-tiny.gguf";
        QTest::newRow("gpt-oss") << "reference/gptoss/gptoss-tiny.gguf";
    }
    void fuzz_moe_models() {
        QFETCH(QString, file);
        std::ifstream in(eg_test::fixture(file.toStdString()), std::ios::binary);
        const Bytes base{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        QVERIFY(base.size() > 1000);
        const std::string p = path("moe-fuzz.gguf");
        write_file(p, base);
        uint64_t header_bytes = 0;
        {
            auto whole = GgufFile::open(p);
            QVERIFY(whole.ok());
            header_bytes = whole.value()->data_offset();
        }
        std::mt19937_64 rng(20261206);
        const int iterations = 300;
        int loaded = 0, rejected = 0;
        for (int it = 0; it < iterations; ++it) {
            Bytes b = base;
            for (int m = 0, n = 1 + (int)(rng() % 3); m < n; ++m) {
                const size_t at = (size_t)(rng() % header_bytes);
                switch (rng() % 3) {
                    case 0: b[at] = (uint8_t)rng(); break;
                    case 1: b[at] ^= (uint8_t)(1u << (rng() % 8)); break;
                    default: b[at] = (uint8_t)(b[at] + 1 - 2 * (int)(rng() & 1)); break;
                }
            }
            write_file(p, b);
            auto m = eg::Model::load(p);
            if (!m.ok()) {
                ++rejected;
                QVERIFY2(m.message().find(p) != std::string::npos, m.message().c_str());
                continue;
            }
            ++loaded;
            auto sess = eg::Session::create(*m.value(), eg::SessionOptions{64, 16, 0});
            if (!sess.ok()) continue;  // e.g. a context the mutated keys make impossible: said, not crashed
            const std::vector<int32_t> toks{1, 2, 3, 4};
            (void)sess.value()->eval(toks);
        }
        qInfo("%d mutated models: %d rejected, %d loaded and ran", iterations, rejected, loaded);
        QVERIFY(rejected > 0);
    }
};

QTEST_APPLESS_MAIN(TestGguf)
#include "test_gguf.moc"
