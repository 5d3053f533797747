#ifndef GLOSSA_CPREFETCH_H
#define GLOSSA_CPREFETCH_H

// Memory-access helpers for hot loops, which Swift cannot write as one instruction or two.

// A cache prefetch hint for Swift, which has no intrinsic for it. Static inline: the call compiles to one
// prefetch instruction in the caller. Table builds that insert many keys at random slots issue the slot of
// a key some entries ahead, so that several cache misses are in flight instead of one at a time.
static inline void glossa_prefetch(const void *p) { __builtin_prefetch(p); }

#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// One 64-byte bucket of eight 32-bit keys followed by their eight 32-bit values (0 never stored): the value of
// `key` (0 when absent), and bit 32 set when a key slot holds `empty`. Two vector compares where Swift's SIMD8
// compiled to a spill of every lane.
static inline uint64_t glossa_bucket8_find(const uint32_t *line, uint32_t key, uint32_t empty) {
#if defined(__SSE2__)
    __m128i k = _mm_set1_epi32((int)key), e = _mm_set1_epi32((int)empty);
    __m128i k0 = _mm_loadu_si128((const __m128i *)line), k1 = _mm_loadu_si128((const __m128i *)(line + 4));
    __m128i m0 = _mm_cmpeq_epi32(k0, k), m1 = _mm_cmpeq_epi32(k1, k);
    __m128i v = _mm_or_si128(_mm_and_si128(_mm_loadu_si128((const __m128i *)(line + 8)), m0),
                             _mm_and_si128(_mm_loadu_si128((const __m128i *)(line + 12)), m1));
    v = _mm_or_si128(v, _mm_shuffle_epi32(v, 0x4E));
    v = _mm_or_si128(v, _mm_shuffle_epi32(v, 0xB1));
    int sawEmpty = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi32(k0, e), _mm_cmpeq_epi32(k1, e))) != 0;
    return (uint64_t)(uint32_t)_mm_cvtsi128_si32(v) | ((uint64_t)sawEmpty << 32);
#else
    uint32_t v = 0; int sawEmpty = 0;
    for (int j = 0; j < 8; j++) { v |= line[j] == key ? line[8 + j] : 0; sawEmpty |= line[j] == empty; }
    return (uint64_t)v | ((uint64_t)sawEmpty << 32);
#endif
}

#endif
