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

ptrdiff_t glossa_utf8_suspect_block(const uint8_t *p, size_t n) {
    if (n < 16) return 0;
    // First block: zeros (ASCII) before the buffer.
    uint8_t tmp[3 + 16 + 16];
    memset(tmp, 0, sizeof tmp);
    memcpy(tmp + 3, p, 16);
    if (fails16(tmp + 3)) return 0;
    size_t i = 16;
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
