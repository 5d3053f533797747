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

#endif
