/* Writes, with ionhop's safetensors writer, the tensors of tools/safetensors_numpy.py's
 * expected_tensors(), for the by-hand interoperability check:
 *
 *   make -j2 && cc -std=c11 -Iinclude tools/st_write_example.c build/libionhop.a \
 *       -fopenmp -lopenblas -lsymspg -lcjson -lm -o /tmp/st_write_example
 *   /tmp/st_write_example /tmp/ionhop_written.safetensors
 *   /usr/bin/python3 tools/safetensors_numpy.py check /tmp/ionhop_written.safetensors
 */
#include "ionhop.h"

#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT.safetensors\n", argv[0]);
        return 2;
    }
    float embed[6], rm[4] = {1e-30f, -0.0f, 3.4e38f, -2.5f}, scale = 3.14159265358979f, odd = 7.0f;
    for (int i = 0; i < 6; i++) embed[i] = 0.5f * (float)i - 1.0f;
    ih_st_tensor t[] = {
        {.name = "embed.weight", .ndim = 2, .shape = {2, 3}, .data = embed},
        {.name = "layers.0.bn.running_mean", .ndim = 1, .shape = {4}, .data = rm},
        {.name = "scale", .ndim = 0, .data = &scale},
        {.name = "empty", .ndim = 2, .shape = {0, 3}, .data = NULL},
        {.name = "w\xc3\xa9ird \"name\"", .ndim = 2, .shape = {1, 1}, .data = &odd},
    };
    /* json.dumps's spelling, so the Python side can compare the string exactly */
    ih_st_kv meta[] = {
        {"format", "ionhop-model"},
        {"ionhop", "{\"config\": {\"hidden\": 256, \"tasks\": [\"em\"]}, \"note\": \"a\\nb\"}"},
    };
    if (ih_st_write(argv[1], t, 5, meta, 2) != 0) {
        fprintf(stderr, "%s\n", ih_last_error());
        return 1;
    }
    return 0;
}
