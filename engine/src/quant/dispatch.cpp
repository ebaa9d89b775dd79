// Chooses, once, which implementation of each kernel this CPU runs (AVX-512
// VNNI for the 32-element block types and the i-quants, AVX2/FMA for the rest
// when CPUID reports them, else portable scalar code) and hands out the
// per-type kernel tables declared in kernels.h.
#include <algorithm>
#include <array>
#include <cstdlib>
#include <iterator>
#include <string_view>

#include "quant/kernels_impl.h"
#include "quant/packed.h"
#include "quant/packed_layout.h"

namespace eg {

namespace {

using namespace quant;

// Activation formats (Q8_1, Q8_K) have entries too, with no vec_dot, so the
// matmul can find their quantizer; kernels_for() does not hand them out
// (they are not weight types a model may use).
constexpr TypeKernels kScalar[] = {
    {GgmlType::F32, GgmlType::F32, dequant_f32, quant_f32, dot_f32_scalar},
    {GgmlType::F16, GgmlType::F16, dequant_f16, quant_f16, dot_f16_scalar},
    {GgmlType::BF16, GgmlType::F32, dequant_bf16, quant_bf16, dot_bf16_scalar},
    {GgmlType::Q4_0, GgmlType::Q8_0, dequant_q4_0, quant_q4_0, dot_q4_0_scalar},
    {GgmlType::Q4_1, GgmlType::Q8_1, dequant_q4_1, quant_q4_1, dot_q4_1_scalar},
    {GgmlType::Q5_0, GgmlType::Q8_0, dequant_q5_0, quant_q5_0, dot_q5_0_scalar},
    {GgmlType::Q5_1, GgmlType::Q8_1, dequant_q5_1, quant_q5_1, dot_q5_1_scalar},
    {GgmlType::Q8_0, GgmlType::Q8_0, dequant_q8_0, quant_q8_0, dot_q8_0_scalar},
    {GgmlType::Q8_1, GgmlType::Q8_1, dequant_q8_1, quant_q8_1, nullptr},
    {GgmlType::Q2_K, GgmlType::Q8_K, dequant_q2_K, quant_q2_K, dot_q2_K_scalar},
    {GgmlType::Q3_K, GgmlType::Q8_K, dequant_q3_K, quant_q3_K, dot_q3_K_scalar},
    {GgmlType::Q4_K, GgmlType::Q8_K, dequant_q4_K, quant_q4_K, dot_q4_K_scalar},
    {GgmlType::Q5_K, GgmlType::Q8_K, dequant_q5_K, quant_q5_K, dot_q5_K_scalar},
    {GgmlType::Q6_K, GgmlType::Q8_K, dequant_q6_K, quant_q6_K, dot_q6_K_scalar},
    {GgmlType::Q8_K, GgmlType::Q8_K, dequant_q8_K, quant_q8_K, nullptr},
    {GgmlType::MXFP4, GgmlType::Q8_0, dequant_mxfp4, quant_mxfp4, dot_mxfp4_scalar},
    {GgmlType::IQ4_NL, GgmlType::Q8_0, dequant_iq4_nl, quant_iq4_nl, dot_iq4_nl_scalar},
    {GgmlType::IQ4_XS, GgmlType::Q8_K, dequant_iq4_xs, quant_iq4_xs, dot_iq4_xs_scalar},
    {GgmlType::IQ2_XXS, GgmlType::Q8_K, dequant_iq2_xxs, nullptr, dot_iq2_xxs_scalar},
    {GgmlType::IQ2_XS, GgmlType::Q8_K, dequant_iq2_xs, nullptr, dot_iq2_xs_scalar},
    {GgmlType::IQ2_S, GgmlType::Q8_K, dequant_iq2_s, nullptr, dot_iq2_s_scalar},
    {GgmlType::IQ3_XXS, GgmlType::Q8_K, dequant_iq3_xxs, nullptr, dot_iq3_xxs_scalar},
    {GgmlType::IQ3_S, GgmlType::Q8_K, dequant_iq3_s, nullptr, dot_iq3_s_scalar},
    {GgmlType::IQ1_S, GgmlType::Q8_K, dequant_iq1_s, nullptr, dot_iq1_s_scalar},
    {GgmlType::IQ1_M, GgmlType::Q8_K, dequant_iq1_m, nullptr, dot_iq1_m_scalar},
    {GgmlType::TQ1_0, GgmlType::Q8_K, dequant_tq1_0, nullptr, dot_tq1_0_scalar},
    {GgmlType::TQ2_0, GgmlType::Q8_K, dequant_tq2_0, nullptr, dot_tq2_0_scalar},
};

constexpr TypeKernels kAvx2[] = {
    {GgmlType::F32, GgmlType::F32, dequant_f32, quant_f32, dot_f32_avx2},
    {GgmlType::F16, GgmlType::F16, dequant_f16, quant_f16, dot_f16_avx2},
    {GgmlType::BF16, GgmlType::F32, dequant_bf16, quant_bf16, dot_bf16_avx2},
    {GgmlType::Q4_0, GgmlType::Q8_0, dequant_q4_0, quant_q4_0, dot_q4_0_avx2},
    {GgmlType::Q4_1, GgmlType::Q8_1, dequant_q4_1, quant_q4_1, dot_q4_1_avx2},
    {GgmlType::Q5_0, GgmlType::Q8_0, dequant_q5_0, quant_q5_0, dot_q5_0_avx2},
    {GgmlType::Q5_1, GgmlType::Q8_1, dequant_q5_1, quant_q5_1, dot_q5_1_avx2},
    // The AVX2 Q8_0/Q8_1 quantizers round exactly like the reference ones, so
    // they give the same bytes as gguf-py (the test checks it).
    {GgmlType::Q8_0, GgmlType::Q8_0, dequant_q8_0, quant_q8_0_avx2, dot_q8_0_avx2},
    {GgmlType::Q8_1, GgmlType::Q8_1, dequant_q8_1, quant_q8_1_avx2, nullptr},
    {GgmlType::Q2_K, GgmlType::Q8_K, dequant_q2_K, quant_q2_K, dot_q2_K_avx2},
    {GgmlType::Q3_K, GgmlType::Q8_K, dequant_q3_K, quant_q3_K, dot_q3_K_avx2},
    {GgmlType::Q4_K, GgmlType::Q8_K, dequant_q4_K, quant_q4_K, dot_q4_K_avx2},
    {GgmlType::Q5_K, GgmlType::Q8_K, dequant_q5_K, quant_q5_K, dot_q5_K_avx2},
    {GgmlType::Q6_K, GgmlType::Q8_K, dequant_q6_K, quant_q6_K, dot_q6_K_avx2},
    {GgmlType::Q8_K, GgmlType::Q8_K, dequant_q8_K, quant_q8_K, nullptr},
    {GgmlType::MXFP4, GgmlType::Q8_0, dequant_mxfp4, quant_mxfp4, dot_mxfp4_avx2},
    // i-quants and ternary types: all in AVX2 but TQ1_0, which stays
    // portable here (AVX-512 has all of them, see avx512_table())
    {GgmlType::IQ4_NL, GgmlType::Q8_0, dequant_iq4_nl, quant_iq4_nl, dot_iq4_nl_avx2},
    {GgmlType::IQ4_XS, GgmlType::Q8_K, dequant_iq4_xs, quant_iq4_xs, dot_iq4_xs_avx2},
    {GgmlType::IQ2_XXS, GgmlType::Q8_K, dequant_iq2_xxs, nullptr, dot_iq2_xxs_avx2},
    {GgmlType::IQ2_XS, GgmlType::Q8_K, dequant_iq2_xs, nullptr, dot_iq2_xs_avx2},
    {GgmlType::IQ2_S, GgmlType::Q8_K, dequant_iq2_s, nullptr, dot_iq2_s_avx2},
    {GgmlType::IQ3_XXS, GgmlType::Q8_K, dequant_iq3_xxs, nullptr, dot_iq3_xxs_avx2},
    {GgmlType::IQ3_S, GgmlType::Q8_K, dequant_iq3_s, nullptr, dot_iq3_s_avx2},
    {GgmlType::IQ1_S, GgmlType::Q8_K, dequant_iq1_s, nullptr, dot_iq1_s_avx2},
    {GgmlType::IQ1_M, GgmlType::Q8_K, dequant_iq1_m, nullptr, dot_iq1_m_avx2},
    {GgmlType::TQ1_0, GgmlType::Q8_K, dequant_tq1_0, nullptr, dot_tq1_0_scalar},
    {GgmlType::TQ2_0, GgmlType::Q8_K, dequant_tq2_0, nullptr, dot_tq2_0_avx2},
};

// Instruction-set levels, each including the one below.
enum Isa { kIsaScalar = 1, kIsaAvx2 = 2, kIsaAvx512Vnni = 3 };

Isa cpu_isa() {
#if defined(__x86_64__) || defined(__i386__)
    static const Isa isa = [] {
        if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")))
            return kIsaScalar;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
            __builtin_cpu_supports("avx512vnni"))
            return kIsaAvx512Vnni;
        return kIsaAvx2;
    }();
    return isa;
#else
    return kIsaScalar;
#endif
}

// ENGRAM_CPU_ISA=scalar|avx2|avx512vnni caps the kernels for a whole run
// (to compare paths, or to work around a CPU's trouble with one).
Isa initial_cap() {
    const char* e = std::getenv("ENGRAM_CPU_ISA");
    const std::string_view s = e ? e : "";
    if (s == "scalar") return kIsaScalar;
    if (s == "avx2") return kIsaAvx2;
    return kIsaAvx512Vnni;
}

Isa g_isa_cap = initial_cap();

Isa active_isa() { return cpu_isa() < g_isa_cap ? cpu_isa() : g_isa_cap; }

// The AVX2 table with the VNNI versions of the 32-element block types, of
// the i-quants and ternary types, and of Q2_K and Q3_K.
const TypeKernels* avx512_table() {
    static const auto table = [] {
        std::array<TypeKernels, std::size(kAvx2)> t;
        std::copy(std::begin(kAvx2), std::end(kAvx2), t.begin());
        for (auto& k : t) {
            switch (k.type) {
                case GgmlType::Q4_0: k.vec_dot = dot_q4_0_avx512; break;
                case GgmlType::Q4_1: k.vec_dot = dot_q4_1_avx512; break;
                case GgmlType::Q5_0: k.vec_dot = dot_q5_0_avx512; break;
                case GgmlType::Q5_1: k.vec_dot = dot_q5_1_avx512; break;
                case GgmlType::Q8_0: k.vec_dot = dot_q8_0_avx512; break;
                case GgmlType::MXFP4: k.vec_dot = dot_mxfp4_avx512; break;
                case GgmlType::IQ4_NL: k.vec_dot = dot_iq4_nl_avx512; break;
                case GgmlType::IQ4_XS: k.vec_dot = dot_iq4_xs_avx512; break;
                case GgmlType::IQ3_S: k.vec_dot = dot_iq3_s_avx512; break;
                case GgmlType::IQ2_XXS: k.vec_dot = dot_iq2_xxs_avx512; break;
                case GgmlType::IQ3_XXS: k.vec_dot = dot_iq3_xxs_avx512; break;
                case GgmlType::TQ2_0: k.vec_dot = dot_tq2_0_avx512; break;
                case GgmlType::IQ2_XS: k.vec_dot = dot_iq2_xs_avx512; break;
                case GgmlType::IQ2_S: k.vec_dot = dot_iq2_s_avx512; break;
                case GgmlType::IQ1_S: k.vec_dot = dot_iq1_s_avx512; break;
                case GgmlType::IQ1_M: k.vec_dot = dot_iq1_m_avx512; break;
                case GgmlType::Q2_K: k.vec_dot = dot_q2_K_avx512; break;
                case GgmlType::Q3_K: k.vec_dot = dot_q3_K_avx512; break;
                case GgmlType::TQ1_0: k.vec_dot = dot_tq1_0_avx512; break;
                default: break;
            }
        }
        return t;
    }();
    return table.data();
}

const TypeKernels* find(GgmlType t) {
    static_assert(std::size(kScalar) == std::size(kAvx2));
    const Isa isa = active_isa();
    const TypeKernels* table = isa == kIsaAvx512Vnni ? avx512_table() : isa == kIsaAvx2 ? kAvx2 : kScalar;
    for (size_t i = 0; i < std::size(kScalar); ++i)
        if (table[i].type == t) return &table[i];
    return nullptr;
}

}  // namespace

const TypeKernels* kernels_for(GgmlType t) {
    const TypeKernels* k = find(t);
    return k && k->vec_dot ? k : nullptr;
}

const char* cpu_kernel_isa() {
    switch (active_isa()) {
        case kIsaAvx512Vnni: return "avx512vnni";
        case kIsaAvx2: return "avx2";
        default: return "scalar";
    }
}

bool packed_kernels_available() { return active_isa() >= kIsaAvx2; }

void force_scalar_kernels(bool on) { g_isa_cap = on ? kIsaScalar : kIsaAvx512Vnni; }

bool cap_kernel_isa(const char* isa) {
    const std::string_view s = isa ? isa : "";
    if (s == "scalar") g_isa_cap = kIsaScalar;
    else if (s == "avx2") g_isa_cap = kIsaAvx2;
    else if (s == "avx512vnni") g_isa_cap = kIsaAvx512Vnni;
    else return false;
    return true;
}

namespace quant {
void packed_quantize_act(const PackedLayout& L, const float* x, int64_t k, uint8_t* dst) {
    if (active_isa() == kIsaAvx512Vnni) packed_quantize_act_avx512(L, x, k, dst);
    else packed_quantize_act_avx2(L, x, k, dst);
}

void packed_gemm(const PackedLayout& L, const uint8_t* panels, int64_t panel_bytes, int64_t k, int64_t n, int64_t p0,
                 int64_t p1, const uint8_t* act, int64_t act_stride, int64_t nc, float* y, int64_t y_stride) {
    if (active_isa() == kIsaAvx512Vnni)
        packed_gemm_avx512(L, panels, panel_bytes, k, n, p0, p1, act, act_stride, nc, y, y_stride);
    else
        packed_gemm_avx2(L, panels, panel_bytes, k, n, p0, p1, act, act_stride, nc, y, y_stride);
}

quantize_fn activation_quantizer(GgmlType vec_dot_type) {
    const bool simd = active_isa() != kIsaScalar;
    if (vec_dot_type == GgmlType::Q8_0) return simd ? act_q8_0_avx2 : act_q8_0;
    if (vec_dot_type == GgmlType::Q8_1) return simd ? act_q8_1_avx2 : act_q8_1;
    const TypeKernels* k = find(vec_dot_type);
    return k ? k->quantize : nullptr;
}

dequantize_fn any_dequantizer(GgmlType t) {
    const TypeKernels* k = find(t);
    return k ? k->dequantize : nullptr;
}

gemm_tile_fn gemm_tile_for(GgmlType t) {
    if (active_isa() == kIsaAvx512Vnni) {
        switch (t) {
            case GgmlType::Q4_0: return gemm_q4_0_avx512;
            case GgmlType::Q4_1: return gemm_q4_1_avx512;
            case GgmlType::Q5_0: return gemm_q5_0_avx512;
            case GgmlType::Q5_1: return gemm_q5_1_avx512;
            case GgmlType::Q8_0: return gemm_q8_0_avx512;
            case GgmlType::MXFP4: return gemm_mxfp4_avx512;
            case GgmlType::IQ4_NL: return gemm_iq4_nl_avx512;
            case GgmlType::IQ4_XS: return gemm_iq4_xs_avx512;
            case GgmlType::IQ3_S: return gemm_iq3_s_avx512;
            case GgmlType::IQ2_XXS: return gemm_iq2_xxs_avx512;
            case GgmlType::IQ3_XXS: return gemm_iq3_xxs_avx512;
            case GgmlType::TQ2_0: return gemm_tq2_0_avx512;
            case GgmlType::IQ2_XS: return gemm_iq2_xs_avx512;
            case GgmlType::IQ2_S: return gemm_iq2_s_avx512;
            case GgmlType::IQ1_S: return gemm_iq1_s_avx512;
            case GgmlType::IQ1_M: return gemm_iq1_m_avx512;
            case GgmlType::Q2_K: return gemm_q2_K_avx512;
            case GgmlType::Q3_K: return gemm_q3_K_avx512;
            case GgmlType::TQ1_0: return gemm_tq1_0_avx512;
            default: return nullptr;
        }
    }
    if (active_isa() != kIsaAvx2) return nullptr;
    switch (t) {
        case GgmlType::Q4_0: return gemm_q4_0_avx2;
        case GgmlType::Q4_1: return gemm_q4_1_avx2;
        case GgmlType::Q5_0: return gemm_q5_0_avx2;
        case GgmlType::Q5_1: return gemm_q5_1_avx2;
        case GgmlType::Q8_0: return gemm_q8_0_avx2;
        case GgmlType::MXFP4: return gemm_mxfp4_avx2;
        default: return nullptr;
    }
}
}  // namespace quant

}  // namespace eg
