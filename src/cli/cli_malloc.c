/* Process-wide allocator settings for the commands that build many graphs or activations.
 *
 * glibc serves blocks above ~128 KB-32 MB with fresh mmap()s and returns them with munmap();
 * each munmap takes the address-space lock for writing and stalls every other thread's page
 * faults, so structure-parallel graph building ran no faster on 2 threads than on 1. Keeping
 * large blocks in the heap (no mmap, no trimming) lets freed memory be reused without the
 * kernel: 2 threads then give ~2x (bench/README.md). */
#include <malloc.h>

#include "cli.h"

void cli_tune_malloc(void) {
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
}
