#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "gguf/gguf.h"

namespace eg {

namespace {
template <class T>
void append(std::vector<uint8_t>& out, const T& v) {
    // resize + memcpy: GCC 12 warns falsely (-Wstringop-overflow) on insert().
    const size_t at = out.size();
    out.resize(at + sizeof(T));
    std::memcpy(out.data() + at, &v, sizeof(T));
}
void append_string(std::vector<uint8_t>& out, const std::string& s) {
    append<uint64_t>(out, s.size());
    const size_t at = out.size();
    out.resize(at + s.size());
    if (!s.empty()) std::memcpy(out.data() + at, s.data(), s.size());
}
}  // namespace

void GgufWriter::put(const std::string& key, GgufType type, std::vector<uint8_t> payload) {
    for (auto& kv : kv_) {
        if (kv.key == key) { kv.type = type; kv.payload = std::move(payload); return; }
    }
    kv_.push_back({key, type, std::move(payload)});
}

void GgufWriter::set_u8(const std::string& key, uint8_t v) { std::vector<uint8_t> p; append(p, v); put(key, GgufType::U8, p); }
void GgufWriter::set_u32(const std::string& key, uint32_t v) { std::vector<uint8_t> p; append(p, v); put(key, GgufType::U32, p); }
void GgufWriter::set_i32(const std::string& key, int32_t v) { std::vector<uint8_t> p; append(p, v); put(key, GgufType::I32, p); }
void GgufWriter::set_u64(const std::string& key, uint64_t v) { std::vector<uint8_t> p; append(p, v); put(key, GgufType::U64, p); }
void GgufWriter::set_f32(const std::string& key, float v) { std::vector<uint8_t> p; append(p, v); put(key, GgufType::F32, p); }
void GgufWriter::set_bool(const std::string& key, bool v) { std::vector<uint8_t> p{(uint8_t)(v ? 1 : 0)}; put(key, GgufType::BOOL, p); }
void GgufWriter::set_string(const std::string& key, const std::string& v) { std::vector<uint8_t> p; append_string(p, v); put(key, GgufType::STRING, p); }

void GgufWriter::set_string_array(const std::string& key, const std::vector<std::string>& v) {
    std::vector<uint8_t> p;
    append<uint32_t>(p, (uint32_t)GgufType::STRING);
    append<uint64_t>(p, v.size());
    for (const auto& s : v) append_string(p, s);
    put(key, GgufType::ARRAY, p);
}

template <class T>
static std::vector<uint8_t> numeric_array(GgufType et, const std::vector<T>& v) {
    std::vector<uint8_t> p;
    append<uint32_t>(p, (uint32_t)et);
    append<uint64_t>(p, v.size());
    for (const auto& x : v) append(p, x);
    return p;
}

void GgufWriter::set_i32_array(const std::string& key, const std::vector<int32_t>& v) { put(key, GgufType::ARRAY, numeric_array(GgufType::I32, v)); }
void GgufWriter::set_u64_array(const std::string& key, const std::vector<uint64_t>& v) { put(key, GgufType::ARRAY, numeric_array(GgufType::U64, v)); }
void GgufWriter::set_f32_array(const std::string& key, const std::vector<float>& v) { put(key, GgufType::ARRAY, numeric_array(GgufType::F32, v)); }

void GgufWriter::set_alignment(uint32_t alignment) {
    alignment_ = alignment;
    set_u32("general.alignment", alignment);
}

void GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne, std::vector<uint8_t> data) {
    Tensor t;
    t.name = name;
    t.type = type;
    t.ne = std::move(ne);
    t.data = std::move(data);
    t.n_bytes = t.data.size();
    tensors_.push_back(std::move(t));
}

void GgufWriter::add_tensor_ref(const std::string& name, GgmlType type, std::vector<int64_t> ne,
                                const uint8_t* data, uint64_t n_bytes) {
    Tensor t;
    t.name = name;
    t.type = type;
    t.ne = std::move(ne);
    t.ref = data;
    t.n_bytes = n_bytes;
    tensors_.push_back(std::move(t));
}

void GgufWriter::add_tensor_stream(const std::string& name, GgmlType type, std::vector<int64_t> ne,
                                   uint64_t n_bytes, uint64_t chunk_bytes, TensorSource source) {
    Tensor t;
    t.name = name;
    t.type = type;
    t.ne = std::move(ne);
    t.n_bytes = n_bytes;
    t.chunk_bytes = chunk_bytes ? chunk_bytes : (64u << 20);
    t.source = std::move(source);
    tensors_.push_back(std::move(t));
}

namespace {
size_t gguf_scalar_bytes(GgufType t) {
    switch (t) {
        case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
        case GgufType::U16: case GgufType::I16: return 2;
        case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
        case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
        default: return 0;
    }
}
// One scalar of a GgufValue, little-endian, at its own width.
void append_scalar(std::vector<uint8_t>& p, const GgufValue& v) {
    switch (v.type) {
        case GgufType::U8: append<uint8_t>(p, (uint8_t)v.u); break;
        case GgufType::BOOL: append<uint8_t>(p, (uint8_t)(v.u != 0)); break;
        case GgufType::I8: append<int8_t>(p, (int8_t)v.i); break;
        case GgufType::U16: append<uint16_t>(p, (uint16_t)v.u); break;
        case GgufType::I16: append<int16_t>(p, (int16_t)v.i); break;
        case GgufType::U32: append<uint32_t>(p, (uint32_t)v.u); break;
        case GgufType::I32: append<int32_t>(p, (int32_t)v.i); break;
        case GgufType::U64: append<uint64_t>(p, v.u); break;
        case GgufType::I64: append<int64_t>(p, v.i); break;
        case GgufType::F32: append<float>(p, (float)v.f); break;
        case GgufType::F64: append<double>(p, v.f); break;
        default: break;
    }
}
}  // namespace

void GgufWriter::set_value(const std::string& key, const GgufValue& v) {
    std::vector<uint8_t> p;
    if (v.type == GgufType::STRING) {
        append_string(p, std::string(v.s));
    } else if (v.type == GgufType::ARRAY) {
        append<uint32_t>(p, (uint32_t)v.elem_type);
        append<uint64_t>(p, v.count);
        if (v.elem_type == GgufType::STRING) {
            for (std::string_view s : v.strings) append_string(p, std::string(s));
        } else {
            const size_t n = (size_t)v.count * gguf_scalar_bytes(v.elem_type);
            const size_t at = p.size();
            p.resize(at + n);
            if (n) std::memcpy(p.data() + at, v.raw, n);
        }
    } else {
        append_scalar(p, v);
        if (key == "general.alignment" && v.u > 0 && v.u <= (1u << 20)) alignment_ = (uint32_t)v.u;
    }
    put(key, v.type, std::move(p));
}

std::vector<uint8_t> GgufWriter::header() const {
    std::vector<uint8_t> out(4);
    std::memcpy(out.data(), "GGUF", 4);
    append<uint32_t>(out, 3);
    append<uint64_t>(out, tensors_.size());
    append<uint64_t>(out, kv_.size());
    for (const auto& kv : kv_) {
        append_string(out, kv.key);
        append<uint32_t>(out, (uint32_t)kv.type);
        out.insert(out.end(), kv.payload.begin(), kv.payload.end());
    }
    const uint64_t al = alignment_ ? alignment_ : 32;
    uint64_t offset = 0;
    for (const auto& t : tensors_) {
        append_string(out, t.name);
        append<uint32_t>(out, (uint32_t)t.ne.size());
        for (int64_t n : t.ne) append<uint64_t>(out, (uint64_t)n);
        append<uint32_t>(out, (uint32_t)t.type);
        append<uint64_t>(out, offset);
        offset += t.n_bytes;
        if (offset % al) offset += al - offset % al;
    }
    if (out.size() % al) out.resize(out.size() + (al - out.size() % al), 0);
    return out;
}

namespace {
// Hands a tensor's bytes to sink piece by piece (the whole buffer for
// in-memory tensors, chunk_bytes pieces for streamed ones).
template <class Tensor, class Sink>
Status for_each_piece(const Tensor& t, std::vector<uint8_t>& buf, Sink&& sink) {
    if (!t.source) return sink(t.ref ? t.ref : t.data.data(), t.n_bytes);
    for (uint64_t off = 0; off < t.n_bytes; off += t.chunk_bytes) {
        const uint64_t n = std::min<uint64_t>(t.chunk_bytes, t.n_bytes - off);
        buf.resize(n);
        if (Status s = t.source(off, buf.data(), n); !s) return s;
        if (Status s = sink(buf.data(), n); !s) return s;
    }
    return {};
}
}  // namespace

std::vector<uint8_t> GgufWriter::bytes() const {
    std::vector<uint8_t> out = header();
    const uint64_t al = alignment_ ? alignment_ : 32;
    std::vector<uint8_t> buf;
    for (const auto& t : tensors_) {
        Status s = for_each_piece(t, buf, [&](const uint8_t* p, uint64_t n) -> Status {
            out.insert(out.end(), p, p + n);
            return {};
        });
        if (!s) return {};
        if (out.size() % al) out.resize(out.size() + (al - out.size() % al), 0);
    }
    return out;
}

Status GgufWriter::write(const std::string& path) const {
    const std::string tmp = path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) return Error{tmp + ": cannot create: " + std::strerror(errno)};
    const uint64_t al = alignment_ ? alignment_ : 32;
    uint64_t pos = 0;
    auto put_bytes = [&](const uint8_t* p, uint64_t n) -> Status {
        if (n && std::fwrite(p, 1, n, f) != n) return Error{tmp + ": write failed (disk full?)"};
        pos += n;
        return {};
    };
    static const uint8_t zeros[64] = {};
    auto pad = [&]() -> Status {
        Status s;
        while (s && pos % al) s = put_bytes(zeros, std::min<uint64_t>(sizeof zeros, al - pos % al));
        return s;
    };
    Status st;
    {
        const std::vector<uint8_t> h = header();
        st = put_bytes(h.data(), h.size());
    }
    std::vector<uint8_t> buf;
    for (size_t i = 0; st && i < tensors_.size(); ++i) {
        const Tensor& t = tensors_[i];
        st = for_each_piece(t, buf, put_bytes);
        if (!st) st = Error{"tensor " + t.name + ": " + st.message()};
        if (st) st = pad();
    }
    if (st && std::fflush(f) != 0) st = Error{tmp + ": write failed (disk full?)"};
    std::fclose(f);
    if (!st) {
        std::remove(tmp.c_str());
        return st;
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::remove(tmp.c_str());
        return Error{path + ": cannot move the finished file into place: " + ec.message()};
    }
    return {};
}

}  // namespace eg
