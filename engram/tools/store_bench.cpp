// engram-store-bench: the tiered store's SSD path alone, on any large file
// read as one table of fixed-size rows: requests of random rows (a decode
// step's misses), a few in flight, no DRAM tier by default. Prints the rows
// per second and what each row read cost in CPU (the store's I/O figures and
// the whole process's user + system time), as one JSON object.
//   engram-store-bench FILE [--row-bytes 128] [--rows-per-request 16] [--requests 4000] ...
#include <sys/resource.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <deque>
#include <random>

#include "core/log.h"
#include "store.h"

namespace {

double cpu_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    auto s = [](const timeval& t) { return (double)t.tv_sec + (double)t.tv_usec / 1e6; };
    return s(ru.ru_utime) + s(ru.ru_stime);
}

double sys_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"engram-store-bench: the Engram store's SSD reads, and their CPU per row"};
    std::string file;
    uint64_t row_bytes = 128, offset = 0, budget = 0;
    int per_request = 16, requests = 4000, in_flight = 2, io_threads = 4, run = 1;
    bool buffered = false, sync = false;
    uint64_t seed = 1;
    app.add_option("file", file, "any large file (e.g. a forged Engram GGUF)")->required()->check(CLI::ExistingFile);
    app.add_option("--row-bytes", row_bytes, "bytes per row")->check(CLI::Range(1, 1 << 24));
    app.add_option("--offset", offset, "file offset of row 0");
    app.add_option("--rows-per-request", per_request, "random rows per request")->check(CLI::Range(1, 1 << 20));
    app.add_option("--run", run, "rows come in runs of this many adjacent rows")->check(CLI::Range(1, 1 << 20));
    app.add_option("--requests", requests, "timed requests")->check(CLI::Range(1, 1 << 24));
    app.add_option("--in-flight", in_flight, "requests outstanding at once")->check(CLI::Range(1, 1024));
    app.add_option("--io-threads", io_threads, "the store's I/O threads")->check(CLI::Range(1, 64));
    app.add_option("--dram-budget", budget, "bytes of rows the store may keep (default 0: every row from the file)");
    app.add_flag("--buffered", buffered, "read through the page cache instead of O_DIRECT");
    app.add_flag("--sync", sync, "no prefetch: wait() reads on the calling thread");
    app.add_option("--seed", seed, "random seed");
    CLI11_PARSE(app, argc, argv);
    eg::set_log_level(spdlog::level::warn);

    struct stat st{};
    if (::stat(file.c_str(), &st) != 0 || (uint64_t)st.st_size < offset + row_bytes) {
        std::fprintf(stderr, "error: %s is smaller than one row\n", file.c_str());
        return 2;
    }
    eg::engram::TableInfo t;
    t.tensor = "rows";
    t.n_rows = ((uint64_t)st.st_size - offset) / row_bytes;
    t.row_bytes = row_bytes;
    t.file_offset = offset;
    eg::engram::StoreOptions opt;
    opt.dram_budget_bytes = budget;
    opt.prefetch = !sync;
    opt.io_threads = io_threads;
    opt.direct_io = !buffered;
    auto store = eg::engram::TieredStore::open(file, {t}, opt);
    if (!store.ok()) {
        std::fprintf(stderr, "error: %s\n", store.message().c_str());
        return 1;
    }
    eg::engram::TieredStore& s = *store.value();

    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<uint64_t> pick(0, t.n_rows - (uint64_t)run);
    auto rows = [&] {
        std::vector<uint64_t> v;
        while (v.size() < (size_t)per_request) {
            const uint64_t r0 = pick(rng);
            for (int k = 0; k < run && v.size() < (size_t)per_request; ++k) v.push_back(r0 + (uint64_t)k);
        }
        std::sort(v.begin(), v.end());
        v.erase(std::unique(v.begin(), v.end()), v.end());
        return v;
    };
    // Untimed warm-up: threads started, buffers grown.
    for (int i = 0; i < 20; ++i) {
        auto b = s.request(0, rows());
        if (auto e = s.wait(*b); !e) {
            std::fprintf(stderr, "error: %s\n", e.message().c_str());
            return 1;
        }
    }
    const auto io0 = s.io_stats();
    const double cpu0 = cpu_seconds(), sys0 = sys_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    std::deque<std::shared_ptr<eg::engram::FetchBatch>> q;
    uint64_t n_rows = 0;
    for (int i = 0; i < requests; ++i) {
        q.push_back(s.request(0, rows()));
        n_rows += q.back()->rows.size();
        if ((int)q.size() >= in_flight || i + 1 == requests)
            while (!q.empty()) {
                if (auto e = s.wait(*q.front()); !e) {
                    std::fprintf(stderr, "error: %s\n", e.message().c_str());
                    return 1;
                }
                q.pop_front();
            }
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = cpu_seconds() - cpu0, sys = sys_seconds() - sys0;
    auto io = s.io_stats();
    io.rows -= io0.rows;
    io.reads -= io0.reads;
    io.syscalls -= io0.syscalls;
    io.bytes -= io0.bytes;
    io.io_cpu_ns -= io0.io_cpu_ns;
    io.thread_cpu_ns -= io0.thread_cpu_ns;
    std::printf("{\"file\": \"%s\", \"direct\": %s, \"prefetch\": %s, \"io_threads\": %d, \"rows_per_request\": %d, "
                "\"run\": %d, \"in_flight\": %d, \"requests\": %d, \"rows\": %llu, \"wall_s\": %.3f, "
                "\"rows_per_s\": %.0f, \"process_cpu_us_per_row\": %.3f, \"process_sys_us_per_row\": %.3f, "
                "\"io\": %s}\n",
                file.c_str(), s.direct_io_active() ? "true" : "false", sync ? "false" : "true", io_threads,
                per_request, run, in_flight, requests, (unsigned long long)n_rows, wall, (double)n_rows / wall,
                cpu * 1e6 / (double)n_rows, sys * 1e6 / (double)n_rows, io.json().c_str());
    return 0;
}
