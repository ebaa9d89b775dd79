// Unpacking of the Q4_K/Q5_K scales as the packed panels keep them (the
// file's 12 bytes of each row, byte b of 16 rows together: packed_layout.h),
// shared by the AVX2 and AVX-512 kernels. In an anonymous namespace on
// purpose: each including file is built for a different instruction set (see
// x86_tiles.h).
#pragma once

#include <emmintrin.h>

#include <cstdint>

namespace eg::quant {
namespace {

// b[12][16] -> sc[8][16], mn[8][16] (6-bit scale and min of group j, as
// k4_scale_min() reads them, for 16 rows at once).
inline void k4_unpack(const uint8_t* b, uint8_t sc[8][16], uint8_t mn[8][16]) {
    __m128i B[12];
    for (int i = 0; i < 12; ++i) B[i] = _mm_loadu_si128((const __m128i*)(b + 16 * i));
    const __m128i m63 = _mm_set1_epi8(63), m15 = _mm_set1_epi8(15), top2 = _mm_set1_epi8((char)0xC0);
    // (x & 0xC0) >> 2 in 16-bit lanes: the two top bits of each byte to bits 4-5, nothing crosses a byte
    auto top_to_45 = [&](__m128i x) { return _mm_srli_epi16(_mm_and_si128(x, top2), 2); };
    for (int j = 0; j < 4; ++j) {
        _mm_store_si128((__m128i*)sc[j], _mm_and_si128(B[j], m63));
        _mm_store_si128((__m128i*)mn[j], _mm_and_si128(B[j + 4], m63));
        _mm_store_si128((__m128i*)sc[j + 4], _mm_or_si128(_mm_and_si128(B[j + 8], m15), top_to_45(B[j])));
        _mm_store_si128((__m128i*)mn[j + 4],
                        _mm_or_si128(_mm_and_si128(_mm_srli_epi16(B[j + 8], 4), m15), top_to_45(B[j + 4])));
    }
}

}  // namespace
}  // namespace eg::quant
