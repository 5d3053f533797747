#ifndef GLOSSA_CPREFETCH_H
#define GLOSSA_CPREFETCH_H

// A cache prefetch hint for Swift, which has no intrinsic for it. Static inline: the call compiles to one
// prefetch instruction in the caller. Table builds that insert many keys at random slots issue the slot of
// a key some entries ahead, so that several cache misses are in flight instead of one at a time.
static inline void glossa_prefetch(const void *p) { __builtin_prefetch(p); }

#endif
