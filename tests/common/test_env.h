// Where tests find their real data: the default model and the reference
// vocabularies, both cached outside the repository by scripts/fetch-test-data.sh.
#pragma once

#include <cstdlib>
#include <string>

// Fails the test with the error's sentence unless an eg::Status or
// eg::Result (core/result.h) holds a success.
#define EG_VERIFY_OK(expr)                                               \
    do {                                                                 \
        const auto& eg_verify_ok_r = (expr);                             \
        QVERIFY2(eg_verify_ok_r.ok(), eg_verify_ok_r.ok() ? "" : eg_verify_ok_r.message().c_str()); \
    } while (0)

namespace eg_test {

inline std::string cache_dir() {
    if (const char* d = std::getenv("ENGRAM_CACHE_DIR"); d && *d) return d;
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/engram-desktop";
    const char* home = std::getenv("HOME");
    return std::string(home ? home : "/root") + "/.cache/engram-desktop";
}

// SmolLM2-135M-Instruct Q4_1, fetched by scripts/fetch-model.sh.
inline std::string default_model_path() {
    if (const char* m = std::getenv("ENGRAM_TEST_MODEL"); m && *m) return m;
    return cache_dir() + "/models/SmolLM2-135M-Instruct.Q4_1.gguf";
}

// Vocabulary-only GGUFs of llama.cpp (from the llama-cpp-python sdist).
inline std::string vocab_path(const std::string& name) {
    return cache_dir() + "/vocab/ggml-vocab-" + name + ".gguf";
}

// Committed fixtures under tests/.
inline std::string fixture(const std::string& rel) { return std::string(EG_TESTS_DIR) + "/" + rel; }

}  // namespace eg_test
