// A remote engine's own figures, read from the Prometheus text it serves at
// GET /metrics (vLLM, SGLang, llama.cpp's llama-server and Engram Desktop
// all do): which engine it is, requests running and waiting, KV-cache use,
// tokens generated. The memory panel shows them for a remote model in place
// of the local memory tiers.
//
// The parser is written here: Debian packages no C++ library that reads the
// Prometheus text format (prometheus-cpp only writes it). It takes the text
// format 0.0.4 (HELP/TYPE comments, labels with escapes, NaN/±Inf, an
// optional timestamp), bounded: at most kMaxBytes of text and kMaxSamples
// samples, a malformed line is skipped and counted, never a crash.
#pragma once

#include <QByteArray>
#include <QString>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace eg::library {

struct MetricSample {
    std::string name;
    std::vector<std::pair<std::string, std::string>> labels;
    double value = 0;
};

struct ParsedMetrics {
    std::vector<MetricSample> samples;
    int skipped_lines = 0;  // malformed lines left out
    bool truncated = false;  // more than the bounds allow: the rest left out
};

constexpr qsizetype kMaxMetricsBytes = 8 << 20;
constexpr size_t kMaxMetricsSamples = 100000;

ParsedMetrics parse_prometheus_text(const QByteArray& text);

// The figures the panel shows, summed over label sets (several models or
// ranks); a figure the engine does not publish is unset.
struct EngineFigures {
    QString engine;  // "vLLM", "SGLang", "llama.cpp server", "Engram Desktop"; "" when none is recognised
    std::optional<double> running;         // requests being generated
    std::optional<double> waiting;         // requests queued
    std::optional<double> kv_cache_usage;  // 0..1 of the engine's KV cache in use
    std::optional<double> tokens_per_s;    // the engine's own generation-throughput gauge
    std::optional<double> generated_tokens_total;  // counter: the panel derives tokens/s between two reads
    std::optional<double> prompt_tokens_total;
};

EngineFigures engine_figures(const ParsedMetrics& m);

// The engine named from /v1/models' `owned_by` ("vllm", "sglang", "llamacpp",
// "engram-desktop"); "" when it says nothing we know.
QString engine_from_owner(const QString& owned_by);

}  // namespace eg::library
