/* Shared by the text-reader harnesses: the input as a NUL-terminated string, as the readers get
 * it from ih_read_file. Each harness defines FUZZ_PARSE(text) for its reader. */
#ifndef IH_FUZZ_TEXT_H
#define IH_FUZZ_TEXT_H
#include "ionhop.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char *fuzz_text(const uint8_t *data, size_t size) {
    char *t = malloc(size + 1);
    if (!t) return NULL;
    memcpy(t, data, size);
    t[size] = '\0';
    return t;
}
#endif
