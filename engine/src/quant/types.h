// Tensor element types as GGUF numbers them (ggml's enum), with the block
// geometry needed to size and validate tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace eg {

enum class GgmlType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,  // OCP microscaling FP4 (gpt-oss's MoE experts)
};

struct TypeTraits {
    std::string_view name;
    int64_t block_size;   // elements per block
    int64_t block_bytes;  // bytes per block
    bool supported;       // the engine can compute with it
};

// Traits of a raw GGUF type number; nullptr when the number is unknown.
const TypeTraits* type_traits(uint32_t type);
inline const TypeTraits* type_traits(GgmlType t) { return type_traits((uint32_t)t); }
std::string_view type_name(uint32_t type);

// Bytes of a row of n elements; -1 when n is not a multiple of the block size.
int64_t row_bytes(GgmlType t, int64_t n);

constexpr int QK4_0 = 32, QK4_1 = 32, QK5_0 = 32, QK5_1 = 32, QK8_0 = 32, QK8_1 = 32;
constexpr int QK_K = 256, K_SCALE_SIZE = 12;
constexpr int QK_MXFP4 = 32;
constexpr int QK4_NL = 32;

// Block layouts exactly as ggml defines them (little-endian, packed).
#pragma pack(push, 1)
struct block_q4_0 { uint16_t d; uint8_t qs[QK4_0 / 2]; };
struct block_q4_1 { uint16_t d; uint16_t m; uint8_t qs[QK4_1 / 2]; };
struct block_q5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; };
struct block_q5_1 { uint16_t d; uint16_t m; uint8_t qh[4]; uint8_t qs[QK5_1 / 2]; };
struct block_q8_0 { uint16_t d; int8_t qs[QK8_0]; };
struct block_q8_1 { uint16_t d; uint16_t s; int8_t qs[QK8_1]; };  // s = d * sum(qs)
struct block_q2_K { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; uint16_t d; uint16_t dmin; };
struct block_q3_K { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; uint16_t d; };
struct block_q4_K { uint16_t d; uint16_t dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; };
struct block_q5_K { uint16_t d; uint16_t dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; };
struct block_q6_K { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; uint16_t d; };
struct block_q8_K { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; };
// MXFP4: e is an E8M0 shared exponent (scale 2^(e-127)); each nibble an E2M1
// value (sign, 2-bit exponent, 1-bit mantissa: 0, 0.5, 1, 1.5, 2, 3, 4, 6 and
// their negatives), low nibbles elements 0..15, high nibbles 16..31.
struct block_mxfp4 { uint8_t e; uint8_t qs[QK_MXFP4 / 2]; };

// The i-quants (256 values a block unless named otherwise). Their grids and
// sign patterns are in iq_tables.h; "8 values" below means one grid entry.
// IQ2_XXS: per 32 values two u32: 4 grid indices (bytes), then 4 x 7 sign-
// pattern indices and a 4-bit scale ls (top bits): d * (0.5 + ls) / 4.
struct block_iq2_xxs { uint16_t d; uint16_t qs[QK_K / 8]; };
// IQ2_XS: per 8 values a u16: 9-bit grid index, 7-bit sign-pattern index;
// a 4-bit scale per 16 values.
struct block_iq2_xs { uint16_t d; uint16_t qs[QK_K / 8]; uint8_t scales[QK_K / 32]; };
// IQ2_S: per 8 values a grid index (qs byte + 2 bits of qh) and a sign byte
// (signs = qs + 32); a 4-bit scale per 16 values.
struct block_iq2_s { uint16_t d; uint8_t qs[QK_K / 4]; uint8_t qh[QK_K / 32]; uint8_t scales[QK_K / 32]; };
// IQ3_XXS: per 4 values a byte grid index (first 64 bytes), then per 32
// values a u32 of 4 x 7 sign-pattern indices and a 4-bit scale:
// d * (0.5 + ls) / 2.
struct block_iq3_xxs { uint16_t d; uint8_t qs[3 * QK_K / 8]; };
// IQ3_S: per 4 values a 9-bit grid index (qs byte + a bit of qh), a sign bit
// per value, a 4-bit scale per 32 values: d * (1 + 2 ls).
struct block_iq3_s { uint16_t d; uint8_t qs[QK_K / 4]; uint8_t qh[QK_K / 32]; uint8_t signs[QK_K / 8]; uint8_t scales[QK_K / 64]; };
// IQ1_S: per 8 values an 11-bit index into a grid of -1/0/1; per 32 values
// a u16 qh: 4 x 3 index bits, 3-bit scale (d * (2s + 1)), delta sign (bit 15):
// value = scale * (grid + delta), delta = +-1/8.
struct block_iq1_s { uint16_t d; uint8_t qs[QK_K / 8]; uint16_t qh[QK_K / 32]; };
// IQ1_M: as IQ1_S with per 8 values 3 index bits and a delta sign in a
// nibble of qh; 3-bit scales per 16 values; the f16 d is the top nibbles of
// the 4 u16 scale words.
struct block_iq1_m { uint8_t qs[QK_K / 8]; uint8_t qh[QK_K / 16]; uint8_t scales[QK_K / 32]; };
// IQ4_NL: 32 values, nibbles index kIq4nlValues (low nibbles 0..15).
struct block_iq4_nl { uint16_t d; uint8_t qs[QK4_NL / 2]; };
// IQ4_XS: IQ4_NL's nibbles with a 6-bit scale (offset 32) per 32 values.
struct block_iq4_xs { uint16_t d; uint16_t scales_h; uint8_t scales_l[QK_K / 64]; uint8_t qs[QK_K / 2]; };
// TQ1_0: ternary digits, 5 (4 in qh) to a byte as a base-3 fixed-point
// fraction; TQ2_0: 2 bits per value, q - 1.
struct block_tq1_0 { uint8_t qs[(QK_K - 4 * QK_K / 64) / 5]; uint8_t qh[QK_K / 64]; uint16_t d; };
struct block_tq2_0 { uint8_t qs[QK_K / 4]; uint16_t d; };
#pragma pack(pop)

static_assert(sizeof(block_q4_0) == 18);
static_assert(sizeof(block_q4_1) == 20);
static_assert(sizeof(block_q5_0) == 22);
static_assert(sizeof(block_q5_1) == 24);
static_assert(sizeof(block_q8_0) == 34);
static_assert(sizeof(block_q8_1) == 36);
static_assert(sizeof(block_q2_K) == 84);
static_assert(sizeof(block_q3_K) == 110);
static_assert(sizeof(block_q4_K) == 144);
static_assert(sizeof(block_q5_K) == 176);
static_assert(sizeof(block_q6_K) == 210);
static_assert(sizeof(block_q8_K) == 292);
static_assert(sizeof(block_mxfp4) == 17);
static_assert(sizeof(block_iq2_xxs) == 66);
static_assert(sizeof(block_iq2_xs) == 74);
static_assert(sizeof(block_iq2_s) == 82);
static_assert(sizeof(block_iq3_xxs) == 98);
static_assert(sizeof(block_iq3_s) == 110);
static_assert(sizeof(block_iq1_s) == 50);
static_assert(sizeof(block_iq1_m) == 56);
static_assert(sizeof(block_iq4_nl) == 18);
static_assert(sizeof(block_iq4_xs) == 136);
static_assert(sizeof(block_tq1_0) == 54);
static_assert(sizeof(block_tq2_0) == 66);

}  // namespace eg
