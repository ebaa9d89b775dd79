#include "hot_stats.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace eg::engram {

namespace {

constexpr char kMagic[8] = {'E', 'G', 'H', 'O', 'T', 'R', 'O', 'W'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kMaxFileBytes = 1ULL << 32;

uint64_t fnv1a(const uint8_t* p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

template <class T>
void put(std::vector<uint8_t>& out, T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out.insert(out.end(), b, b + sizeof(T));
}

// Bounds-checked reading of the file's bytes.
class Cursor {
public:
    Cursor(const uint8_t* p, size_t n) : p_(p), n_(n) {}
    template <class T>
    bool get(T* v) {
        if (n_ - pos_ < sizeof(T)) return false;
        std::memcpy(v, p_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return true;
    }
    bool bytes(size_t k, std::string* s) {
        if (n_ - pos_ < k) return false;
        s->assign((const char*)p_ + pos_, k);
        pos_ += k;
        return true;
    }
    size_t left() const { return n_ - pos_; }

private:
    const uint8_t* p_;
    size_t n_;
    size_t pos_ = 0;
};

}  // namespace

Status write_hot_stats(const std::string& path, const std::vector<HotTable>& tables) {
    std::vector<uint8_t> out(kMagic, kMagic + 8);
    put<uint32_t>(out, kVersion);
    put<uint32_t>(out, (uint32_t)tables.size());
    for (const auto& t : tables) {
        put<uint32_t>(out, (uint32_t)t.tensor.size());
        out.insert(out.end(), t.tensor.begin(), t.tensor.end());
        put<uint64_t>(out, t.n_rows);
        put<uint64_t>(out, t.row_bytes);
        put<uint64_t>(out, t.rows.size());
        for (const auto& [row, count] : t.rows) {
            put<uint64_t>(out, row);
            put<uint32_t>(out, count);
        }
    }
    put<uint64_t>(out, fnv1a(out.data(), out.size()));

    const std::string tmp = path + ".tmp";
    std::error_code ec;
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);  // a failure shows at the open below
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) return make_error(tmp + ": cannot write hot-row stats: " + std::strerror(errno));
        f.write((const char*)out.data(), (std::streamsize)out.size());
        f.flush();
        if (!f) {
            std::remove(tmp.c_str());
            return make_error(tmp + ": writing hot-row stats failed");
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string why = std::error_code(errno, std::generic_category()).message();
        std::remove(tmp.c_str());
        return make_error(path + ": cannot replace hot-row stats: " + why);
    }
    return {};
}

Result<std::vector<HotTable>> read_hot_stats(const std::string& path, const std::vector<TableInfo>& expect) {
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    if (!f) return make_error(path + ": cannot open");
    const std::streamoff size = f.tellg();
    if (size < 24 || (uint64_t)size > kMaxFileBytes)
        return make_error(path + ": size " + std::to_string(size) + " bytes is not a hot-row stats file");
    std::vector<uint8_t> buf((size_t)size);
    f.seekg(0);
    if (!f.read((char*)buf.data(), size)) return make_error(path + ": read failed");

    uint64_t sum = 0;
    std::memcpy(&sum, buf.data() + buf.size() - 8, 8);
    if (sum != fnv1a(buf.data(), buf.size() - 8)) return make_error(path + ": checksum mismatch (corrupt file)");
    if (std::memcmp(buf.data(), kMagic, 8) != 0) return make_error(path + ": bad magic");

    Cursor c(buf.data() + 8, buf.size() - 16);
    uint32_t version = 0, n_tables = 0;
    if (!c.get(&version) || !c.get(&n_tables)) return make_error(path + ": header truncated");
    if (version != kVersion) return make_error(path + ": version " + std::to_string(version) + ", expected 1");
    if (n_tables != expect.size())
        return make_error(path + ": " + std::to_string(n_tables) + " tables, the model has " +
                          std::to_string(expect.size()));
    std::vector<HotTable> out(n_tables);
    for (uint32_t i = 0; i < n_tables; ++i) {
        HotTable& t = out[i];
        uint32_t name_bytes = 0;
        uint64_t n_entries = 0;
        if (!c.get(&name_bytes) || !c.bytes(name_bytes, &t.tensor) || !c.get(&t.n_rows) || !c.get(&t.row_bytes) ||
            !c.get(&n_entries))
            return make_error(path + ": table " + std::to_string(i) + " header truncated");
        if (t.tensor != expect[i].tensor || t.n_rows != expect[i].n_rows || t.row_bytes != expect[i].row_bytes)
            return make_error(path + ": table " + std::to_string(i) + " is " + t.tensor + " with " +
                              std::to_string(t.n_rows) + " rows, the model has " + expect[i].tensor + " with " +
                              std::to_string(expect[i].n_rows) + " (stats of another file)");
        if (n_entries > c.left() / 12 || n_entries > t.n_rows)
            return make_error(path + ": table " + t.tensor + ": " + std::to_string(n_entries) +
                              " entries do not fit the file");
        t.rows.resize(n_entries);
        for (auto& [row, count] : t.rows) {
            if (!c.get(&row) || !c.get(&count)) return make_error(path + ": entries truncated");
            if (row >= t.n_rows)
                return make_error(path + ": table " + t.tensor + ": row " + std::to_string(row) + " out of range");
        }
    }
    if (c.left() != 0) return make_error(path + ": " + std::to_string(c.left()) + " trailing bytes");
    return out;
}

}  // namespace eg::engram
