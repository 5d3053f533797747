#include "CUTF8.h"
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>

#define SET(b) _mm_set1_epi8((char)(b))
// Unsigned x >= k per byte: max(x, k) == x.
#define GE(x, k) _mm_cmpeq_epi8(_mm_max_epu8((x), SET(k)), (x))
#define EQ(x, k) _mm_cmpeq_epi8((x), SET(k))

// Whether any byte of q[0..<16] breaks UTF-8 given the bytes before it (q[-3..<0] readable): a continuation byte
// exactly where a lead one, two or three bytes back asks for one; no C0, C1, F5–FF; the second byte's range after
// E0 (no overlongs), ED (no surrogates), F0 (no overlongs) and F4 (nothing above U+10FFFF).
static inline int fails16(const uint8_t *q) {
    __m128i c = _mm_loadu_si128((const __m128i *)q);
    __m128i p1 = _mm_loadu_si128((const __m128i *)(q - 1));
    __m128i p2 = _mm_loadu_si128((const __m128i *)(q - 2));
    __m128i p3 = _mm_loadu_si128((const __m128i *)(q - 3));
    __m128i continuation = EQ(_mm_and_si128(c, SET(0xC0)), 0x80);
    __m128i expected = _mm_or_si128(_mm_or_si128(GE(p1, 0xC0), GE(p2, 0xE0)), GE(p3, 0xF0));
    __m128i bad = _mm_xor_si128(continuation, expected);
    bad = _mm_or_si128(bad, _mm_or_si128(EQ(_mm_and_si128(c, SET(0xFE)), 0xC0), GE(c, 0xF5)));
    __m128i geA0 = GE(c, 0xA0), ge90 = GE(c, 0x90);
    bad = _mm_or_si128(bad, _mm_andnot_si128(geA0, EQ(p1, 0xE0)));
    bad = _mm_or_si128(bad, _mm_and_si128(geA0, EQ(p1, 0xED)));
    bad = _mm_or_si128(bad, _mm_andnot_si128(ge90, EQ(p1, 0xF0)));
    bad = _mm_or_si128(bad, _mm_and_si128(ge90, EQ(p1, 0xF4)));
    return _mm_movemask_epi8(bad) != 0;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define GLOSSA_UTF8_AVX2 1
#define SET32(b) _mm256_set1_epi8((char)(b))
#define GE32(x, k) _mm256_cmpeq_epi8(_mm256_max_epu8((x), SET32(k)), (x))
#define EQ32(x, k) _mm256_cmpeq_epi8((x), SET32(k))

// `fails16` on 32 bytes: the same tests, one instruction for twice the bytes (non-Latin text, where every block
// is tested, spent ≈ 4.5 instructions a byte in the 16-byte form).
__attribute__((target("avx2"))) static inline int fails32(const uint8_t *q) {
    __m256i c = _mm256_loadu_si256((const __m256i *)q);
    __m256i p1 = _mm256_loadu_si256((const __m256i *)(q - 1));
    __m256i p2 = _mm256_loadu_si256((const __m256i *)(q - 2));
    __m256i p3 = _mm256_loadu_si256((const __m256i *)(q - 3));
    __m256i continuation = EQ32(_mm256_and_si256(c, SET32(0xC0)), 0x80);
    __m256i expected = _mm256_or_si256(_mm256_or_si256(GE32(p1, 0xC0), GE32(p2, 0xE0)), GE32(p3, 0xF0));
    __m256i bad = _mm256_xor_si256(continuation, expected);
    bad = _mm256_or_si256(bad, _mm256_or_si256(EQ32(_mm256_and_si256(c, SET32(0xFE)), 0xC0), GE32(c, 0xF5)));
    __m256i geA0 = GE32(c, 0xA0), ge90 = GE32(c, 0x90);
    bad = _mm256_or_si256(bad, _mm256_andnot_si256(geA0, EQ32(p1, 0xE0)));
    bad = _mm256_or_si256(bad, _mm256_and_si256(geA0, EQ32(p1, 0xED)));
    bad = _mm256_or_si256(bad, _mm256_andnot_si256(ge90, EQ32(p1, 0xF0)));
    bad = _mm256_or_si256(bad, _mm256_and_si256(ge90, EQ32(p1, 0xF4)));
    return _mm256_movemask_epi8(bad) != 0;
}

// The main loop of `glossa_utf8_suspect_block` 32 bytes at a time, from `i` (≥ 16): the start of the first
// 16-byte block that may hold an error, or the offset where the caller goes on (fewer than 32 bytes left).
__attribute__((target("avx2"))) static size_t suspect_avx2(const uint8_t *p, size_t i, size_t n, int *found) {
    for (; i + 32 <= n; i += 32) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(p + i - 3));
        __m256i b = _mm256_loadu_si256((const __m256i *)(p + i));
        if (_mm256_movemask_epi8(_mm256_or_si256(a, b)) == 0) continue;   // all ASCII
        if (fails32(p + i)) { *found = 1; return fails16(p + i) ? i : i + 16; }
    }
    *found = 0;
    return i;
}
#endif

ptrdiff_t glossa_utf8_suspect_block(const uint8_t *p, size_t n) {
    if (n < 16) return 0;
    // First block: zeros (ASCII) before the buffer.
    uint8_t tmp[3 + 16 + 16];
    memset(tmp, 0, sizeof tmp);
    memcpy(tmp + 3, p, 16);
    if (fails16(tmp + 3)) return 0;
    size_t i = 16;
#ifdef GLOSSA_UTF8_AVX2
    if (__builtin_cpu_supports("avx2")) {
        int found;
        i = suspect_avx2(p, i, n, &found);
        if (found) return (ptrdiff_t)i;
    }
#endif
    for (; i + 32 <= n; i += 32) {
        __m128i a = _mm_loadu_si128((const __m128i *)(p + i - 3));
        __m128i b = _mm_loadu_si128((const __m128i *)(p + i + 13));
        __m128i c = _mm_loadu_si128((const __m128i *)(p + i + 16));
        if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), c)) == 0) continue;   // all ASCII
        if (fails16(p + i)) return (ptrdiff_t)i;
        if (fails16(p + i + 16)) return (ptrdiff_t)(i + 16);
    }
    for (; i + 16 <= n; i += 16) {
        if (fails16(p + i)) return (ptrdiff_t)i;
    }
    // Last bytes, then zeros: a sequence cut by the end of the buffer fails (also when i == n).
    memset(tmp, 0, sizeof tmp);
    memcpy(tmp, p + i - 3, n - i + 3);
    if (fails16(tmp + 3)) return (ptrdiff_t)i;
    return -1;
}

#else
ptrdiff_t glossa_utf8_suspect_block(const uint8_t *p, size_t n) { (void)p; (void)n; return 0; }
#endif
