// Latency of a dependent load chain over a random cycle of 64-byte lines, for buffers of 256 KB to 64 MB: how
// large a table can be on this machine before each probe costs a trip to memory (Docs/performance-history.md, the
// nineteenth to twenty-first sessions). Argument: 1 advises 2 MiB pages (MADV_HUGEPAGE), 0 forbids them.
//   gcc -O2 Tests/bench/pointer_chase.c -o /tmp/chase && /tmp/chase 1 && /tmp/chase 0
// Two at once (`/tmp/chase 1 & /tmp/chase 1`) show how much cache the vCPUs share.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

int main(int argc, char **argv) {
    int huge = argc > 1 ? atoi(argv[1]) : 1;
    const size_t sizes[] = {256 << 10, 1 << 20, 2 << 20, 3 << 20, 4 << 20, 8 << 20, 16 << 20, 64 << 20};
    for (int si = 0; si < 8; si++) {
        size_t size = sizes[si], lines = size / 64, bytes = size < (1 << 21) ? (1 << 21) : size;
        char *buf = NULL;
        if (posix_memalign((void **)&buf, 1 << 21, bytes) != 0) return 1;
        madvise(buf, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
        size_t *perm = malloc(lines * sizeof(size_t));
        if (!perm) return 1;
        for (size_t i = 0; i < lines; i++) perm[i] = i;
        srand(1);
        for (size_t i = lines - 1; i > 0; i--) {
            size_t j = ((size_t)rand() * RAND_MAX + (size_t)rand()) % (i + 1), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (size_t i = 0; i < lines; i++) *(void **)(buf + perm[i] * 64) = buf + perm[(i + 1) % lines] * 64;
        void *p = buf + perm[0] * 64;
        const long steps = 20000000;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < steps; i++) p = *(void **)p;
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / steps;
        printf("%s %6zu KB: %.1f ns (%p)\n", huge ? "2M" : "4K", size >> 10, ns, p);
        free(perm);
        free(buf);
    }
    return 0;
}
