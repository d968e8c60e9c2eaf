/* libFuzzer harness: model files. The bytes go through the safetensors parser and, written to a
 * scratch file, through the model loader with its description (make fuzz; fuzz/README.md). */
#include "ionhop_train.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ih_st_file f;
    if (ih_st_parse(data, size, "fuzz.ionhop", &f) != 0) return 0;
    ih_st_free(&f);
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/ionhop-fuzz-model-%ld.ionhop", (long)getpid());
    FILE *fp = fopen(path, "wb");
    if (!fp) return 0;
    fwrite(data, 1, size, fp);
    fclose(fp);
    ih_model_set ms;
    if (ih_model_set_load(path, &ms) == 0) ih_model_set_free(&ms);
    return 0;
}
