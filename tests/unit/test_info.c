/* `ionhop info`: the description of a model file (library function and the CLI, run as
 * $IONHOP_CLI), parameter/buffer counting, pretty-printed metadata, and errors on non-models. */
#include "check.h"
#include "tmpdir.h"
#include "ionhop_modelfile.h"
#include "core/util.h"

#include <sys/wait.h>
#include <unistd.h>


static char *describe(const char *path, int list) {
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    int rc = ih_st_describe(mem, path, list);
    fclose(mem);
    if (rc != 0) {
        free(text);
        return NULL;
    }
    return text;
}

static int has(const char *text, const char *needle) {
    if (text && strstr(text, needle)) return 1;
    fprintf(stderr, "output lacks \"%s\":\n%s\n", needle, text ? text : "(null)");
    return 0;
}

static const char *cli(void) {
    const char *c = getenv("IONHOP_CLI");
    if (c) return c;
    return access("build-san/ionhop", X_OK) == 0 ? "build-san/ionhop" : "build/ionhop";
}

/* Run the CLI with arguments; returns the exit status and the captured stdout/stderr. */
static int run_cli(const char *args, char **out, char **err) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s'", cli(), args, tmp_path("out.txt"),
             tmp_path("err.txt"));
    int st = system(cmd);
    *out = ih_read_file(tmp_path("out.txt"), NULL);
    *err = ih_read_file(tmp_path("err.txt"), NULL);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void) {
    CHECK(tmpdir_make("info") == 0);
    char model[600], bare[600];
    snprintf(model, sizeof model, "%s", tmp_path("m.safetensors"));
    snprintf(bare, sizeof bare, "%s", tmp_path("bare.safetensors"));
    float w[12] = {0}, b[3] = {0}, rm[3] = {0}, rv[3] = {1, 1, 1}, nb = 0;
    ih_st_tensor t[] = {
        {.name = "head.weight", .ndim = 2, .shape = {3, 4}, .data = w},
        {.name = "head.bias", .ndim = 1, .shape = {3}, .data = b},
        {.name = "bn.running_mean", .ndim = 1, .shape = {3}, .data = rm},
        {.name = "bn.running_var", .ndim = 1, .shape = {3}, .data = rv},
        {.name = "bn.num_batches_tracked", .ndim = 0, .data = &nb},
    };
    ih_st_kv meta[] = {
        {"format", "ionhop-model"},
        {"ionhop", "{\"config\":{\"hidden\":256,\"layers\":[4,4],\"empty\":{}},\"tasks\":[\"em\"],"
                   "\"training\":{\"epochs\":500,\"best_val_mae\":0.125,\"splits\":[{\"n\":503},{\"n\":55}]}}"},
        {"note", "plain text,\nsecond line"},
        {"odd", "{not json"},
    };
    CHECK(ih_st_write(model, t, 5, meta, 4) == 0);

    char *text = describe(model, 0);
    CHECK(text != NULL);
    CHECK(has(text, "format: ionhop-model\n"));
    CHECK(has(text, "tensors: 5\n"));
    CHECK(has(text, "parameters: 15 (in 2 tensors)\n"));
    CHECK(has(text, "buffers: 7 (in 3 tensors"));
    /* the "ionhop" JSON document, pretty-printed with two-space indentation */
    CHECK(has(text, "  ionhop: {\n    \"config\": {\n      \"hidden\": 256,\n"));
    CHECK(has(text, "      \"layers\": [4, 4],\n      \"empty\": {}\n    },\n"));
    CHECK(has(text, "    \"tasks\": [\"em\"],\n"));
    CHECK(has(text, "      \"best_val_mae\": 0.125,\n"));
    CHECK(has(text, "      \"splits\": [\n        {\n          \"n\": 503\n        },\n"));
    /* plain strings stay on one line; invalid JSON is shown as it is */
    CHECK(has(text, "  note: plain text, second line\n"));
    CHECK(has(text, "  odd: {not json\n"));
    CHECK(!strstr(text, "head.weight")); /* no tensor list unless asked */
    free(text);

    text = describe(model, 1);
    CHECK(has(text, "  head.weight [3, 4] 12\n"));
    CHECK(has(text, "  bn.num_batches_tracked [] 1 (buffer)\n"));
    free(text);

    /* a file without metadata */
    CHECK(ih_st_write(bare, t, 2, NULL, 0) == 0);
    text = describe(bare, 0);
    CHECK(has(text, "format: (not given)\n"));
    CHECK(has(text, "metadata: (none)\n"));
    CHECK(has(text, "buffers: 0 (in 0 tensors"));
    free(text);

    /* the CLI */
    char *out, *err, args[1024];
    snprintf(args, sizeof args, "info --tensors '%s'", model);
    CHECK_INT(run_cli(args, &out, &err), 0);
    CHECK(has(out, "parameters: 15 (in 2 tensors)\n") && has(out, "head.bias [3] 3\n"));
    CHECK(err && err[0] == '\0');
    free(out);
    free(err);

    char cif[600];
    snprintf(cif, sizeof cif, "%s", tmp_path("LiCoO2.cif"));
    FILE *f = fopen(cif, "w");
    if (f) {
        fputs("data_LiCoO2\n_cell_length_a 2.8\n", f);
        fclose(f);
    }
    snprintf(args, sizeof args, "info '%s'", cif);
    CHECK_INT(run_cli(args, &out, &err), 1);
    char want[800];
    snprintf(want, sizeof want, "ionhop: %s: not a safetensors model file (it is text, starting \"data_LiCoO2", cif);
    CHECK(has(err, want));
    CHECK(err && strchr(err, '\n') == strrchr(err, '\n')); /* one line */
    CHECK(out && out[0] == '\0');
    free(out);
    free(err);

    snprintf(args, sizeof args, "info '%s'", tmp_path("absent.safetensors"));
    CHECK_INT(run_cli(args, &out, &err), 1);
    CHECK(has(err, "absent.safetensors: cannot open"));
    free(out);
    free(err);

    CHECK_INT(run_cli("info", &out, &err), 2);
    CHECK(has(err, "no model file given"));
    free(out);
    free(err);
    snprintf(args, sizeof args, "info --bogus '%s'", model);
    CHECK_INT(run_cli(args, &out, &err), 2);
    CHECK(has(err, "unknown option '--bogus'"));
    free(out);
    free(err);
    CHECK_INT(run_cli("info --help", &out, &err), 0);
    CHECK(has(out, "usage: ionhop info"));
    free(out);
    free(err);

    remove(model);
    remove(bare);
    remove(cif);
    remove(tmp_path("out.txt"));
    remove(tmp_path("err.txt"));
    rmdir(tmpdir);
    return test_summary("test_info");
}
