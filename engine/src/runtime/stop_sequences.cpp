#include "runtime/stop_sequences.h"

#include <algorithm>

namespace eg {

StopSequences::StopSequences(std::vector<std::string> stops) {
    for (auto& s : stops)
        if (!s.empty()) stops_.push_back(std::move(s));
}

std::string StopSequences::push(std::string_view piece) {
    if (matched_) return {};
    held_ += piece;
    // The earliest stop sequence wins; text before it is the reply's end.
    size_t first = std::string::npos;
    const std::string* which = nullptr;
    for (const auto& s : stops_)
        if (const size_t at = held_.find(s); at < first) {
            first = at;
            which = &s;
        }
    if (which) {
        matched_ = true;
        which_ = *which;
        std::string out = held_.substr(0, first);
        held_.clear();
        return out;
    }
    // Keep the longest tail that begins some stop sequence. A stop sequence
    // starts on a character boundary, so the tail does too (UTF-8 lead bytes
    // are never continuation bytes).
    size_t keep = 0;
    for (const auto& s : stops_) {
        const size_t most = std::min(s.size() - 1, held_.size());
        for (size_t n = most; n > keep; --n)
            if (std::string_view(held_).substr(held_.size() - n) == std::string_view(s).substr(0, n)) {
                keep = n;
                break;
            }
    }
    std::string out = held_.substr(0, held_.size() - keep);
    held_.erase(0, held_.size() - keep);
    return out;
}

std::string StopSequences::flush() {
    std::string out;
    out.swap(held_);
    return matched_ ? std::string() : out;
}

}  // namespace eg
