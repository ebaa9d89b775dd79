// The tokenizer compression of Engram: token ids whose text normalises to the
// same string share a compressed id. Normalisation as the reference's
// CompressedTokenizer: NFKC, NFD, strip accents, lowercase, collapse
// [ \t\r\n]+ to one space, strip (a lone space survives) — with utf8proc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace eg::engram {

// The normalised key of one token's text.
std::string normalize_text(const std::string& text);

// token id -> compressed id, numbered in first-seen order; *n_classes gets
// the class count.
std::vector<int32_t> build_token_map(const Tokenizer& tok, int64_t* n_classes);

}  // namespace eg::engram
