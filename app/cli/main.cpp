// engram-cli: the engine from a terminal — model info, tokenization, one-shot
// generation, an interactive chat, perplexity, and the Engram tools (forge, engram-rows,
// engram-replay). Links the engine and engram only (no Qt).
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/plan_command.h"
#include "core/log.h"

using namespace eg::cli;

namespace {
constexpr const char* kEngramVramHelp =
    "Engram models whose blocks run on the GPU: VRAM for their hot rows, bytes or a share of the tables "
    "(default: whatever VRAM the blocks leave)";
constexpr const char* kExpertDramHelp =
    "MoE models: DRAM for the experts, bytes (12G) or a share of them (25%); the rest is read from the file on demand (default: all)";

void add_common(CLI::App* app, CommonOptions& c) {
    app->add_option("-m,--model", c.model, "GGUF model file")->required()->check(CLI::ExistingFile);
    app->add_option("-t,--threads", c.threads, "CPU threads (default: physical cores)")->check(CLI::Range(0, 256));
    app->add_option("-c,--ctx", c.ctx, "context length (default: the model's, at most 4096)")->check(CLI::Range(0, 1 << 24));
    app->add_flag("-v,--verbose", c.verbose, "log more");
    app->add_option("--vram-budget", c.vram_budget,
                    "place blocks on the GPU as the planner says for this VRAM budget: bytes (8G) or a share of "
                    "the free VRAM (50%); 0 = CPU only (default: CPU only)");
    app->add_option("--assume-gpu", c.assume_gpu, "plan as if this GPU existed: VRAM[,H2D_GBps[,VRAM_GBps]]");
    app->add_option("--engram-dram-budget", c.engram_budget,
                    "Engram models: DRAM for table rows, bytes (8G, 512M) or a share of the tables (25%); the rest "
                    "is read from the file on demand (default 100%)");
    app->add_option("--engram-vram-budget", c.engram_vram_budget, kEngramVramHelp);
    app->add_option("--expert-dram-budget", c.expert_budget, kExpertDramHelp);
    app->add_option("--engram-policy", c.engram_policy, "Engram DRAM cache policy: wtinylfu (default) or lru");
    app->add_flag("--no-engram-prefetch", c.engram_no_prefetch,
                  "read Engram rows when a layer needs them instead of as soon as the tokens are known");
    app->add_flag("--engram-buffered-io", c.engram_buffered_io,
                  "read Engram rows through the page cache instead of O_DIRECT");
    app->add_flag("--no-engram-hot-stats", c.engram_no_hot_stats,
                  "do not load or save the hot-row statistics that warm the cache at start");
}
void add_sampling(CLI::App* app, SamplingOptions& s) {
    app->add_option("-n,--n-predict", s.n_predict, "tokens to generate at most");
    app->add_option("--temp", s.temp, "temperature; 0 = greedy");
    app->add_option("--top-k", s.top_k, "top-k (0 = off)");
    app->add_option("--top-p", s.top_p, "top-p (1 = off)");
    app->add_option("--min-p", s.min_p, "min-p (0 = off)");
    app->add_option("--repeat-penalty", s.repeat_penalty, "repetition penalty (1 = off)");
    app->add_option("--presence-penalty", s.presence_penalty, "presence penalty");
    app->add_option("--frequency-penalty", s.frequency_penalty, "frequency penalty");
    app->add_option("--seed", s.seed, "random seed (same seed, same text)");
}
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"engram-cli: run local language models from the terminal"};
    app.require_subcommand(1);
    CommonOptions common;
    SamplingOptions sampling;

    auto* info = app.add_subcommand("info", "architecture, parameters, tensor types, context, memory");
    add_common(info, common);
    bool json = false;
    info->add_flag("--json", json, "print JSON");

    auto* gpus = app.add_subcommand("gpus", "the GPU plugin (libengram-cuda.so) and the GPUs it finds");
    bool gpus_json = false;
    gpus->add_flag("--json", gpus_json, "print JSON");

    auto* tokenize = app.add_subcommand("tokenize", "print the token ids of a text as JSON");
    add_common(tokenize, common);
    std::string text;
    bool no_special = false, no_parse_special = false;
    tokenize->add_option("--text", text, "text to tokenize")->required();
    tokenize->add_flag("--no-bos", no_special, "do not add BOS/EOS even if the model wants them");
    tokenize->add_flag("--no-parse-special", no_parse_special, "treat special-token text as plain text");

    auto* run = app.add_subcommand("run", "generate a reply to one prompt (text to stdout, stats to stderr)");
    add_common(run, common);
    add_sampling(run, sampling);
    std::string prompt, system;
    bool chat = false;
    run->add_option("-p,--prompt", prompt, "prompt")->required();
    run->add_flag("--chat", chat, "wrap the prompt in the model's chat template");
    run->add_option("--system", system, "system prompt (with --chat)");
    std::string stats_json;
    run->add_option("--stats-json", stats_json, "after the reply, write the memory per tier, Engram and throughput "
                                                "figures as JSON to this file (the memory panel's numbers)");

    auto* chatc = app.add_subcommand("chat", "interactive multi-turn chat (/reset, /system TEXT, /exit)");
    add_common(chatc, common);
    add_sampling(chatc, sampling);
    chatc->add_option("--system", system, "system prompt");

    auto* logits = app.add_subcommand("logits", "run a prompt and print the top logits after it as JSON (for "
                                                "comparing with other engines)");
    add_common(logits, common);
    std::string tokens_json, dump_path;
    int top = 20;
    logits->add_option("--tokens", tokens_json, "prompt as a JSON array of token ids");
    logits->add_option("-p,--prompt", text, "prompt text (tokenized with special tokens parsed)");
    logits->add_option("--top", top, "how many logits")->check(CLI::Range(1, 1000));
    logits->add_option("--dump-all", dump_path, "also write all logits as raw float32 to this file");
    std::string dump_dir;
    logits->add_option("--dump-tensors", dump_dir, "write every named intermediate (attn_norm-3.bin, ...) as raw "
                                                   "float32 [n_tokens, n] into this existing folder");

    auto* ppl = app.add_subcommand("perplexity", "perplexity of the model on a text file: exp of the mean negative "
                                                 "log-likelihood of each next token, in windows of the context");
    add_common(ppl, common);
    std::string ppl_file;
    bool ppl_json = false;
    ppl->add_option("-f,--file", ppl_file, "text file")->required()->check(CLI::ExistingFile);
    ppl->add_flag("--json", ppl_json, "print JSON");

    auto* rows = app.add_subcommand("engram-rows", "print the Engram rows of a text as JSON: token ids, compressed "
                                                   "ids, and every head's row of every Engram layer at every position");
    add_common(rows, common);
    bool rows_special = false;
    rows->add_option("--text", text, "text")->required();
    rows->add_flag("--bos", rows_special, "add BOS/EOS as the model wants them");

    auto* forge = app.add_subcommand("forge", "attach Engram modules to a model (random tables and weights from a seed)");
    ForgeArgs fa;
    forge->add_option("--base", fa.base, "base GGUF model (Engram forge)")->check(CLI::ExistingFile);
    forge->add_option("--synthetic", fa.synthetic, "write a random-weight model of this architecture instead "
                                                   "(llama, qwen2, qwen3, qwen3moe) with the shape below");
    forge->add_option("--n-layer", fa.n_layer, "synthetic: blocks");
    forge->add_option("--n-embd", fa.n_embd, "synthetic: embedding width");
    forge->add_option("--n-head", fa.n_head, "synthetic: attention heads");
    forge->add_option("--n-head-kv", fa.n_head_kv, "synthetic: KV heads (default = heads)");
    forge->add_option("--n-ff", fa.n_ff, "synthetic: feed-forward width");
    forge->add_option("--n-expert", fa.n_expert, "synthetic qwen3moe: experts per block");
    forge->add_option("--n-expert-used", fa.n_expert_used, "synthetic qwen3moe: experts each token runs");
    forge->add_option("--n-ff-exp", fa.n_ff_exp, "synthetic qwen3moe: width of one expert");
    forge->add_option("--vocab", fa.n_vocab, "synthetic: vocabulary size (>= 260)");
    forge->add_option("--ctx", fa.n_ctx, "synthetic: context length");
    forge->add_flag("--untied", fa.untied, "synthetic: an output head of its own");
    forge->add_option("--out", fa.out, "output GGUF")->required();
    forge->add_option("--form", fa.form, "v41 (DeepSeek-V4.1, fused wkv) or demo (engram_demo_v1.py, with conv)");
    forge->add_option("--layers", fa.layers, "blocks with an Engram module, e.g. 1,15");
    forge->add_option("--max-ngram", fa.max_ngram, "n-grams 2..N")->check(CLI::Range(2, 8));
    forge->add_option("--heads", fa.heads, "hash heads per n-gram order")->check(CLI::Range(1, 64));
    forge->add_option("--key-length", fa.key_length, "values per row")->check(CLI::Range(1, 65536));
    forge->add_option("--rows-per-head", fa.rows_per_head, "rows per head (the first prime above; default 5 x "
                                                           "compressed vocabulary)");
    forge->add_option("--type", fa.type, "Engram table type (f16, q8_0); synthetic: weight type (f16, q4_0, "
                                         "q4_1, q8_0, q4_k, q5_k, q6_k, iq4_nl, iq4_xs, ...)");
    forge->add_option("--seed", fa.seed, "seed of multipliers and weights");
    forge->add_option("--conv-kernel", fa.conv_kernel, "demo form: short convolution kernel")->check(CLI::Range(1, 16));
    forge->add_flag("--zero-value", fa.zero_value, "zero the value projection: the model must answer as the base does");

    auto* replay = app.add_subcommand("engram-replay", "hit rates of LRU and W-TinyLFU on the Engram rows of a text "
                                                       "file, at several DRAM capacities (JSON)");
    add_common(replay, common);
    std::string text_file, capacities = "1%,5%,25%";
    int64_t max_tokens = 0;
    replay->add_option("--text-file", text_file, "text to replay")->required()->check(CLI::ExistingFile);
    replay->add_option("--capacity", capacities, "comma-separated shares of each table held in DRAM");
    replay->add_option("--max-tokens", max_tokens, "use at most this many tokens of the text");

    auto* warm = app.add_subcommand("engram-warm", "teach the Engram cache a text (its rows are looked up, "
                                                   "nothing is computed); the hot-row statistics saved at exit warm "
                                                   "the next start");
    add_common(warm, common);
    warm->add_option("--text-file", text_file, "text")->required()->check(CLI::ExistingFile);

    auto* planc = app.add_subcommand("plan", "where a model's blocks, KV cache and Engram rows go under the VRAM "
                                             "and Engram DRAM budgets, and the predicted decode speed (JSON)");
    PlanArgs pa;
    planc->add_option("-m,--model", pa.model, "GGUF model file")->required()->check(CLI::ExistingFile);
    planc->add_option("--vram-budget", pa.vram_budget,
                      "VRAM for blocks, KV cache and Engram hot rows: bytes (8G) or a share of the free VRAM (50%); "
                      "default all free VRAM");
    planc->add_option("--engram-dram-budget", pa.engram_dram_budget,
                      "DRAM for Engram rows: bytes (8G, 512M) or a share of the tables (25%); default 100%");
    planc->add_option("--engram-vram-budget", pa.engram_vram_budget, kEngramVramHelp);
    planc->add_option("--expert-dram-budget", pa.expert_dram_budget, kExpertDramHelp);
    planc->add_option("-c,--ctx", pa.ctx, "context length (default: the model's, at most 4096)")
        ->check(CLI::Range(0, 1 << 24));
    planc->add_option("--assume-gpu", pa.assume_gpu,
                      "plan for a GPU this machine does not have: VRAM[,H2D_GBps[,VRAM_GBps]], e.g. 24G,25 "
                      "(defaults 25 GB/s and 900 GB/s)");
    planc->add_flag("--refresh-hardware", pa.refresh_hardware, "measure the hardware again (the cache lasts a day)");
    planc->add_flag("--measure-ssd", pa.measure_ssd, "also measure 4 KiB random reads on the model file");
    planc->add_flag("-v,--verbose", common.verbose, "log more");

    CLI11_PARSE(app, argc, argv);
    eg::set_log_level(common.verbose ? spdlog::level::debug : spdlog::level::warn);

    if (*planc) return cmd_plan(pa);
    if (*info) return cmd_info(common, json);
    if (*gpus) return cmd_gpus(gpus_json);
    if (*tokenize) return cmd_tokenize(common, text, !no_special, !no_parse_special);
    if (*run) return cmd_run(common, sampling, prompt, chat, system, stats_json);
    if (*logits) return cmd_logits(common, tokens_json, text, top, dump_path, dump_dir);
    if (*ppl) return cmd_perplexity(common, ppl_file, ppl_json);
    if (*chatc) return cmd_chat(common, sampling, system);
    if (*rows) return cmd_engram_rows(common, text, rows_special);
    if (*forge) return cmd_forge(fa);
    if (*warm) return cmd_engram_warm(common, text_file);
    if (*replay) return cmd_engram_replay(common, text_file, capacities, max_tokens);
    return 2;
}
