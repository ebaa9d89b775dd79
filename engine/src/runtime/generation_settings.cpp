#include "runtime/generation_settings.h"

#include <algorithm>
#include <cctype>

namespace eg {

std::vector<ChatMessage> ReplyRequest::with_system_prompt() const {
    std::vector<ChatMessage> out;
    out.reserve(messages.size() + 1);
    const bool blank = std::all_of(settings.system_prompt.begin(), settings.system_prompt.end(),
                                   [](unsigned char c) { return std::isspace(c) != 0; });
    if (!blank) out.push_back({"system", settings.system_prompt});
    out.insert(out.end(), messages.begin(), messages.end());
    return out;
}

}  // namespace eg
