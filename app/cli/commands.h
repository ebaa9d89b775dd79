// The sub-commands of engram-cli. Each returns the process exit status.
#pragma once

#include <cstdint>
#include <string>

namespace eg::cli {

struct CommonOptions {
    std::string model;
    int threads = 0;
    int64_t ctx = 0;
    bool verbose = false;
};

struct SamplingOptions {
    int64_t n_predict = 256;
    float temp = 0.7f;
    int top_k = 40;
    float top_p = 0.95f;
    float min_p = 0.05f;
    float repeat_penalty = 1.0f;
    float presence_penalty = 0.0f;
    float frequency_penalty = 0.0f;
    uint64_t seed = 0xE9A3;
};

int cmd_info(const CommonOptions& c, bool json);
int cmd_tokenize(const CommonOptions& c, const std::string& text, bool add_special, bool parse_special);
int cmd_run(const CommonOptions& c, const SamplingOptions& s, const std::string& prompt, bool chat,
            const std::string& system);
int cmd_logits(const CommonOptions& c, const std::string& tokens_json, const std::string& text, int top,
               const std::string& dump_path, const std::string& dump_dir);
int cmd_chat(const CommonOptions& c, const SamplingOptions& s, const std::string& system);

}  // namespace eg::cli
