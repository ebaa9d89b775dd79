#include "model/runnable.h"

#include "model/arch.h"
#include "quant/kernels.h"

namespace eg {

bool is_runnable_type(GgmlType t) {
    const TypeTraits* tr = type_traits(t);
    return tr && tr->supported && kernels_for(t) != nullptr;
}

std::string runnable_types() {
    std::string out;
    for (uint32_t id = 0; id < 64; ++id)
        if (type_traits(id) && is_runnable_type((GgmlType)id))
            out += (out.empty() ? "" : ", ") + std::string(type_name(id));
    return out;
}

Status check_runnable(const GgufFile& f) {
    auto arch = f.get_string("general.architecture");
    if (!arch) return arch.error();
    if (!arch.value()) return f.error("general.architecture", "missing: the file does not say which model it is");
    if (!find_arch(*arch.value()))
        return f.error("general.architecture", "the architecture '" + *arch.value() +
                                                   "' is not one this engine runs (it runs " + supported_archs() + ")");
    for (const GgufTensorInfo& t : f.tensors())
        if (!is_runnable_type(t.type))
            return f.error("tensor " + t.name, "its type " + std::string(type_name((uint32_t)t.type)) +
                                                   " is not one this engine runs (it runs " + runnable_types() + ")");
    return {};
}

}  // namespace eg
