// Whether this engine runs a GGUF, from its header alone: its architecture
// and the type of every tensor. What it does not run is one sentence naming
// it and what the engine does run — said by Model::load (the CLI, the app)
// and by the library's Import before anything is copied.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "gguf/gguf.h"

namespace eg {

// "F32, F16, BF16, Q4_0, ...": the tensor types the CPU kernels compute with.
std::string runnable_types();
bool is_runnable_type(GgmlType t);

// The architecture (general.architecture) is one of find_arch()'s and every
// tensor's type is runnable; else the error says which and what is.
Status check_runnable(const GgufFile& f);

}  // namespace eg
