// The Engram models the Engram tests forge from the default model: 3-gram
// hashing, 4 heads, keys of 32 values, 2003 rows per head, seed 7 — small
// enough to forge in a moment, with tables the budgets can split.
#pragma once

#include <QtGlobal>

#include <string>
#include <utility>
#include <vector>

#include "forge.h"

namespace eg_test {

// Writes out from base with Engram modules at `layers`; fails the test run
// (qFatal) when forging fails.
inline std::string forge_engram(const std::string& base, const std::string& out, eg::engram::Form form,
                                std::vector<int64_t> layers, eg::GgmlType type, bool zero_value = false) {
    eg::engram::ForgeOptions o;
    o.base_path = base;
    o.out_path = out;
    o.form = form;
    o.layers = std::move(layers);
    o.max_ngram = 3;
    o.heads = 4;
    o.key_length = 32;
    o.rows_per_head = 2003;
    o.type = type;
    o.seed = 7;
    o.zero_value = zero_value;
    auto s = eg::engram::forge(o);
    if (!s) qFatal("forge %s failed: %s", out.c_str(), s.message().c_str());
    return out;
}

}  // namespace eg_test
