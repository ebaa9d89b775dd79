// engram-cli: the engine from a terminal — model info, tokenization, one-shot
// generation and an interactive chat. Links the engine only (no Qt).
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/log.h"

using namespace eg::cli;

namespace {
void add_common(CLI::App* app, CommonOptions& c) {
    app->add_option("-m,--model", c.model, "GGUF model file")->required()->check(CLI::ExistingFile);
    app->add_option("-t,--threads", c.threads, "CPU threads (default: physical cores)")->check(CLI::Range(0, 256));
    app->add_option("-c,--ctx", c.ctx, "context length (default: the model's, at most 4096)")->check(CLI::Range(0, 1 << 24));
    app->add_flag("-v,--verbose", c.verbose, "log more");
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

    CLI11_PARSE(app, argc, argv);
    eg::set_log_level(common.verbose ? spdlog::level::debug : spdlog::level::warn);

    if (*info) return cmd_info(common, json);
    if (*tokenize) return cmd_tokenize(common, text, !no_special, !no_parse_special);
    if (*run) return cmd_run(common, sampling, prompt, chat, system);
    if (*logits) return cmd_logits(common, tokens_json, text, top, dump_path, dump_dir);
    if (*chatc) return cmd_chat(common, sampling, system);
    return 2;
}
