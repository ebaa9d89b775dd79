// GET /metrics: the server's counters and the engine's live figures (the
// memory panel's numbers: bytes per tier and category, Engram and expert
// hit rates, tokens/s, time to first token) in Prometheus' text format.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "plan/live.h"

namespace eg::server {

// Counted by the server on its own thread.
struct ServerCounters {
    // [endpoint: 0 chat, 1 completions, 2 messages (endpoint_index)][outcome]
    enum Outcome { Completed = 0, Cancelled, ClientError, Rejected, Failed, kOutcomes };
    static constexpr int kEndpoints = 3;
    uint64_t requests[kEndpoints][kOutcomes] = {};
    uint64_t prompt_tokens = 0, completion_tokens = 0;
    double ttft_seconds_sum = 0;  // over requests that produced a first token
    uint64_t ttft_count = 0;
    int running = 0, waiting = 0, queue_limit = 0;
};

std::string prometheus_text(const ServerCounters& c, const std::string& model_id, const std::optional<LiveFigures>& live);

}  // namespace eg::server
