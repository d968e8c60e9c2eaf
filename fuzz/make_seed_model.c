/* Writes the seed corpus's model file: a tiny MODEL-3 network (hidden 4, one layer each) with the
 * description a barrier model carries, small enough for the fuzzer to mutate whole.
 *   make_seed_model OUT */
#include "ionhop_train.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 2) return fprintf(stderr, "usage: make_seed_model OUT\n"), 2;
    ih_config c;
    ih_config_default(&c);
    c.hidden = 4, c.embed = 4, c.head_width = 4, c.alignn_layers = 1, c.gcn_layers = 0, c.head_hidden = 1;
    ih_model *m = ih_model_create(&c, 1);
    ih_task_scaling sc = {"em", 0.0, 2.0, 0};
    ih_model_desc d = {.sc = &sc, .n_tasks = 1, .unit = "eV", .five_image = 1, .arch = "model3"};
    char *meta = m ? ih_model_desc_json(&d) : NULL;
    int rc = meta ? ih_model_save(argv[1], m, meta) : -1;
    if (rc != 0) fprintf(stderr, "make_seed_model: %s\n", ih_last_error());
    free(meta);
    ih_model_free(m);
    return rc == 0 ? 0 : 1;
}
