#include "CUTF8.h"
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>

// Whether any byte of q[0..<W] breaks UTF-8 given the bytes before it (q[-3..<0] readable): a continuation byte
// exactly where a lead one, two or three bytes back asks for one; no C0, C1, F5–FF; the second byte's range after
// E0 (no overlongs), ED (no surrogates), F0 (no overlongs) and F4 (nothing above U+10FFFF). In vector extensions,
// so that one body serves 16 bytes (SSE2) and 32 (AVX2): unsigned compares become max and compare-equal.
#define GLOSSA_UTF8_FAILS(name, W, attributes)                                                                     \
    typedef uint8_t name##_bytes __attribute__((vector_size(W)));                                                  \
    typedef uint64_t name##_words __attribute__((vector_size(W)));                                                 \
    attributes static inline int name(const uint8_t *q) {                                                          \
        name##_bytes c, p1, p2, p3;                                                                                \
        memcpy(&c, q, W); memcpy(&p1, q - 1, W); memcpy(&p2, q - 2, W); memcpy(&p3, q - 3, W);                     \
        __typeof__(c == c) bad = ((c & 0xC0) == 0x80) ^ ((p1 >= 0xC0) | (p2 >= 0xE0) | (p3 >= 0xF0));              \
        bad |= ((c & 0xFE) == 0xC0) | (c >= 0xF5);                                                                 \
        __typeof__(c == c) geA0 = c >= 0xA0, ge90 = c >= 0x90;                                                     \
        bad |= (~geA0 & (p1 == 0xE0)) | (geA0 & (p1 == 0xED)) | (~ge90 & (p1 == 0xF0)) | (ge90 & (p1 == 0xF4));   \
        name##_words w = (name##_words)bad;                                                                        \
        uint64_t any = 0;                                                                                          \
        for (int k = 0; k < W / 8; k++) any |= w[k];                                                               \
        return any != 0;                                                                                           \
    }

GLOSSA_UTF8_FAILS(fails16, 16, )

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define GLOSSA_UTF8_AVX2 1
// Twice the bytes an instruction: non-Latin text, where every block is tested, spent ≈ 4.5 instructions a byte in
// the 16-byte form.
GLOSSA_UTF8_FAILS(fails32, 32, __attribute__((target("avx2"))))

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
