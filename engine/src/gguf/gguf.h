// GGUF v2/v3 reader over mmap, and a writer for the files this project makes.
// Every count, size and offset read from a file is checked against the file
// before it is used; errors name the file, the field and the reason.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "quant/types.h"

namespace eg {

enum class GgufType : uint32_t {
    U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
    STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
std::string_view gguf_type_name(GgufType t);

// One metadata value. Scalars are widened; arrays point into the mapping.
struct GgufValue {
    GgufType type = GgufType::U8;
    uint64_t u = 0;        // unsigned integers and bool
    int64_t i = 0;         // signed integers
    double f = 0;          // floats
    std::string_view s;    // STRING
    // ARRAY: element type, count, raw little-endian elements (numeric arrays)
    // or the strings (string arrays). Nested arrays are rejected at load.
    GgufType elem_type = GgufType::U8;
    uint64_t count = 0;
    const uint8_t* raw = nullptr;
    std::vector<std::string_view> strings;

    bool is_integer() const;
    // Integer value of a scalar, if it is an integer (or bool) type.
    std::optional<int64_t> as_int() const;
    std::optional<double> as_float() const;  // any numeric scalar
};

struct GgufTensorInfo {
    std::string name;
    uint32_t n_dims = 0;
    int64_t ne[4] = {1, 1, 1, 1};  // fastest dimension first
    GgmlType type = GgmlType::F32;
    uint64_t offset = 0;           // from the start of the data section
    uint64_t n_elements = 0;
    uint64_t n_bytes = 0;
    const uint8_t* data = nullptr; // inside the mapping of its part
    uint32_t part = 0;             // which file of a split model holds the data (0: the first)

    // "[64, 20000]": the shape as error sentences give it, fastest first.
    std::string shape_string() const;
};

// llama.cpp's split models (gguf-split, GGUFWriter's shards): the metadata is
// in the first part; every part carries these three keys and its own tensors.
inline constexpr std::string_view kSplitCount = "split.count";          // u16, parts in all
inline constexpr std::string_view kSplitNo = "split.no";                // u16, 0 for the first part
inline constexpr std::string_view kSplitTensors = "split.tensors.count";// i32, tensors in all parts

// "NAME-00002-of-00005.gguf" for part index 1 of 5 of "NAME-00001-of-00005.gguf":
// llama.cpp's naming (llama_split_path). Empty when `first` is not so named.
std::string gguf_split_part_path(const std::string& first, uint32_t part, uint32_t count);

class GgufFile {
public:
    // Maps and validates the whole header and tensor table. The first part
    // of a split model (split.count > 1) opens its other parts too, found
    // beside it by name: each is mapped and checked on its own, and their
    // tensors are listed here as this file's (GgufTensorInfo::part says
    // where each lives). A missing or mismatched part is an error naming the
    // file and the key.
    static Result<std::unique_ptr<GgufFile>> open(const std::string& path);
    // One file alone, also one part of a split model (what a download checks
    // before the other parts are there): its own keys and tensors only.
    static Result<std::unique_ptr<GgufFile>> open_single(const std::string& path);
    ~GgufFile();
    GgufFile(const GgufFile&) = delete;
    GgufFile& operator=(const GgufFile&) = delete;

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    uint64_t file_bytes() const;  // all parts together
    uint64_t alignment() const { return alignment_; }
    // Of the first part: a tensor's bytes start at data_offset() + offset in
    // the file part_path(part).
    uint64_t data_offset() const { return data_offset_; }

    // 1 for a single file; split.count for a split model.
    uint32_t part_count() const { return 1 + (uint32_t)parts_.size(); }
    const std::string& part_path(uint32_t part) const { return part == 0 ? path_ : parts_[part - 1]->path_; }
    uint64_t part_data_offset(uint32_t part) const {
        return part == 0 ? data_offset_ : parts_[part - 1]->data_offset_;
    }

    const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
    const GgufValue* find(std::string_view key) const;

    // Typed access. The optional getters return nothing when the key is absent
    // and an Error (naming file and key) when it has the wrong type or range.
    Result<std::optional<std::string>> get_string(std::string_view key) const;
    Result<std::optional<int64_t>> get_int(std::string_view key) const;
    Result<std::optional<double>> get_float(std::string_view key) const;
    Result<std::optional<bool>> get_bool(std::string_view key) const;
    // Numeric arrays converted element-wise; strings arrays as views.
    Result<std::optional<std::vector<int64_t>>> get_int_array(std::string_view key) const;
    Result<std::optional<std::vector<float>>> get_float_array(std::string_view key) const;
    Result<std::optional<std::vector<std::string_view>>> get_string_array(std::string_view key) const;

    const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
    const GgufTensorInfo* find_tensor(std::string_view name) const;

    // Error text helper: "<path>: <field>: <reason>".
    Error error(std::string_view field, std::string_view reason) const;

private:
    GgufFile() = default;
    Status open_parts();  // the other parts of a split model
    std::vector<std::unique_ptr<GgufFile>> parts_;  // parts 2..N of a split model
    std::string path_;
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    const uint8_t* base_ = nullptr;
    uint64_t size_ = 0;
    int fd_ = -1;
    std::vector<std::pair<std::string, GgufValue>> kv_;
    std::unordered_map<std::string, size_t> kv_index_;
    std::vector<GgufTensorInfo> tensors_;
    std::unordered_map<std::string, size_t> tensor_index_;
    friend class GgufParser;
};

// Builds a GGUF v3 file. Used by tools that forge models and by tests.
class GgufWriter {
public:
    void set_u8(const std::string& key, uint8_t v);
    void set_u32(const std::string& key, uint32_t v);
    void set_i32(const std::string& key, int32_t v);
    void set_u64(const std::string& key, uint64_t v);
    void set_f32(const std::string& key, float v);
    void set_bool(const std::string& key, bool v);
    void set_string(const std::string& key, const std::string& v);
    void set_string_array(const std::string& key, const std::vector<std::string>& v);
    void set_i32_array(const std::string& key, const std::vector<int32_t>& v);
    void set_u64_array(const std::string& key, const std::vector<uint64_t>& v);
    void set_f32_array(const std::string& key, const std::vector<float>& v);
    void set_alignment(uint32_t alignment);
    // Copies a value read from another file, whatever its type (string and
    // numeric arrays included); general.alignment also sets the alignment.
    void set_value(const std::string& key, const GgufValue& v);

    // ne: fastest dimension first. data must hold the tensor's bytes.
    void add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne,
                    std::vector<uint8_t> data);

    // A tensor whose bytes live elsewhere (another file's mapping) and stay
    // valid until write() returns; nothing is copied before writing.
    void add_tensor_ref(const std::string& name, GgmlType type, std::vector<int64_t> ne,
                        const uint8_t* data, uint64_t n_bytes);

    // Fills dst with bytes [offset, offset + n) of a streamed tensor. The
    // writer asks for consecutive pieces: offset is a multiple of the
    // tensor's chunk_bytes and n = min(chunk_bytes, what is left). Must be
    // callable more than once (bytes() and write() both call it).
    using TensorSource = std::function<Status(uint64_t offset, uint8_t* dst, uint64_t n)>;
    // A tensor of n_bytes produced chunk by chunk while the file is written,
    // so tensors of many GB never sit in memory.
    void add_tensor_stream(const std::string& name, GgmlType type, std::vector<int64_t> ne,
                           uint64_t n_bytes, uint64_t chunk_bytes, TensorSource source);

    // Writes to path + ".tmp" and renames, so a failure leaves no partial file.
    Status write(const std::string& path) const;

    // The serialised bytes (for tests that corrupt them).
    std::vector<uint8_t> bytes() const;

private:
    struct KV { std::string key; GgufType type; std::vector<uint8_t> payload; };
    struct Tensor {
        std::string name; GgmlType type = GgmlType::F32; std::vector<int64_t> ne; std::vector<uint8_t> data;
        const uint8_t* ref = nullptr;  // add_tensor_ref
        uint64_t n_bytes = 0;          // of data, ref or source
        uint64_t chunk_bytes = 0;      // add_tensor_stream
        TensorSource source;
    };
    std::vector<uint8_t> header() const;  // everything before the data section, padded
    void put(const std::string& key, GgufType type, std::vector<uint8_t> payload);
    std::vector<KV> kv_;
    std::vector<Tensor> tensors_;
    uint32_t alignment_ = 32;
};

}  // namespace eg
