// Tokenizer tests: for every vocabulary in tests/reference/tokenizer/*.json
// (written by llama.cpp's own tokenizer through make_tokenizer_golden.py) our
// ids, pieces, detokenized text, EOG and control sets equal llama.cpp's; text
// survives encode -> pieces; StreamDecoder yields only complete UTF-8 that
// adds up to the pieces; malformed vocabularies give an error naming the file
// and key, never a crash.
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "test_env.h"
#include "tokenizer/tokenizer.h"

namespace {

using json = nlohmann::json;

const char* kFixtures[] = {"smollm2",   "llama-bpe", "qwen2",  "gpt-2", "llama-spm", "deepseek-llm", "deepseek-coder",
                           "starcoder", "refact",    "falcon", "mpt",   "phi-3",     "command-r"};

std::string gguf_for(const std::string& fixture) {
    return fixture == "smollm2" ? eg_test::default_model_path() : eg_test::vocab_path(fixture);
}

std::string ids_str(const std::vector<int32_t>& ids) {
    std::string s = "[";
    for (size_t i = 0; i < ids.size(); ++i) {
        if (i) s += ',';
        s += std::to_string(ids[i]);
    }
    return s + "]";
}

std::string printable(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '\t') out += "\\t";
        else if (c < 0x20) { char b[8]; snprintf(b, sizeof b, "\\x%02x", c); out += b; }
        else out += static_cast<char>(c);
    }
    if (out.size() > 160) out = out.substr(0, 160) + "...";
    return "\"" + out + "\"";
}

std::string from_hex(const std::string& hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return out;
}

// Text stored as a JSON string, or as hex under key + "_hex" (not UTF-8).
std::optional<std::string> bytes_field(const json& obj, const std::string& key) {
    if (obj.contains(key)) return obj[key].get<std::string>();
    if (obj.contains(key + "_hex")) return from_hex(obj[key + "_hex"].get<std::string>());
    return std::nullopt;
}

bool valid_utf8(const std::string& s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t len = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3
                   : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
        if (len == 0 || i + len > s.size()) return false;
        for (size_t k = 1; k < len; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        // No overlong forms, no surrogates, nothing past U+10FFFF (RFC 3629).
        const auto c1 = static_cast<unsigned char>(s[i + 1 < s.size() ? i + 1 : i]);
        if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) || (c == 0xF0 && c1 < 0x90) ||
            (c == 0xF4 && c1 > 0x8F))
            return false;
        i += len;
    }
    return true;
}

struct Loaded {
    std::unique_ptr<eg::GgufFile> file;
    std::unique_ptr<eg::Tokenizer> tok;
    json golden;
};

// Fails the test (never skips) when data is missing: the claim is unproven then.
bool load_uncached(const std::string& name, Loaded& out, std::string& why) {
    const std::string path = gguf_for(name);
    if (!std::filesystem::exists(path)) {
        why = path + " is missing: run " +
              (name == "smollm2" ? "scripts/fetch-model.sh" : "scripts/fetch-test-data.sh");
        return false;
    }
    std::ifstream in(eg_test::fixture("reference/tokenizer/" + name + ".json"));
    if (!in) {
        why = "fixture reference/tokenizer/" + name + ".json is missing";
        return false;
    }
    try {
        out.golden = json::parse(in);
    } catch (const json::exception& e) {
        why = "fixture reference/tokenizer/" + name + ".json is not valid JSON: " + e.what();
        return false;
    }
    auto f = eg::GgufFile::open(path);
    if (!f) {
        why = f.message();
        return false;
    }
    out.file = std::move(f.value());
    auto t = eg::Tokenizer::from_gguf(*out.file);
    if (!t) {
        why = t.message();
        return false;
    }
    out.tok = std::move(t.value());
    return true;
}

// Each vocabulary is loaded once for all test functions (a 256k-token
// vocabulary takes a noticeable fraction of a second).
bool load(const std::string& name, const Loaded*& out, std::string& why) {
    static std::map<std::string, std::unique_ptr<Loaded>> cache;
    auto it = cache.find(name);
    if (it == cache.end()) {
        auto l = std::make_unique<Loaded>();
        if (!load_uncached(name, *l, why)) return false;
        it = cache.emplace(name, std::move(l)).first;
    }
    out = it->second.get();
    return true;
}

// A tiny BPE vocabulary, valid unless a test spoils one key.
eg::GgufWriter tiny_bpe() {
    eg::GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_string("tokenizer.ggml.model", "gpt2");
    w.set_string("tokenizer.ggml.pre", "gpt-2");
    w.set_string_array("tokenizer.ggml.tokens", {"a", "b", "ab", "Ġ", "Ġab", "<|endoftext|>"});
    w.set_i32_array("tokenizer.ggml.token_type", {1, 1, 1, 1, 1, 3});
    w.set_string_array("tokenizer.ggml.merges", {"a b", "Ġ ab"});
    w.set_u32("tokenizer.ggml.bos_token_id", 5);
    w.set_u32("tokenizer.ggml.eos_token_id", 5);
    return w;
}

}  // namespace

class TestTokenizer : public QObject {
    Q_OBJECT

private:
    void golden_checks(const std::string& name);

private slots:
    void golden_data();
    void golden();
    void roundtrip_data() { golden_data(); }
    void roundtrip();
    void stream_data() { golden_data(); }
    void stream();
    void stream_split_character();
    void long_inputs();
    void garbage_input_data();
    void garbage_input();
    void tiny_vocab_works();
    void malformed_vocab_data();
    void malformed_vocab();
};

void TestTokenizer::golden_data() {
    QTest::addColumn<QString>("name");
    for (const char* n : kFixtures) QTest::newRow(n) << QString(n);
}

// Every string of the fixture, with add_special/parse_special as recorded,
// gives llama.cpp's ids, pieces and detokenized text.
void TestTokenizer::golden() {
    QFETCH(QString, name);
    try {
        golden_checks(name.toStdString());
    } catch (const json::exception& e) {
        QFAIL(("fixture " + name.toStdString() + ".json does not have the expected layout (regenerate it with "
               "make_tokenizer_golden.py): " + e.what()).c_str());
    }
}

void TestTokenizer::golden_checks(const std::string& name) {
    const Loaded* loaded = nullptr;
    std::string why;
    if (!load(name, loaded, why)) QFAIL(why.c_str());
    const Loaded& L = *loaded;
    const json& g = L.golden;
    const eg::Tokenizer& tok = *L.tok;

    QCOMPARE(tok.n_vocab(), g["n_vocab"].get<int32_t>());
    QCOMPARE(tok.bos_id(), g["bos"].get<int32_t>());
    QCOMPARE(tok.eos_id(), g["eos"].get<int32_t>());
    QCOMPARE(tok.add_bos(), g["add_bos"].get<bool>());
    QCOMPARE(tok.add_eos(), g["add_eos"].get<bool>());
    QCOMPARE(ids_str(tok.eog_ids()), ids_str(g["eog"].get<std::vector<int32_t>>()));
    std::vector<int32_t> control;
    for (int32_t id = 0; id < tok.n_vocab(); ++id)
        if (tok.is_control(id)) control.push_back(id);
    QCOMPARE(ids_str(control), ids_str(g["control"].get<std::vector<int32_t>>()));

    int passed = 0, failed = 0;
    std::string report;
    auto fail = [&](const std::string& msg) {
        if (++failed <= 12) report += msg + "\n";
    };
    for (const json& c : g["cases"]) {
        const std::string text = *bytes_field(c, "text");
        const bool add_special = c["add_special"].get<bool>(), parse_special = c["parse_special"].get<bool>();
        const auto want = c["ids"].get<std::vector<int32_t>>();
        const auto got = tok.encode(text, add_special, parse_special);
        const std::string what = printable(text) + " (add_special=" + (add_special ? "1" : "0") +
                                 ", parse_special=" + (parse_special ? "1" : "0") + ")";
        if (got != want) {
            size_t d = 0;
            while (d < got.size() && d < want.size() && got[d] == want[d]) ++d;
            fail("ids differ for " + what + "\n  llama.cpp: " + ids_str(want) + "\n  ours:      " + ids_str(got) +
                 "\n  first difference at index " + std::to_string(d));
            continue;
        }
        bool ok = true;
        const std::pair<const char*, eg::DecodeOptions> variants[] = {
            {"detok", {false, false}}, {"detok_special", {false, true}}, {"detok_remove_special", {true, false}}};
        const std::string plain = *bytes_field(c, "detok");
        for (const auto& [key, opt] : variants) {
            const std::string expect = bytes_field(c, key).value_or(plain);
            const std::string have = tok.decode(want, opt);
            if (have != expect) {
                fail(std::string(key) + " differs for " + what + "\n  llama.cpp: " + printable(expect) +
                     "\n  ours:      " + printable(have));
                ok = false;
            }
        }
        ok ? ++passed : ++failed;
    }
    for (const auto& [id, hex] : g["pieces"].items()) {
        const int32_t t = std::stoi(id);
        if (tok.token_to_piece(t) != from_hex(hex.get<std::string>()))
            fail("piece of token " + id + " differs: " + printable(tok.token_to_piece(t)));
        const std::string special = g["pieces_special"].contains(id)
                                        ? from_hex(g["pieces_special"][id].get<std::string>())
                                        : from_hex(hex.get<std::string>());
        if (tok.token_to_piece(t, true) != special)
            fail("special piece of token " + id + " differs: " + printable(tok.token_to_piece(t, true)));
    }
    qInfo("%s: %d of %zu cases match llama.cpp", name.c_str(), passed, g["cases"].size());
    QVERIFY2(failed == 0, (std::to_string(failed) + " mismatches:\n" + report).c_str());
}

// Byte-level BPE and SPM with byte fallback lose nothing: the pieces of the
// ids give back the text (SPM: after its space prefix).
void TestTokenizer::roundtrip() {
    QFETCH(QString, name);
    const Loaded* loaded = nullptr;
    std::string why;
    if (!load(name.toStdString(), loaded, why)) QFAIL(why.c_str());
    const Loaded& L = *loaded;
    const bool spm = L.tok->model_type() == "llama";
    for (const json& c : L.golden["cases"]) {
        const std::string text = *bytes_field(c, "text");
        if (!valid_utf8(text)) continue;  // broken input is compared with llama.cpp in golden()
        std::string joined;
        for (int32_t id : L.tok->encode(text, false, false)) joined += L.tok->token_to_piece(id);
        const std::string expect = spm && !text.empty() ? " " + text : text;
        QVERIFY2(joined == expect, ("round trip of " + printable(text) + " gave " + printable(joined)).c_str());
    }
}

// Streaming: every chunk is valid UTF-8 and all chunks add up to the pieces.
void TestTokenizer::stream() {
    QFETCH(QString, name);
    const Loaded* loaded = nullptr;
    std::string why;
    if (!load(name.toStdString(), loaded, why)) QFAIL(why.c_str());
    const Loaded& L = *loaded;
    for (const json& c : L.golden["cases"]) {
        if (!valid_utf8(*bytes_field(c, "text"))) continue;
        const auto ids = c["ids"].get<std::vector<int32_t>>();
        eg::StreamDecoder dec(*L.tok);
        std::string streamed, joined;
        for (int32_t id : ids) {
            const std::string chunk = dec.push(id);
            QVERIFY2(valid_utf8(chunk), ("chunk " + printable(chunk) + " is not UTF-8").c_str());
            streamed += chunk;
            joined += L.tok->token_to_piece(id);
        }
        streamed += dec.flush();
        QVERIFY2(streamed == joined, ("stream of " + printable(*bytes_field(c, "text")) + " gave " +
                                      printable(streamed) + ", pieces give " + printable(joined)).c_str());
    }
}

// An emoji spelled as four <0xNN> byte tokens appears only when complete.
void TestTokenizer::stream_split_character() {
    const Loaded* loaded = nullptr;
    std::string why;
    if (!load("llama-spm", loaded, why)) QFAIL(why.c_str());
    const Loaded& L = *loaded;
    const auto ids = L.tok->encode("😀", false, false);
    eg::StreamDecoder dec(*L.tok);
    std::string out;
    int empty_chunks = 0;
    for (int32_t id : ids) {
        std::string chunk = dec.push(id);
        if (chunk.empty()) ++empty_chunks;
        out += chunk;
    }
    QCOMPARE(out, std::string(" 😀"));
    QVERIFY2(empty_chunks >= 3, "the emoji's first bytes must be held back");
    QCOMPARE(dec.flush(), std::string());

    // A tail that never completes comes out as U+FFFD on flush.
    const auto b0 = L.tok->find_token("<0xF0>");
    QVERIFY(b0.has_value());
    eg::StreamDecoder dec2(*L.tok);
    QCOMPARE(dec2.push(*b0), std::string());
    QCOMPARE(dec2.flush(), std::string("\xEF\xBF\xBD"));
}

// 10 KB inputs (one long word, long digit runs, mixed text) tokenize and come
// back intact; the merge loop is O(n log n), so this is quick.
void TestTokenizer::long_inputs() {
    for (const char* name : {"smollm2", "llama-spm", "llama-bpe"}) {
        const Loaded* loaded = nullptr;
        std::string why;
        if (!load(name, loaded, why)) QFAIL(why.c_str());
        const Loaded& L = *loaded;
        std::string mixed;
        while (mixed.size() < 10000) mixed += "Hello, wörld 12345! 你好 😀 <tag> \n\t";
        for (const std::string& text : {std::string(10000, 'a'), std::string(10000, '7'), mixed}) {
            std::string joined;
            for (int32_t id : L.tok->encode(text, false, false)) joined += L.tok->token_to_piece(id);
            if (L.tok->model_type() == "llama") joined.erase(0, 1);
            QVERIFY2(joined == text, (std::string(name) + ": long input does not round-trip").c_str());
        }
    }
}

void TestTokenizer::garbage_input_data() {
    QTest::addColumn<QString>("name");
    for (const char* n : {"smollm2", "llama-bpe", "qwen2", "llama-spm", "deepseek-llm", "phi-3"})
        QTest::newRow(n) << QString(n);
}

// Random text: from valid characters it comes back intact through the pieces
// (byte-level BPE and byte fallback lose nothing); from anything at all
// (special-token fragments, truncated sequences, lone continuation bytes,
// 0xFF, NUL) every id is in range and the stream stays valid UTF-8. Bad ids
// decode to nothing.
void TestTokenizer::garbage_input() {
    QFETCH(QString, name);
    const Loaded* loaded = nullptr;
    std::string why;
    if (!load(name.toStdString(), loaded, why)) QFAIL(why.c_str());
    const Loaded& L = *loaded;
    const eg::Tokenizer& tok = *L.tok;
    const bool spm = tok.model_type() == "llama";
    const std::vector<std::string> valid = {"a", "Z", " ", "  ", "\t", "\n", "\r\n", "7", "123", "'s", "\xC3\xA9",
                                            "\xE4\xBD\xA0", "\xF0\x9F\x98\x80", "e\xCC\x81", "?!"};
    const std::vector<std::string> broken = {
        "\xE4\xBD", "\xF0\x9F", "\x80", "\xBF", "\xFF", "\xC0\xAF", "\xED\xA0\x80", std::string(1, '\0'), "<|im_start|>",
        "<|im_end|>", "<|im_", "<s>", "</s>", "<|endoftext|>", "<|user|>", "<0x41>", "\xE2\x96\x81"};
    std::mt19937 rng(1234);
    for (int round = 0; round < 400; ++round) {
        const bool garbage = round % 2 == 1;
        std::string text;
        const int n = static_cast<int>(rng() % 60);
        for (int k = 0; k < n; ++k) {
            if (garbage && rng() % 3 == 0)
                text += broken[rng() % broken.size()];
            else
                text += valid[rng() % valid.size()];
        }
        const bool parse_special = rng() & 1;
        const auto ids = tok.encode(text, rng() & 1, parse_special);
        std::string joined;
        eg::StreamDecoder dec(tok);
        std::string streamed;
        for (int32_t id : ids) {
            QVERIFY2(id >= 0 && id < tok.n_vocab(), ("id out of range for " + printable(text)).c_str());
            joined += tok.token_to_piece(id);
            const std::string chunk = dec.push(id);
            QVERIFY2(valid_utf8(chunk), ("stream chunk is not UTF-8 for " + printable(text)).c_str());
            streamed += chunk;
        }
        QVERIFY(valid_utf8(streamed + dec.flush()));
        if (!garbage) {
            const std::string expect = spm && !text.empty() ? " " + text : text;
            QVERIFY2(joined == expect, ("text lost: " + printable(text) + " came back as " + printable(joined)).c_str());
        }
    }
    QCOMPARE(tok.decode({-5, tok.n_vocab(), 2147483647}), std::string());
    QCOMPARE(tok.token_to_piece(-1), std::string());
    QCOMPARE(tok.token_text(tok.n_vocab()), std::string_view());
    QVERIFY(!tok.is_eog(-1) && !tok.is_control(tok.n_vocab()));
}

void TestTokenizer::tiny_vocab_works() {
    QTemporaryDir dir;
    const std::string path = dir.path().toStdString() + "/tiny.gguf";
    QVERIFY(tiny_bpe().write(path).ok());
    auto f = eg::GgufFile::open(path);
    QVERIFY2(f.ok(), f.ok() ? "" : f.message().c_str());
    auto t = eg::Tokenizer::from_gguf(*f.value());
    QVERIFY2(t.ok(), t.ok() ? "" : t.message().c_str());
    QCOMPARE(ids_str(t.value()->encode("ab ab", false, false)), std::string("[2,4]"));
    QCOMPARE(ids_str(t.value()->encode("ab<|endoftext|>", false, true)), std::string("[2,5]"));
    QVERIFY(t.value()->is_eog(5));
    QCOMPARE(t.value()->decode({2, 4}), std::string("ab ab"));

    // An out-of-range padding id is ignored (with a warning), as llama.cpp does:
    // published files get it wrong and it is never used.
    eg::GgufWriter w = tiny_bpe();
    w.set_u32("tokenizer.ggml.padding_token_id", 99);
    const std::string path2 = dir.path().toStdString() + "/pad.gguf";
    QVERIFY(w.write(path2).ok());
    auto f2 = eg::GgufFile::open(path2);
    QVERIFY(f2.ok());
    QVERIFY(eg::Tokenizer::from_gguf(*f2.value()).ok());
}

void TestTokenizer::malformed_vocab_data() {
    QTest::addColumn<int>("which");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("reason");
    QTest::newRow("merge names unknown token") << 0 << "tokenizer.ggml.merges" << "unknown token 'zz'";
    QTest::newRow("bos id out of range") << 1 << "tokenizer.ggml.bos_token_id" << "out of range";
    QTest::newRow("token_type length mismatch") << 2 << "tokenizer.ggml.token_type" << "has 3 entries";
    QTest::newRow("scores length mismatch") << 3 << "tokenizer.ggml.scores" << "has 2 entries";
    QTest::newRow("merge without space") << 4 << "tokenizer.ggml.merges" << "no space";
    QTest::newRow("no tokens") << 5 << "tokenizer.ggml.tokens" << "missing";
    QTest::newRow("unknown pre-tokenizer") << 6 << "tokenizer.ggml.pre" << "not supported";
    QTest::newRow("unknown model") << 7 << "tokenizer.ggml.model" << "not supported";
    QTest::newRow("eos id negative") << 8 << "tokenizer.ggml.eos_token_id" << "out of range";
    QTest::newRow("duplicate token") << 9 << "tokenizer.ggml.tokens" << "duplicates";
    QTest::newRow("no merges") << 10 << "tokenizer.ggml.merges" << "missing";
    QTest::newRow("eot id out of range") << 11 << "tokenizer.ggml.eot_token_id" << "out of range";
}

void TestTokenizer::malformed_vocab() {
    QFETCH(int, which);
    QFETCH(QString, key);
    QFETCH(QString, reason);
    eg::GgufWriter w = tiny_bpe();
    switch (which) {
        case 0: w.set_string_array("tokenizer.ggml.merges", {"a b", "ab zz"}); break;
        case 1: w.set_u32("tokenizer.ggml.bos_token_id", 6); break;
        case 2: w.set_i32_array("tokenizer.ggml.token_type", {1, 1, 1}); break;
        case 3: w.set_f32_array("tokenizer.ggml.scores", {0.f, 1.f}); break;
        case 4: w.set_string_array("tokenizer.ggml.merges", {"a b", "ab"}); break;
        case 5: w.set_string_array("tokenizer.ggml.tokens", {}); break;
        case 6: w.set_string("tokenizer.ggml.pre", "no-such-pre"); break;
        case 7: w.set_string("tokenizer.ggml.model", "rwkv"); break;
        case 8: w.set_i32("tokenizer.ggml.eos_token_id", -3); break;
        case 9: w.set_string_array("tokenizer.ggml.tokens", {"a", "b", "ab", "Ġ", "a", "<|endoftext|>"}); break;
        case 10: {
            // A writer without the merges key at all.
            eg::GgufWriter bare;
            bare.set_string("tokenizer.ggml.model", "gpt2");
            bare.set_string("tokenizer.ggml.pre", "gpt-2");
            bare.set_string_array("tokenizer.ggml.tokens", {"a", "b"});
            w = bare;
            break;
        }
        case 11: w.set_u32("tokenizer.ggml.eot_token_id", 100); break;
    }
    QTemporaryDir dir;
    const std::string path = dir.path().toStdString() + "/bad.gguf";
    QVERIFY(w.write(path).ok());
    auto f = eg::GgufFile::open(path);
    QVERIFY2(f.ok(), f.ok() ? "" : f.message().c_str());
    auto t = eg::Tokenizer::from_gguf(*f.value());
    QVERIFY2(!t.ok(), "a malformed vocabulary was accepted");
    const QString msg = QString::fromStdString(t.message());
    qInfo("%s", qPrintable(msg));
    QVERIFY2(msg.contains(QString::fromStdString(path)), qPrintable("error does not name the file: " + msg));
    QVERIFY2(msg.contains(key), qPrintable("error does not name the key: " + msg));
    QVERIFY2(msg.contains(reason), qPrintable("error does not give the reason: " + msg));
}

QTEST_APPLESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
