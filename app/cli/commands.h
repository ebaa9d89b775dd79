// The sub-commands of engram-cli. Each returns the process exit status.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "model/model.h"

namespace eg::cli {

struct CommonOptions {
    std::string model;
    int threads = 0;
    int64_t ctx = 0;
    bool verbose = false;
    // Engram models: the tiered store of their tables.
    std::string vram_budget;             // "": CPU only; else plan with this VRAM budget
    std::string assume_gpu;              // plan for an assumed GPU
    std::string engram_budget = "100%";  // bytes (8G, 512M) or a share of the tables (25%)
    std::string expert_budget;           // MoE: bytes or a share of the experts; empty: all
    std::string engram_vram_budget;      // GPU blocks' hot rows in VRAM; "": what the blocks leave
    std::string engram_policy = "wtinylfu";
    bool engram_no_prefetch = false;
    bool engram_buffered_io = false;
    bool engram_no_hot_stats = false;
};

struct ForgeArgs {
    std::string base, out, form = "v41", layers = "1", type = "f16";
    std::string synthetic;  // "": attach Engram to --base; else a random model of this arch
    int64_t n_layer = 2, n_embd = 256, n_head = 4, n_head_kv = 0, n_ff = 512, n_vocab = 512, n_ctx = 4096;
    int64_t n_expert = 0, n_expert_used = 0, n_ff_exp = 0;  // synthetic qwen3moe
    bool untied = false;
    int64_t max_ngram = 3, heads = 8, key_length = 64, conv_kernel = 4;
    uint64_t rows_per_head = 0, seed = 0;
    bool zero_value = false;
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
// The GPU plugin (where from, or why none) and its GPUs; 0 when one is usable.
int cmd_gpus(bool json);
int cmd_tokenize(const CommonOptions& c, const std::string& text, bool add_special, bool parse_special);
// stats_json: a path to write the live memory/Engram/throughput object to
// (plan/live.h, the memory panel's numbers); "": none.
int cmd_run(const CommonOptions& c, const SamplingOptions& s, const std::string& prompt, bool chat,
            const std::string& system, const std::string& stats_json = {});
int cmd_logits(const CommonOptions& c, const std::string& tokens_json, const std::string& text, int top,
               const std::string& dump_path, const std::string& dump_dir);
int cmd_chat(const CommonOptions& c, const SamplingOptions& s, const std::string& system);
// Perplexity over a text file: the text (BOS as the model says, no special
// tokens parsed) in windows of the context length, each from an empty cache;
// every position but a window's last predicts the next token.
int cmd_perplexity(const CommonOptions& c, const std::string& path, bool json);

// engram_commands.cpp
int cmd_engram_rows(const CommonOptions& c, const std::string& text, bool add_special);
int cmd_forge(const ForgeArgs& a);
int cmd_engram_warm(const CommonOptions& c, const std::string& text_file);
int cmd_engram_replay(const CommonOptions& c, const std::string& text_file, const std::string& capacity,
                      int64_t max_tokens);

// Loads a model (with its Engram modules when it has them), or prints why
// not and returns nullptr.
std::unique_ptr<Model> load_or_report(const CommonOptions& c);

}  // namespace eg::cli
