// Splitting text on special tokens written in it ("<|im_start|>"), before the
// rest is tokenized, the way llama.cpp partitions a prompt.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace eg::tok {

struct Vocab;

// A special token (token >= 0) or a range of raw text (token == -1).
struct Fragment {
    int32_t token = -1;
    size_t begin = 0;
    size_t length = 0;
};

// Control and unknown tokens are recognised only with parse_special;
// user-defined tokens always are. Longer tokens are split out first.
std::vector<Fragment> split_special(const Vocab& vocab, std::string_view text, bool parse_special);

}  // namespace eg::tok
