#include "quant/types.h"

namespace eg {

namespace {
struct Entry { uint32_t id; TypeTraits t; };
constexpr Entry kTypes[] = {
    {0, {"F32", 1, 4, true}},
    {1, {"F16", 1, 2, true}},
    {2, {"Q4_0", QK4_0, sizeof(block_q4_0), true}},
    {3, {"Q4_1", QK4_1, sizeof(block_q4_1), true}},
    {6, {"Q5_0", QK5_0, sizeof(block_q5_0), true}},
    {7, {"Q5_1", QK5_1, sizeof(block_q5_1), true}},
    {8, {"Q8_0", QK8_0, sizeof(block_q8_0), true}},
    {9, {"Q8_1", QK8_1, sizeof(block_q8_1), false}},
    {10, {"Q2_K", QK_K, sizeof(block_q2_K), true}},
    {11, {"Q3_K", QK_K, sizeof(block_q3_K), true}},
    {12, {"Q4_K", QK_K, sizeof(block_q4_K), true}},
    {13, {"Q5_K", QK_K, sizeof(block_q5_K), true}},
    {14, {"Q6_K", QK_K, sizeof(block_q6_K), true}},
    {15, {"Q8_K", QK_K, sizeof(block_q8_K), false}},
    {16, {"IQ2_XXS", QK_K, sizeof(block_iq2_xxs), true}},
    {17, {"IQ2_XS", QK_K, sizeof(block_iq2_xs), true}},
    {18, {"IQ3_XXS", QK_K, sizeof(block_iq3_xxs), true}},
    {19, {"IQ1_S", QK_K, sizeof(block_iq1_s), true}},
    {20, {"IQ4_NL", QK4_NL, sizeof(block_iq4_nl), true}},
    {21, {"IQ3_S", QK_K, sizeof(block_iq3_s), true}},
    {22, {"IQ2_S", QK_K, sizeof(block_iq2_s), true}},
    {23, {"IQ4_XS", QK_K, sizeof(block_iq4_xs), true}},
    // Known to ggml but not computed here: the reader names them in errors.
    {24, {"I8", 1, 1, false}},
    {25, {"I16", 1, 2, false}},
    {26, {"I32", 1, 4, false}},
    {27, {"I64", 1, 8, false}},
    {28, {"F64", 1, 8, false}},
    {29, {"IQ1_M", QK_K, sizeof(block_iq1_m), true}},
    {30, {"BF16", 1, 2, true}},
    {34, {"TQ1_0", QK_K, sizeof(block_tq1_0), true}},
    {35, {"TQ2_0", QK_K, sizeof(block_tq2_0), true}},
    {39, {"MXFP4", QK_MXFP4, sizeof(block_mxfp4), true}},
};
}  // namespace

const TypeTraits* type_traits(uint32_t type) {
    for (const auto& e : kTypes)
        if (e.id == type) return &e.t;
    return nullptr;
}

std::string_view type_name(uint32_t type) {
    const TypeTraits* t = type_traits(type);
    return t ? t->name : std::string_view("unknown");
}

int64_t row_bytes(GgmlType t, int64_t n) {
    const TypeTraits* tr = type_traits(t);
    if (!tr || n < 0 || n % tr->block_size != 0) return -1;
    return n / tr->block_size * tr->block_bytes;
}

}  // namespace eg
