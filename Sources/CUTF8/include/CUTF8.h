#ifndef GLOSSA_CUTF8_H
#define GLOSSA_CUTF8_H

#include <stddef.h>
#include <stdint.h>

// The start of the first 16-byte block of `p[0..<n]` that may hold a UTF-8 error (a byte that is wrong given
// the three before it; the block after the last byte, when a sequence is cut by the end, starts at `n`), or -1
// when there is none. A block's errors involve its own bytes and the three before it, so everything before the
// character holding byte `result - 3` is valid. Returns 0 (check it all) when `n` is under 16 or the machine has
// no SSE2. Swift's SIMD types do not compile to these compares (they were scalarized: 30× the instructions).
ptrdiff_t glossa_utf8_suspect_block(const uint8_t *p, size_t n);

// The classes of 64 bytes of text, one bit per byte (bit k: p[k]), for the cl100k-family block scanner
// (`PieceScanner.blockBounds`): ASCII letters, digits, space, tab, newline, and `hard`: the bytes whose
// pieces the scalar scanner decides (non-ASCII, "'", CR, other control bytes, DEL); with `cased` (o200k) also
// the upper-case letters and "/" (else 0). Static inline, so that it compiles into the Swift caller (`cased` a
// constant there): 4 × 16-byte SSE2 compares and `movemask`s (Swift's SIMD types have no movemask); a byte
// loop elsewhere.
typedef struct { uint64_t letter, digit, space, tab, newline, hard, upper, slash; } glossa_ascii_classes;

#if defined(__SSE2__)
#include <emmintrin.h>
static inline uint64_t glossa_mask16(__m128i m, int k) { return (uint64_t)(uint16_t)_mm_movemask_epi8(m) << (16 * k); }
#endif

static inline glossa_ascii_classes glossa_classify64(const uint8_t *p, int cased) {
    glossa_ascii_classes c = {0, 0, 0, 0, 0, 0, 0, 0};
#if defined(__SSE2__)
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * k));
        // Unsigned ranges by signed compares: x + (0x80 - lo) lands in [-128, -128 + width) exactly for x in range.
        __m128i l = _mm_cmplt_epi8(_mm_add_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)), _mm_set1_epi8(0x1F)), _mm_set1_epi8(-128 + 26));
        __m128i d = _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8(0x50)), _mm_set1_epi8(-128 + 10));
        __m128i s = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x20));
        __m128i t = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x09));
        __m128i f = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x0A));
        // Signed below 0x20: control bytes and every byte >= 0x80.
        __m128i ctl = _mm_andnot_si128(_mm_or_si128(t, f), _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
        __m128i h = _mm_or_si128(ctl, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x27)), _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F))));
        c.letter |= glossa_mask16(l, k); c.digit |= glossa_mask16(d, k); c.space |= glossa_mask16(s, k);
        c.tab |= glossa_mask16(t, k); c.newline |= glossa_mask16(f, k); c.hard |= glossa_mask16(h, k);
        if (cased) {
            // Upper case: a letter with bit 5 clear (shifted into each byte's sign bit).
            c.upper |= glossa_mask16(_mm_andnot_si128(_mm_slli_epi16(v, 2), l), k);
            c.slash |= glossa_mask16(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x2F)), k);
        }
    }
#else
    for (int k = 0; k < 64; k++) {
        uint8_t b = p[k];
        uint64_t bit = (uint64_t)1 << k;
        if ((uint8_t)((b | 0x20) - 0x61) < 26) { c.letter |= bit; if (cased && b < 0x60) c.upper |= bit; }
        else if (cased && b == 0x2F) c.slash |= bit;
        else if ((uint8_t)(b - 0x30) < 10) c.digit |= bit;
        else if (b == 0x20) c.space |= bit;
        else if (b == 0x09) c.tab |= bit;
        else if (b == 0x0A) c.newline |= bit;
        else if (b < 0x20 || b >= 0x7F || b == 0x27) c.hard |= bit;
    }
#endif
    return c;
}

// Candidate starts of a set of byte strings of three bytes or more, 64 positions at a time (bit k: p + k): a
// position is a candidate when, for some bucket, each of its first three bytes has both nibbles among those of
// that bucket's strings at the same offset ("Teddy", the nibble-table prefilter of Hyperscan and Rust's
// aho-corasick). `tables` holds, per offset 0…2, the 16 low-nibble then the 16 high-nibble masks of the 8
// buckets (96 bytes); p[0..<66] must be readable. No start of a string of the set is ever missed; callers check
// the candidates. SSSE3's byte shuffle does the 16-entry lookups; `glossa_triples_supported` says whether this
// machine has it (else callers keep their scalar scan, and this returns every position).
static inline int glossa_triples_supported(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    return __builtin_cpu_supports("ssse3");
#else
    return 0;
#endif
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <tmmintrin.h>
__attribute__((target("ssse3")))
static inline uint64_t glossa_triple_candidates64(const uint8_t *p, const uint8_t *tables) {
    const __m128i nib = _mm_set1_epi8(0x0F);
    __m128i lo[3], hi[3];
    for (int j = 0; j < 3; j++) {
        lo[j] = _mm_loadu_si128((const __m128i *)(tables + 32 * j));
        hi[j] = _mm_loadu_si128((const __m128i *)(tables + 32 * j + 16));
    }
    uint64_t out = 0;
    for (int k = 0; k < 4; k++) {
        __m128i m = _mm_set1_epi8((char)0xFF);
        for (int j = 0; j < 3; j++) {
            __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * k + j));
            m = _mm_and_si128(m, _mm_and_si128(_mm_shuffle_epi8(lo[j], _mm_and_si128(v, nib)),
                                               _mm_shuffle_epi8(hi[j], _mm_and_si128(_mm_srli_epi16(v, 4), nib))));
        }
        out |= (uint64_t)(uint16_t)~_mm_movemask_epi8(_mm_cmpeq_epi8(m, _mm_setzero_si128())) << (16 * k);
    }
    return out;
}
#else
static inline uint64_t glossa_triple_candidates64(const uint8_t *p, const uint8_t *tables) {
    (void)p; (void)tables;
    return ~(uint64_t)0;
}
#endif

// The closing quote of a JSON string body that starts at `p[j]`, when the body is printable ASCII (no quote,
// backslash or control byte) and two-byte UTF-8 sequences (lead C2–DF, one continuation byte), which nearly
// all tokens of tokenizer.json files are; -1 otherwise (the caller's general string scan then decides).
// Whatever this accepts is a JSON string without escapes that ends there. Sixteen bytes a step with SSE2 (one
// step for most tokens, without a branch per character), the last 0–15 bytes of the buffer one at a time.
static inline ptrdiff_t glossa_plain_string_end(const uint8_t *p, size_t n, size_t j) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8(0x22), backslash = _mm_set1_epi8(0x5C), control = _mm_set1_epi8(0x1F);
    const __m128i contEnd = _mm_set1_epi8((char)0xC0), leadStart = _mm_set1_epi8((char)0xC1), leadEnd = _mm_set1_epi8((char)0xE0);
    while (j + 16 <= n) {
        __m128i x = _mm_loadu_si128((const __m128i *)(p + j));
        __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)),
                                    _mm_cmpeq_epi8(_mm_min_epu8(x, control), x));
        unsigned stops = (unsigned)_mm_movemask_epi8(stop);
        // The bytes before the first stop (all sixteen when there is none).
        unsigned region = stops ? (stops & (0u - stops)) - 1 : 0xFFFFu;
        unsigned high = (unsigned)_mm_movemask_epi8(x) & region;
        size_t step = 16;
        if (high) {
            // As signed bytes: continuations 80–BF are below C0; leads C2–DF are above C1 and below E0.
            unsigned cont = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(x, contEnd)) & region;
            unsigned lead = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpgt_epi8(x, leadStart), _mm_cmplt_epi8(x, leadEnd))) & region;
            if (high & ~(cont | lead)) return -1;   // C0, C1, E0–FF
            // A lead in the last byte pairs with the next step's first byte: that step starts at it.
            if (lead & 0x8000u) { lead &= 0x7FFFu; step = 15; }
            if (cont != ((lead << 1) & 0xFFFFu)) return -1;
        }
        if (!stops) { j += step; continue; }
        size_t k = j + (size_t)__builtin_ctz(stops);
        return p[k] == 0x22 ? (ptrdiff_t)k : -1;
    }
#endif
    while (j < n) {
        uint8_t c = p[j];
        if (c == 0x22) return (ptrdiff_t)j;
        if (c < 0x20 || c == 0x5C) return -1;
        if (c < 0x80) { j++; continue; }
        if (c >= 0xC2 && c <= 0xDF && j + 1 < n && (p[j + 1] & 0xC0) == 0x80) { j += 2; continue; }
        return -1;
    }
    return -1;
}

#endif
