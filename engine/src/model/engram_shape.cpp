// The ARCH.engram.* keys and tables both the planner and the engram library
// read (see engram_shape.h).
#include "model/engram_shape.h"

#include "quant/kernels.h"

namespace eg {

std::string engram_key(std::string_view arch, std::string_view name) {
    return std::string(arch) + ".engram." + std::string(name);
}

bool engram_declared(const GgufFile& f, std::string_view arch) {
    return f.find(engram_key(arch, "layer_ids")) != nullptr;
}

Result<int64_t> read_int_key(const GgufFile& f, const std::string& key, int64_t lo, int64_t hi) {
    auto r = f.get_int(key);
    if (!r.ok()) return r.error();
    if (!r.value()) return f.error(key, "missing");
    const int64_t x = *r.value();
    if (x < lo || x > hi)
        return f.error(key, std::to_string(x) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return x;
}

Result<std::optional<EngramShape>> read_engram_shape(const GgufFile& f, std::string_view arch, int64_t n_layer) {
    const std::string ids_key = engram_key(arch, "layer_ids");
    auto ids = f.get_int_array(ids_key);
    if (!ids.ok()) return ids.error();
    if (!ids.value()) return std::optional<EngramShape>();
    EngramShape s;
    s.layer_ids = std::move(*ids.value());
    if (s.layer_ids.empty()) return f.error(ids_key, "is empty");
    for (size_t i = 0; i < s.layer_ids.size(); ++i) {
        const int64_t il = s.layer_ids[i];
        const std::string entry = ids_key + "[" + std::to_string(i) + "]";
        if (il < 0 || il >= n_layer)
            return f.error(ids_key, "block " + std::to_string(il) + " is outside [0, " + std::to_string(n_layer) +
                                        "): " + entry + " names a block that does not exist (block_count " +
                                        std::to_string(n_layer) + ")");
        for (size_t j = 0; j < i; ++j)
            if (s.layer_ids[j] == il) return f.error(entry, "block " + std::to_string(il) + " is listed twice");
    }

    auto r = read_int_key(f, engram_key(arch, "head_count"), 1, 64);
    if (!r.ok()) return r.error();
    s.head_count = r.value();
    const std::string kl_key = engram_key(arch, "key_length");
    r = read_int_key(f, kl_key, 1, 65536);
    if (!r.ok()) return r.error();
    s.key_length = r.value();
    r = read_int_key(f, engram_key(arch, "max_ngram_size"), 2, 8);
    if (!r.ok()) return r.error();
    s.max_ngram = r.value();

    for (int64_t il : s.layer_ids) {
        EngramTable e;
        e.layer = il;
        e.tensor = "blk." + std::to_string(il) + ".engram_embd.weight";
        const std::string field = "tensor " + e.tensor;
        const GgufTensorInfo* t = f.find_tensor(e.tensor);
        if (!t) return f.error(field, "missing (block " + std::to_string(il) + " is in " + ids_key + ")");
        if (t->n_dims > 2 || t->ne[0] < 1 || t->ne[1] < 1)
            return f.error(field, "shape " + t->shape_string() + " is not a table [key_length, rows]");
        if (t->ne[0] != s.key_length)
            return f.error(field, "shape " + t->shape_string() + ": rows have " + std::to_string(t->ne[0]) + " values but " +
                                      kl_key + " is " + std::to_string(s.key_length));
        const TypeTraits* tt = type_traits(t->type);
        if (!tt || !kernels_for(t->type))
            return f.error(field, "type " + std::string(type_name((uint32_t)t->type)) + " cannot be gathered");
        if (s.key_length % tt->block_size != 0)
            return f.error(field, "key_length " + std::to_string(s.key_length) + " is not a multiple of the " +
                                      std::string(tt->name) + " block size " + std::to_string(tt->block_size));
        e.info = t;
        e.type = t->type;
        e.rows = (uint64_t)t->ne[1];
        e.row_bytes = (uint64_t)row_bytes(t->type, s.key_length);
        s.tables.push_back(std::move(e));
    }
    return std::optional<EngramShape>(std::move(s));
}

}  // namespace eg
