/* Datasets of edge-only graphs; line graphs added after batching equal those built directly. */
#include "check.h"
#include "ionhop_train.h"

#include <sys/stat.h>
#include <unistd.h>

int main(void) {
    ih_structure_set all;
    CHECK(ih_read_json(shared_path("data/em/train.json"), &all) == 0);
    if (all.n < 40) return test_summary("test_dataset");
    /* a small file of records 7, 8, ..., including sister paths (same host, _1/_2 suffixes) */
    int pick[] = {7, 300, 37, 161, 12, 13, 14};
    int n = (int)(sizeof pick / sizeof pick[0]);
    ih_structure sub[7];
    for (int i = 0; i < n; i++) sub[i] = all.items[pick[i]];
    char path[64];
    snprintf(path, sizeof path, "/tmp/ih_test_dataset_%d.json", (int)getpid());
    CHECK(ih_write_json(path, sub, n) == 0);

    ih_graph_opts go;
    ih_graph_opts_default(&go);
    go.line_graph = 0;
    ih_dataset d;
    const char *paths[1] = {path};
    CHECK(ih_dataset_load(&d, paths, 1, &go, 0, NULL) == 0);
    CHECK_INT(d.n, n);
    CHECK_INT(d.n_tasks, 1);
    CHECK(strcmp(d.group[0], "e-VOPO4_Na") == 0); /* e-VOPO4_Na_1 */
    CHECK(strcmp(d.group[0], d.group[1]) == 0);   /* e-VOPO4_Na_3 */
    for (int i = 0; i < n; i++) {
        CHECK_NEAR(d.targets[i], all.items[pick[i]].target, 1e-6 * (1 + all.items[pick[i]].target));
        CHECK(d.mask[i] == 1.0f);
        CHECK(strcmp(d.jid[i], all.items[pick[i]].jid) == 0);
        CHECK_INT(d.graphs[i].n_triplets, 0);
    }
    /* jid 7: T = 19 184 (docs/method.md §10.5) */
    CHECK_INT(d.n_triplets[0], 19184);

    /* batch of edge-only graphs + line graph == batch of full graphs */
    ih_graph full[3], b1, b2;
    ih_graph_opts fo;
    ih_graph_opts_default(&fo);
    const ih_graph *parts_full[3], *parts_edges[3];
    for (int i = 0; i < 3; i++) {
        CHECK(ih_graph_build(&all.items[pick[i]], &fo, &full[i]) == 0);
        CHECK_INT(full[i].n_triplets, d.n_triplets[i]);
        CHECK_INT(ih_graph_count_triplets(&full[i]), d.n_triplets[i]);
        parts_full[i] = &full[i];
        parts_edges[i] = &d.graphs[i];
    }
    CHECK(ih_graph_batch(parts_full, 3, &b1) == 0);
    CHECK(ih_graph_batch(parts_edges, 3, &b2) == 0);
    CHECK(ih_graph_add_line_graph(&b2) == 0);
    CHECK_INT(b1.n_triplets, b2.n_triplets);
    if (b1.n_triplets == b2.n_triplets) {
        size_t T = (size_t)b1.n_triplets, E = (size_t)b1.n_edges;
        CHECK(memcmp(b1.trip_src, b2.trip_src, T * sizeof(int)) == 0);
        CHECK(memcmp(b1.trip_dst, b2.trip_dst, T * sizeof(int)) == 0);
        CHECK(memcmp(b1.trip_cos, b2.trip_cos, T * sizeof(float)) == 0);
        CHECK(memcmp(b1.trips_by_src, b2.trips_by_src, T * sizeof(int)) == 0);
        CHECK(memcmp(b1.trip_ptr, b2.trip_ptr, (E + 1) * sizeof(int)) == 0);
        CHECK(memcmp(b1.tsrc_ptr, b2.tsrc_ptr, (E + 1) * sizeof(int)) == 0);
        CHECK(memcmp(b1.struct_trip_ptr, b2.struct_trip_ptr, 4 * sizeof(int)) == 0);
    }
    ih_graph_free(&b1);
    ih_graph_free(&b2);
    for (int i = 0; i < 3; i++) ih_graph_free(&full[i]);
    ih_dataset_free(&d);

    /* graph cache: second load reads it; changed data or settings, or a damaged cache, rebuild */
    char cdir[64];
    snprintf(cdir, sizeof cdir, "/tmp/ih_test_cache_%d", (int)getpid());
    CHECK(mkdir(cdir, 0700) == 0);
    ih_dataset c1, c2, c3;
    CHECK(ih_dataset_load(&c1, paths, 1, &go, 0, cdir) == 0);
    CHECK_INT(c1.from_cache, 0);
    CHECK(ih_dataset_load(&c2, paths, 1, &go, 0, cdir) == 0);
    CHECK_INT(c2.from_cache, 1);
    for (int i = 0; i < n && c2.n == n; i++) {
        const ih_graph *a = &c1.graphs[i], *b = &c2.graphs[i];
        CHECK(a->n_edges == b->n_edges && a->n_atoms == b->n_atoms);
        if (a->n_edges == b->n_edges) {
            CHECK(memcmp(a->edge_src, b->edge_src, sizeof(int) * a->n_edges) == 0);
            CHECK(memcmp(a->edge_vec, b->edge_vec, 3 * sizeof(float) * a->n_edges) == 0);
        }
        CHECK(c1.n_triplets[i] == c2.n_triplets[i]);
    }
    ih_dataset_free(&c2);
    ih_graph_opts go2 = go;
    go2.canonical = 1;
    CHECK(ih_dataset_load(&c3, paths, 1, &go2, 0, cdir) == 0);
    CHECK_INT(c3.from_cache, 0);
    CHECK(c3.graphs[0].n_edges < c1.graphs[0].n_edges);
    ih_dataset_free(&c3);
    /* damage every cache file: loads rebuild instead of failing */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "for f in %s/*.ihgc; do head -c 3000 \"$f\" > \"$f.x\" && mv \"$f.x\" \"$f\"; done", cdir);
    CHECK(system(cmd) == 0);
    CHECK(ih_dataset_load(&c3, paths, 1, &go, 0, cdir) == 0);
    CHECK_INT(c3.from_cache, 0);
    CHECK_INT(c3.graphs[n - 1].n_edges, c1.graphs[n - 1].n_edges);
    ih_dataset_free(&c3);
    /* changed data: the key no longer matches */
    CHECK(ih_write_json(path, sub, n - 1) == 0);
    CHECK(ih_dataset_load(&c3, paths, 1, &go, 0, cdir) == 0);
    CHECK_INT(c3.from_cache, 0);
    CHECK_INT(c3.n, n - 1);
    ih_dataset_free(&c3);
    ih_dataset_free(&c1);
    snprintf(cmd, sizeof cmd, "rm -rf %s", cdir);
    CHECK(system(cmd) == 0);

    /* errors name the file */
    CHECK(ih_dataset_load(&d, (const char *[]){"/nonexistent.json"}, 1, &go, 0, NULL) == -1);
    CHECK(strstr(ih_last_error(), "/nonexistent.json") != NULL);
    remove(path);
    ih_structure_set_free(&all);
    return test_summary("test_dataset");
}
