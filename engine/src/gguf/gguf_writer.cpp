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
    tensors_.push_back({name, type, std::move(ne), std::move(data)});
}

std::vector<uint8_t> GgufWriter::bytes() const {
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
        offset += t.data.size();
        if (offset % al) offset += al - offset % al;
    }
    if (out.size() % al) out.resize(out.size() + (al - out.size() % al), 0);
    for (const auto& t : tensors_) {
        out.insert(out.end(), t.data.begin(), t.data.end());
        if (out.size() % al) out.resize(out.size() + (al - out.size() % al), 0);
    }
    return out;
}

Status GgufWriter::write(const std::string& path) const {
    const std::string tmp = path + ".tmp";
    std::vector<uint8_t> b = bytes();
    FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) return Error{tmp + ": cannot create: " + std::strerror(errno)};
    const size_t n = std::fwrite(b.data(), 1, b.size(), f);
    const bool ok = n == b.size() && std::fflush(f) == 0;
    std::fclose(f);
    if (!ok) {
        std::remove(tmp.c_str());
        return Error{tmp + ": write failed (disk full?)"};
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
