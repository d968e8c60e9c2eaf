/* libFuzzer harness: the poscar reader on arbitrary text (make fuzz; docs in fuzz/README.md). */
#include "fuzz_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_text(data, size);
    if (!text) return 0;
    ih_structure s;
    if (ih_parse_poscar(text, "fuzz.poscar", &s) == 0) ih_structure_free(&s);
    free(text);
    return 0;
}
