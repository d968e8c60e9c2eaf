/* libFuzzer harness: the cif reader on arbitrary text (make fuzz; docs in fuzz/README.md). */
#include "fuzz_text.h"

static void ignore_warning(const char *message, void *user) { (void)message, (void)user; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ih_set_warning_handler(ignore_warning, NULL); /* several data blocks warn; the fuzzer's output stays readable */
    char *text = fuzz_text(data, size);
    if (!text) return 0;
    ih_structure s;
    if (ih_parse_cif(text, "fuzz.cif", &s) == 0) ih_structure_free(&s);
    free(text);
    return 0;
}
