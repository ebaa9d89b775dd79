// Renders a parsed template against a context, within limits that keep a
// hostile template from exhausting memory or time.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_ast.h"

namespace eg::jinja {

struct RenderLimits {
    size_t max_output_bytes = size_t{8} << 20;  // also caps any single string built while rendering
    uint64_t max_steps = 1'000'000;               // statements executed + loop iterations
    int max_call_depth = 64;                    // macro calls, including recursion
    size_t max_list_items = 1'000'000;          // range(), list * n, list + list
};

struct RenderEnv {
    RenderLimits limits;
    std::tm now{};  // what strftime_now() formats (local time in transformers)
};

// Throws TemplateError (RaisedError for raise_exception) naming line/col.
std::string render_template(const Template& tmpl, std::vector<std::pair<std::string, Value>> context,
                            const RenderEnv& env);

}  // namespace eg::jinja
