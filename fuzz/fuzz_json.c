/* libFuzzer harness: the JSON record reader on arbitrary text (make fuzz; docs in fuzz/README.md). */
#include "fuzz_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_text(data, size);
    if (!text) return 0;
    ih_structure_set set;
    if (ih_parse_json(text, "fuzz.json", &set) == 0) ih_structure_set_free(&set);
    free(text);
    return 0;
}
