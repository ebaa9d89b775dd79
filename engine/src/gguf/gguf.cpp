#include "gguf/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "core/log.h"
#include "core/units.h"

namespace eg {

namespace {

constexpr uint64_t kMaxKeyBytes = 1u << 16;      // keys are short names
constexpr uint64_t kMaxTensorNameBytes = 1024;   // ggml itself allows 64
constexpr uint32_t kMaxDims = 4;
// Counts from the file bound how much is *read*, not how much is reserved up
// front: a 4 GiB file of zeros admits a count of 2^28 entries, whose reserve
// alone would be tens of GiB. Containers grow as entries are actually read.
constexpr uint64_t kMaxReserve = 1u << 16;
size_t reserve_hint(uint64_t count) { return (size_t)std::min(count, kMaxReserve); }

bool mul_overflow(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }
bool add_overflow(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_add_overflow(a, b, out); }

size_t scalar_size(GgufType t) {
    switch (t) {
        case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
        case GgufType::U16: case GgufType::I16: return 2;
        case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
        case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
        default: return 0;
    }
}

bool valid_type(uint32_t t) { return t <= 12; }

// An exact byte count with its size in words: "95420416 (91 MiB)".
std::string human_bytes(uint64_t n) { return std::to_string(n) + (n >= 1024 ? " (" + format_bytes(n) + ")" : ""); }

}  // namespace

std::string GgufTensorInfo::shape_string() const {
    std::string s = "[";
    for (uint32_t d = 0; d < n_dims; ++d) s += (d ? ", " : "") + std::to_string(ne[d]);
    return s + "]";
}

std::string_view gguf_type_name(GgufType t) {
    static const char* names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                                  "string", "array", "u64", "i64", "f64"};
    auto i = (uint32_t)t;
    return i < 13 ? names[i] : "unknown";
}

bool GgufValue::is_integer() const {
    switch (type) {
        case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16:
        case GgufType::U32: case GgufType::I32: case GgufType::U64: case GgufType::I64:
        case GgufType::BOOL:
            return true;
        default:
            return false;
    }
}

std::optional<int64_t> GgufValue::as_int() const {
    switch (type) {
        case GgufType::U8: case GgufType::U16: case GgufType::U32: case GgufType::BOOL:
            return (int64_t)u;
        case GgufType::U64:
            if (u > (uint64_t)std::numeric_limits<int64_t>::max()) return std::nullopt;
            return (int64_t)u;
        case GgufType::I8: case GgufType::I16: case GgufType::I32: case GgufType::I64:
            return i;
        default:
            return std::nullopt;
    }
}

std::optional<double> GgufValue::as_float() const {
    if (type == GgufType::F32 || type == GgufType::F64) return f;
    if (auto v = as_int()) return (double)*v;
    return std::nullopt;
}

// Walks the mapped bytes with a cursor; every read is bounds-checked.
class GgufParser {
public:
    GgufParser(GgufFile& f) : f_(f), p_(f.base_), n_(f.size_) {}

    Status parse();

private:
    Error err(std::string_view field, std::string_view reason) const { return f_.error(field, reason); }
    uint64_t remaining() const { return n_ - pos_; }

    template <class T>
    bool read(T* out) {
        if (remaining() < sizeof(T)) return false;
        std::memcpy(out, p_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return true;
    }
    Status read_string(std::string_view field, uint64_t max_bytes, std::string_view* out);
    Status read_value(const std::string& key, GgufType type, GgufValue* v);
    Status read_array(const std::string& key, GgufValue* v);
    std::string truncated_at(std::string_view what) const {
        return std::string("file ends inside ") + std::string(what) + " (at byte " + std::to_string(pos_) +
               " of " + std::to_string(n_) + "); the file is truncated or corrupt";
    }

    GgufFile& f_;
    const uint8_t* p_;
    uint64_t n_;
    uint64_t pos_ = 0;
};

Status GgufParser::read_string(std::string_view field, uint64_t max_bytes, std::string_view* out) {
    uint64_t len = 0;
    if (!read(&len)) return err(field, truncated_at("a string length"));
    if (len > max_bytes) return err(field, "string length " + std::to_string(len) + " exceeds the limit of " + std::to_string(max_bytes));
    if (len > remaining()) return err(field, "string of " + std::to_string(len) + " bytes runs past the end of the file (" + std::to_string(remaining()) + " bytes left)");
    *out = std::string_view(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len;
    return {};
}

Status GgufParser::read_value(const std::string& key, GgufType type, GgufValue* v) {
    v->type = type;
    switch (type) {
        case GgufType::U8: { uint8_t x; if (!read(&x)) break; v->u = x; return {}; }
        case GgufType::I8: { int8_t x; if (!read(&x)) break; v->i = x; return {}; }
        case GgufType::U16: { uint16_t x; if (!read(&x)) break; v->u = x; return {}; }
        case GgufType::I16: { int16_t x; if (!read(&x)) break; v->i = x; return {}; }
        case GgufType::U32: { uint32_t x; if (!read(&x)) break; v->u = x; return {}; }
        case GgufType::I32: { int32_t x; if (!read(&x)) break; v->i = x; return {}; }
        case GgufType::U64: { uint64_t x; if (!read(&x)) break; v->u = x; return {}; }
        case GgufType::I64: { int64_t x; if (!read(&x)) break; v->i = x; return {}; }
        case GgufType::F32: { float x; if (!read(&x)) break; v->f = x; return {}; }
        case GgufType::F64: { double x; if (!read(&x)) break; v->f = x; return {}; }
        case GgufType::BOOL: {
            uint8_t x;
            if (!read(&x)) break;
            if (x > 1) return err(key, "boolean value is " + std::to_string(x) + ", expected 0 or 1");
            v->u = x;
            return {};
        }
        case GgufType::STRING: return read_string(key, n_, &v->s);
        case GgufType::ARRAY: return read_array(key, v);
    }
    return err(key, truncated_at(std::string("a ") + std::string(gguf_type_name(type)) + " value"));
}

Status GgufParser::read_array(const std::string& key, GgufValue* v) {
    uint32_t et = 0;
    uint64_t count = 0;
    if (!read(&et)) return err(key, truncated_at("an array element type"));
    if (!valid_type(et)) return err(key, "array element type " + std::to_string(et) + " is not a GGUF type");
    if ((GgufType)et == GgufType::ARRAY) return err(key, "nested arrays are not supported");
    if (!read(&count)) return err(key, truncated_at("an array length"));
    v->elem_type = (GgufType)et;
    v->count = count;
    if (v->elem_type == GgufType::STRING) {
        // Each string takes at least its 8-byte length: bound the count by the
        // bytes left before reserving anything.
        if (count > remaining() / 8)
            return err(key, "array claims " + std::to_string(count) + " strings but only " +
                                std::to_string(remaining()) + " bytes are left in the file");
        v->strings.reserve(reserve_hint(count));
        for (uint64_t k = 0; k < count; ++k) {
            std::string_view s;
            if (auto st = read_string(key + "[" + std::to_string(k) + "]", n_, &s); !st) return st;
            v->strings.push_back(s);
        }
        return {};
    }
    const uint64_t esz = scalar_size(v->elem_type);
    uint64_t bytes = 0;
    if (mul_overflow(count, esz, &bytes) || bytes > remaining())
        return err(key, "array of " + std::to_string(count) + " " + std::string(gguf_type_name(v->elem_type)) +
                            " runs past the end of the file (" + std::to_string(remaining()) + " bytes left)");
    if (v->elem_type == GgufType::BOOL) {
        for (uint64_t k = 0; k < count; ++k)
            if (p_[pos_ + k] > 1) return err(key + "[" + std::to_string(k) + "]", "boolean is not 0 or 1");
    }
    v->raw = p_ + pos_;
    pos_ += bytes;
    return {};
}

Status GgufParser::parse() {
    char magic[4];
    if (!read(&magic)) return err("header", "file is " + std::to_string(n_) + " bytes, too short for a GGUF header");
    if (std::memcmp(magic, "GGUF", 4) != 0) return err("header", "not a GGUF file (magic bytes are not 'GGUF')");
    uint32_t version = 0;
    if (!read(&version)) return err("header.version", truncated_at("the header"));
    if (version == 1) return err("header.version", "GGUF version 1 is obsolete; convert the model again");
    if (version != 2 && version != 3)
        return err("header.version", "unsupported GGUF version " + std::to_string(version) + " (2 and 3 are read)");
    f_.version_ = version;
    uint64_t n_tensors = 0, n_kv = 0;
    if (!read(&n_tensors)) return err("header.tensor_count", truncated_at("the header"));
    if (!read(&n_kv)) return err("header.metadata_kv_count", truncated_at("the header"));
    // Smallest key/value: 8 (key length) + 1 (key) + 4 (type) + 1 (u8 value).
    if (n_kv > remaining() / 14)
        return err("header.metadata_kv_count", std::to_string(n_kv) + " entries cannot fit in the " +
                                                   std::to_string(remaining()) + " bytes that follow");
    // Smallest tensor info: 8 + 1 (name) + 4 (n_dims) + 4 (type) + 8 (offset).
    if (n_tensors > remaining() / 25)
        return err("header.tensor_count", std::to_string(n_tensors) + " tensors cannot fit in the " +
                                              std::to_string(remaining()) + " bytes that follow");

    f_.kv_.reserve(reserve_hint(n_kv));
    for (uint64_t k = 0; k < n_kv; ++k) {
        const std::string field = "metadata entry " + std::to_string(k);
        std::string_view key;
        if (auto st = read_string(field + " key", kMaxKeyBytes, &key); !st) return st;
        if (key.empty()) return err(field, "empty key");
        std::string skey(key);
        uint32_t type = 0;
        if (!read(&type)) return err(skey, truncated_at("a value type"));
        if (!valid_type(type)) return err(skey, "value type " + std::to_string(type) + " is not a GGUF type");
        GgufValue v;
        if (auto st = read_value(skey, (GgufType)type, &v); !st) return st;
        if (f_.kv_index_.count(skey)) return err(skey, "key appears twice");
        f_.kv_index_.emplace(skey, f_.kv_.size());
        f_.kv_.emplace_back(std::move(skey), std::move(v));
    }

    if (const GgufValue* a = f_.find("general.alignment")) {
        auto al = a->as_int();
        if (!al || *al <= 0 || (*al & (*al - 1)) != 0 || *al > (1 << 20))
            return err("general.alignment", "must be a power of two between 1 and 1 MiB");
        f_.alignment_ = (uint64_t)*al;
    }

    f_.tensors_.reserve(reserve_hint(n_tensors));
    for (uint64_t k = 0; k < n_tensors; ++k) {
        const std::string field = "tensor " + std::to_string(k);
        std::string_view name;
        if (auto st = read_string(field + " name", kMaxTensorNameBytes, &name); !st) return st;
        GgufTensorInfo t;
        t.name = std::string(name);
        const std::string tf = "tensor " + t.name;
        if (f_.tensor_index_.count(t.name)) return err(tf, "name appears twice");
        if (!read(&t.n_dims)) return err(tf, truncated_at("the tensor table"));
        if (t.n_dims == 0 || t.n_dims > kMaxDims)
            return err(tf, "has " + std::to_string(t.n_dims) + " dimensions (1 to 4 allowed)");
        uint64_t n_el = 1;
        for (uint32_t d = 0; d < t.n_dims; ++d) {
            uint64_t ne = 0;
            if (!read(&ne)) return err(tf, truncated_at("the tensor table"));
            if (ne == 0 || ne > (uint64_t)std::numeric_limits<int64_t>::max())
                return err(tf, "dimension " + std::to_string(d) + " is " + std::to_string(ne));
            if (mul_overflow(n_el, ne, &n_el) || n_el > (uint64_t)std::numeric_limits<int64_t>::max())
                return err(tf, "element count overflows 64 bits");
            t.ne[d] = (int64_t)ne;
        }
        uint32_t type = 0;
        if (!read(&type)) return err(tf, truncated_at("the tensor table"));
        const TypeTraits* tr = type_traits(type);
        if (!tr) return err(tf, "unknown tensor type " + std::to_string(type));
        t.type = (GgmlType)type;
        if (!read(&t.offset)) return err(tf, truncated_at("the tensor table"));
        if (t.ne[0] % tr->block_size != 0)
            return err(tf, "row length " + std::to_string(t.ne[0]) + " is not a multiple of the " +
                               std::string(tr->name) + " block size " + std::to_string(tr->block_size));
        uint64_t bytes = 0;
        if (mul_overflow(n_el / tr->block_size, (uint64_t)tr->block_bytes, &bytes))
            return err(tf, "byte size overflows 64 bits");
        t.n_elements = n_el;
        t.n_bytes = bytes;
        if (t.offset % f_.alignment_ != 0)
            return err(tf, "data offset " + std::to_string(t.offset) + " is not aligned to " + std::to_string(f_.alignment_));
        f_.tensor_index_.emplace(t.name, f_.tensors_.size());
        f_.tensors_.push_back(std::move(t));
    }

    // Data section: aligned start, every tensor inside the file, no overlaps.
    uint64_t data = pos_;
    if (data % f_.alignment_) data += f_.alignment_ - data % f_.alignment_;
    if (f_.tensors_.size() > 0 && data > n_)
        return err("data section", "starts at byte " + std::to_string(data) + " past the end of the file (" + std::to_string(n_) + " bytes)");
    f_.data_offset_ = data;
    const uint64_t data_bytes = data <= n_ ? n_ - data : 0;
    std::vector<const GgufTensorInfo*> by_offset;
    by_offset.reserve(f_.tensors_.size());
    for (auto& t : f_.tensors_) {
        uint64_t end = 0;
        if (add_overflow(t.offset, t.n_bytes, &end) || end > data_bytes) {
            uint64_t abs_end = 0;
            if (add_overflow(data, end, &abs_end)) abs_end = std::numeric_limits<uint64_t>::max();
            return err("tensor " + t.name, "data ends at byte " + human_bytes(abs_end) + " but the file has " +
                                               human_bytes(n_) + " bytes (truncated download?)");
        }
        t.data = f_.base_ + data + t.offset;
        by_offset.push_back(&t);
    }
    std::sort(by_offset.begin(), by_offset.end(),
              [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
    for (size_t k = 1; k < by_offset.size(); ++k) {
        const auto* a = by_offset[k - 1];
        const auto* b = by_offset[k];
        if (a->offset + a->n_bytes > b->offset)
            return err("tensor " + b->name, "data overlaps tensor " + a->name);
    }
    return {};
}

namespace {
std::string split_suffix(uint32_t part, uint32_t count) {
    char suffix[64];
    std::snprintf(suffix, sizeof suffix, "-%05u-of-%05u.gguf", part + 1, count);
    return suffix;
}
// "NAME" of "NAME-0000k-of-0000N.gguf" when `path` is part index `part` so named; else empty.
std::string split_prefix(const std::string& path, uint32_t part, uint32_t count) {
    const std::string s = split_suffix(part, count);
    if (path.size() <= s.size() || path.compare(path.size() - s.size(), s.size(), s) != 0) return {};
    return path.substr(0, path.size() - s.size());
}
}  // namespace

std::string gguf_split_part_path(const std::string& first, uint32_t part, uint32_t count) {
    const std::string prefix = split_prefix(first, 0, count);
    return prefix.empty() ? std::string() : prefix + split_suffix(part, count);
}

Result<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path) {
    auto f = open_single(path);
    if (!f) return f;
    if (auto s = f.value()->open_parts(); !s) return s.error();
    return f;
}

uint64_t GgufFile::file_bytes() const {
    uint64_t n = size_;
    for (const auto& p : parts_) n += p->size_;
    return n;
}

namespace {
// split.count / split.no of one part, in range; 1 / 0 when the file is whole.
Status split_fields(const GgufFile& f, int64_t* count, int64_t* no) {
    auto c = f.get_int(kSplitCount);
    if (!c) return c.error();
    auto n = f.get_int(kSplitNo);
    if (!n) return n.error();
    *count = c.value().value_or(1);
    *no = n.value().value_or(0);
    if (*count < 1 || *count > 99999) return f.error(kSplitCount, "is " + std::to_string(*count) + ", not 1 to 99999");
    if (*no < 0 || *no >= *count)
        return f.error(kSplitNo, "is " + std::to_string(*no) + ", but split.count is " + std::to_string(*count));
    return {};
}
}  // namespace

Status GgufFile::open_parts() {
    int64_t count = 1, no = 0;
    if (auto s = split_fields(*this, &count, &no); !s) return s;
    if (count == 1) return {};
    if (no != 0) {
        // Part k opened on its own holds tensors but no hyper-parameters.
        const std::string prefix = split_prefix(path_, (uint32_t)no, (uint32_t)count);
        return error(kSplitNo, "this is part " + std::to_string(no + 1) + " of " + std::to_string(count) +
                                   " of a split model; open its first part" +
                                   (prefix.empty() ? std::string() : ", " + prefix + split_suffix(0, (uint32_t)count)));
    }
    if (split_prefix(path_, 0, (uint32_t)count).empty())
        return error(kSplitCount, "the model is split in " + std::to_string(count) +
                                      " parts, but this file's name does not end in " +
                                      split_suffix(0, (uint32_t)count) + ", so its other parts cannot be found");
    uint64_t n_tensors = tensors_.size();
    for (uint32_t k = 1; k < (uint32_t)count; ++k) {
        const std::string part_path = gguf_split_part_path(path_, k, (uint32_t)count);
        auto part = open_single(part_path);
        if (!part) {
            if (access(part_path.c_str(), F_OK) != 0)
                return Error{part_path + ": " + std::string(kSplitCount) + ": " + path_ + " says the model has " +
                             std::to_string(count) + " parts, but part " + std::to_string(k + 1) + " is missing"};
            return part.error();
        }
        GgufFile& p = *part.value();
        int64_t pc = 1, pn = 0;
        if (auto s = split_fields(p, &pc, &pn); !s) return s;
        if (!p.find(kSplitCount))
            return p.error(kSplitCount, "missing: the file is not a part of a split model, but " + path_ +
                                            " says its part " + std::to_string(k + 1) + " has this name");
        if (pc != count)
            return p.error(kSplitCount, "is " + std::to_string(pc) + ", but the first part " + path_ + " says " +
                                            std::to_string(count) + " (parts of different models?)");
        if (pn != (int64_t)k)
            return p.error(kSplitNo, "is " + std::to_string(pn) + ", but the file name says it is part " +
                                         std::to_string(k + 1) + " of " + std::to_string(count) + " (split.no " +
                                         std::to_string(k) + ")");
        for (const GgufTensorInfo& t : p.tensors_) {
            if (tensor_index_.count(t.name))
                return p.error("tensor " + t.name, "is also in an earlier part of the split model");
            GgufTensorInfo moved = t;
            moved.part = k;
            tensor_index_.emplace(moved.name, tensors_.size());
            tensors_.push_back(std::move(moved));
        }
        n_tensors += p.tensors_.size();
        parts_.push_back(std::move(part.value()));
    }
    auto total = get_int(kSplitTensors);
    if (!total) return total.error();
    if (total.value() && *total.value() != (int64_t)n_tensors)
        return error(kSplitTensors, "says " + std::to_string(*total.value()) + " tensors, but the " +
                                        std::to_string(count) + " parts hold " + std::to_string(n_tensors));
    EG_LOG_INFO("gguf: {}: split model, {} parts, {} tensors, {} in all", path_, count, n_tensors,
                format_bytes(file_bytes()));
    return {};
}

Result<std::unique_ptr<GgufFile>> GgufFile::open_single(const std::string& path) {
    std::unique_ptr<GgufFile> f(new GgufFile());
    f->path_ = path;
    f->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f->fd_ < 0) return f->error("open", std::strerror(errno));
    struct stat st {};
    if (fstat(f->fd_, &st) != 0) return f->error("stat", std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return f->error("open", "not a regular file");
    f->size_ = (uint64_t)st.st_size;
    if (f->size_ == 0) return f->error("header", "file is empty");
    void* m = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, f->fd_, 0);
    if (m == MAP_FAILED) return f->error("mmap", std::strerror(errno));
    f->base_ = static_cast<const uint8_t*>(m);
    GgufParser parser(*f);
    if (auto s = parser.parse(); !s) return s.error();
    EG_LOG_DEBUG("gguf: {} v{} {} keys, {} tensors, data at {}", path, f->version_, f->kv_.size(),
                 f->tensors_.size(), f->data_offset_);
    return f;
}

GgufFile::~GgufFile() {
    if (base_) munmap(const_cast<uint8_t*>(base_), size_);
    if (fd_ >= 0) ::close(fd_);
}

Error GgufFile::error(std::string_view field, std::string_view reason) const {
    return Error{path_ + ": " + std::string(field) + ": " + std::string(reason)};
}

const GgufValue* GgufFile::find(std::string_view key) const {
    auto it = kv_index_.find(std::string(key));
    return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
    auto it = tensor_index_.find(std::string(name));
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Result<std::optional<std::string>> GgufFile::get_string(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return std::optional<std::string>();
    if (v->type != GgufType::STRING) return error(key, "expected a string, found " + std::string(gguf_type_name(v->type)));
    return std::optional<std::string>(std::string(v->s));
}

Result<std::optional<int64_t>> GgufFile::get_int(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return std::optional<int64_t>();
    auto i = v->as_int();
    if (!i) return error(key, "expected an integer, found " + std::string(gguf_type_name(v->type)));
    return std::optional<int64_t>(*i);
}

Result<std::optional<double>> GgufFile::get_float(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return std::optional<double>();
    auto x = v->as_float();
    if (!x) return error(key, "expected a number, found " + std::string(gguf_type_name(v->type)));
    return std::optional<double>(*x);
}

Result<std::optional<bool>> GgufFile::get_bool(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return std::optional<bool>();
    if (v->type != GgufType::BOOL) return error(key, "expected a bool, found " + std::string(gguf_type_name(v->type)));
    return std::optional<bool>(v->u != 0);
}

namespace {
template <class T>
T load_le(const uint8_t* p) { T x; std::memcpy(&x, p, sizeof(T)); return x; }
}  // namespace

Result<std::optional<std::vector<int64_t>>> GgufFile::get_int_array(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return std::optional<std::vector<int64_t>>();
    if (v->type != GgufType::ARRAY) return error(key, "expected an array, found " + std::string(gguf_type_name(v->type)));
    std::vector<int64_t> out;
    out.reserve(v->count);
    const uint8_t* p = v->raw;
    for (uint64_t k = 0; k < v->count; ++k) {
        switch (v->elem_type) {
            case GgufType::U8: case GgufType::BOOL: out.push_back(p[k]); break;
            case GgufType::I8: out.push_back((int8_t)p[k]); break;
            case GgufType::U16: out.push_back(load_le<uint16_t>(p + 2 * k)); break;
            case GgufType::I16: out.push_back(load_le<int16_t>(p + 2 * k)); break;
            case GgufType::U32: out.push_back(load_le<uint32_t>(p + 4 * k)); break;
            case GgufType::I32: out.push_back(load_le<int32_t>(p + 4 * k)); break;
            case GgufType::I64: out.push_back(load_le<int64_t>(p + 8 * k)); break;
            case GgufType::U64: {
                uint64_t x = load_le<uint64_t>(p + 8 * k);
                if (x > (uint64_t)std::numeric_limits<int64_t>::max())
                    return error(std::string(key) + "[" + std::to_string(k) + "]", "value does not fit a signed 64-bit integer");
                out.push_back((int64_t)x);
                break;
            }
            default:
                return error(key, "expected an integer array, found an array of " + std::string(gguf_type_name(v->elem_type)));
        }
    }
    return std::optional<std::vector<int64_t>>(std::move(out));
}

Result<std::optional<std::vector<float>>> GgufFile::get_float_array(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return std::optional<std::vector<float>>();
    if (v->type != GgufType::ARRAY) return error(key, "expected an array, found " + std::string(gguf_type_name(v->type)));
    std::vector<float> out;
    out.reserve(v->count);
    for (uint64_t k = 0; k < v->count; ++k) {
        switch (v->elem_type) {
            case GgufType::F32: out.push_back(load_le<float>(v->raw + 4 * k)); break;
            case GgufType::F64: out.push_back((float)load_le<double>(v->raw + 8 * k)); break;
            case GgufType::I32: out.push_back((float)load_le<int32_t>(v->raw + 4 * k)); break;
            default:
                return error(key, "expected a float array, found an array of " + std::string(gguf_type_name(v->elem_type)));
        }
    }
    return std::optional<std::vector<float>>(std::move(out));
}

Result<std::optional<std::vector<std::string_view>>> GgufFile::get_string_array(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return std::optional<std::vector<std::string_view>>();
    if (v->type != GgufType::ARRAY || v->elem_type != GgufType::STRING)
        return error(key, "expected an array of strings");
    return std::optional<std::vector<std::string_view>>(v->strings);
}

}  // namespace eg
