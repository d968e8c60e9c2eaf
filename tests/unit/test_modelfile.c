/* safetensors model files: round trip, the exact layout, a file written by an independent numpy
 * writer (tests/fixtures/gen/safetensors_numpy.py), every kind of bad file, atomic replacement, and a fuzz
 * loop over truncated and corrupted files. */
#include "check.h"
#include <dirent.h>
#include "tmpdir.h"
#include "ionhop_train.h"
#include "core/util.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>


static void write_bytes(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
}

/* An error is one line that names the file and says what is wrong. */
static int fails_with(const char *path, const char *needle) {
    ih_st_file f;
    if (ih_st_read(path, &f) == 0) {
        ih_st_free(&f);
        fprintf(stderr, "%s: accepted\n", path);
        return 0;
    }
    const char *e = ih_last_error();
    int ok = strstr(e, path) && strstr(e, needle) && !strchr(e, '\n') && f.n == 0 && !f.block;
    if (!ok) fprintf(stderr, "message '%s' lacks '%s'\n", e, needle);
    return ok;
}

/* A file with a hand-written header: u64 length, header padded to 8, data. */
static void write_raw(const char *path, const char *header, const void *data, size_t dlen) {
    size_t h = strlen(header), padded = (h + 7) / 8 * 8;
    unsigned char *buf = calloc(1, 8 + padded + dlen + 1);
    for (int b = 0; b < 8; b++) buf[b] = (unsigned char)((uint64_t)padded >> (8 * b));
    memcpy(buf + 8, header, h);
    memset(buf + 8 + h, ' ', padded - h);
    if (dlen) memcpy(buf + 8 + padded, data, dlen);
    write_bytes(path, buf, 8 + padded + dlen);
    free(buf);
}

static float w_data[12], b_data[3], rm_data[3], s_data = 2.5f;

static int write_sample(const char *path) {
    for (int i = 0; i < 12; i++) w_data[i] = 0.25f * (float)i - 1.0f;
    for (int i = 0; i < 3; i++) b_data[i] = -(float)i, rm_data[i] = 10.0f + (float)i;
    ih_st_tensor t[] = {
        {.name = "layer.weight", .ndim = 2, .shape = {3, 4}, .data = w_data},
        {.name = "layer.bias", .ndim = 1, .shape = {3}, .data = b_data},
        {.name = "bn.running_mean", .ndim = 1, .shape = {3}, .data = rm_data},
        {.name = "scalar", .ndim = 0, .data = &s_data},
        {.name = "empty", .ndim = 2, .shape = {0, 5}, .data = NULL},
    };
    ih_st_kv meta[] = {{"format", "ionhop-model"},
                       {"ionhop", "{\"config\":{\"hidden\":256},\"text\":\"quote \\\" and\\nnewline\"}"}};
    return ih_st_write(path, t, 5, meta, 2);
}

static void test_round_trip(void) {
    const char *path = tmp_path("model.safetensors");
    CHECK(write_sample(path) == 0);
    ih_st_file f;
    CHECK(ih_st_read(path, &f) == 0);
    CHECK_INT(f.n, 5);
    const ih_st_entry *w = ih_st_find(&f, "layer.weight"), *s = ih_st_find(&f, "scalar");
    const ih_st_entry *e = ih_st_find(&f, "empty"), *rm = ih_st_find(&f, "bn.running_mean");
    CHECK(w && s && e && rm && !ih_st_find(&f, "nope"));
    if (w && s && e && rm) {
        CHECK(w->ndim == 2 && w->shape[0] == 3 && w->shape[1] == 4 && w->count == 12);
        CHECK(memcmp(w->data, w_data, sizeof w_data) == 0);
        CHECK(memcmp(rm->data, rm_data, sizeof rm_data) == 0);
        CHECK(s->ndim == 0 && s->count == 1 && s->data[0] == 2.5f);
        CHECK(e->ndim == 2 && e->shape[0] == 0 && e->shape[1] == 5 && e->count == 0);
    }
    CHECK(ih_st_meta_get(&f, "format") && !strcmp(ih_st_meta_get(&f, "format"), "ionhop-model"));
    const char *j = ih_st_meta_get(&f, "ionhop");
    CHECK(j && !strcmp(j, "{\"config\":{\"hidden\":256},\"text\":\"quote \\\" and\\nnewline\"}"));
    CHECK(ih_st_meta_get(&f, "missing") == NULL);
    ih_st_free(&f);
    CHECK(f.n == 0 && f.tensors == NULL);
    ih_st_free(&f); /* freeing twice is harmless */

    /* the layout itself: u64 length, header starting with '{', data 8-aligned, floats LE */
    size_t len;
    unsigned char *raw = (unsigned char *)ih_read_file(path, &len);
    CHECK(raw != NULL);
    if (raw) {
        uint64_t h = 0;
        for (int b = 0; b < 8; b++) h |= (uint64_t)raw[b] << (8 * b);
        CHECK(h % 8 == 0 && raw[8] == '{' && 8 + h + 4 * (12 + 3 + 3 + 1) == len);
        CHECK(raw[8 + h - 1] == '}' || raw[8 + h - 1] == ' ');
        /* the first tensor written is first in the data: layer.weight[0] = -1.0f */
        CHECK(raw[8 + h] == 0x00 && raw[8 + h + 2] == 0x80 && raw[8 + h + 3] == 0xbf);
        free(raw);
    }

    /* names that need JSON escaping survive */
    float one = 1.0f;
    ih_st_tensor odd = {.name = "a\"b\\c\td", .ndim = 1, .shape = {1}, .data = &one};
    CHECK(ih_st_write(path, &odd, 1, NULL, 0) == 0);
    CHECK(ih_st_read(path, &f) == 0);
    CHECK(f.n == 1 && f.n_meta == 0 && ih_st_find(&f, "a\"b\\c\td"));
    ih_st_free(&f);
    /* no tensors at all is still a valid file */
    ih_st_kv kv = {"format", "x"};
    CHECK(ih_st_write(path, NULL, 0, &kv, 1) == 0);
    CHECK(ih_st_read(path, &f) == 0 && f.n == 0 && f.n_meta == 1);
    ih_st_free(&f);
    remove(path);
}

static void test_numpy_fixture(void) {
    /* written by tests/fixtures/gen/safetensors_numpy.py: different key order, spacing and data order */
    ih_st_file f;
    CHECK(ih_st_read("tests/fixtures/numpy_written.safetensors", &f) == 0);
    CHECK_INT(f.n, 5);
    const ih_st_entry *w = ih_st_find(&f, "embed.weight"), *rm = ih_st_find(&f, "layers.0.bn.running_mean");
    const ih_st_entry *s = ih_st_find(&f, "scale"), *e = ih_st_find(&f, "empty");
    const ih_st_entry *odd = ih_st_find(&f, "w\xc3\xa9ird \"name\"");
    CHECK(w && rm && s && e && odd);
    if (w && rm && s && e && odd) {
        CHECK(w->ndim == 2 && w->shape[0] == 2 && w->shape[1] == 3);
        for (int i = 0; i < 6; i++) CHECK(w->data[i] == 0.5f * (float)i - 1.0f);
        CHECK(rm->count == 4 && rm->data[0] == 1e-30f && rm->data[1] == 0.0f &&
              signbit(rm->data[1]) && rm->data[2] == 3.4e38f && rm->data[3] == -2.5f);
        CHECK(s->ndim == 0 && s->data[0] == (float)M_PI);
        CHECK(e->count == 0 && e->shape[0] == 0 && e->shape[1] == 3);
        CHECK(odd->ndim == 2 && odd->data[0] == 7.0f);
    }
    const char *j = ih_st_meta_get(&f, "ionhop");
    CHECK(j && strstr(j, "\"hidden\": 256") && strstr(j, "\"note\": \"a\\nb\""));
    ih_st_free(&f);
}

static void test_bad_files(void) {
    const char *p = tmp_path("bad.safetensors");
    float d[4] = {1, 2, 3, 4};

    write_bytes(p, "", 0);
    CHECK(fails_with(p, "empty file"));
    write_bytes(p, "\x01\x02\x03", 3);
    CHECK(fails_with(p, "only 3 bytes"));
    /* a structure file passed as a model */
    const char *cif = "data_LiFePO4\n_cell_length_a 10.3\n_cell_length_b 6.0\n";
    write_bytes(p, cif, strlen(cif));
    CHECK(fails_with(p, "not a safetensors model file (it is text, starting \"data_LiFePO4"));
    const char *json = "[{\"jid\": \"0\", \"atoms\": {}}]";
    write_bytes(p, json, strlen(json));
    CHECK(fails_with(p, "not a safetensors model file"));
    CHECK(fails_with(p, "[{\"jid\""));
    /* binary junk whose length word exceeds the file */
    unsigned char junk[16] = {0xff, 0xfe, 0, 0, 0, 0, 0, 0x10, 1, 2, 3, 4, 5, 6, 7, 8};
    write_bytes(p, junk, sizeof junk);
    CHECK(fails_with(p, "exceeds the 16-byte file"));
    /* a header that is not JSON / not an object / followed by junk */
    write_raw(p, "{\"a\": {\"dtype\": \"F32\",", d, 0);
    CHECK(fails_with(p, "invalid JSON"));
    unsigned char hdr_list[16] = {8, 0, 0, 0, 0, 0, 0, 0, '[', '1', ']', ' ', ' ', ' ', ' ', ' '};
    write_bytes(p, hdr_list, 16);
    CHECK(fails_with(p, "does not start with '{'"));
    write_raw(p, "{} x", d, 0);
    CHECK(fails_with(p, "bytes after the JSON object"));
    /* dtype, shape, offsets */
    write_raw(p, "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", d, 4);
    CHECK(fails_with(p, "dtype F16; only F32"));
    write_raw(p, "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", d, 8);
    CHECK(fails_with(p, "no dtype"));
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", d, 8);
    CHECK(fails_with(p, "non-negative integers"));
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", d, 8);
    CHECK(fails_with(p, "non-negative integers"));
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", d, 4);
    CHECK(fails_with(p, "9 dimensions"));
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", d, 8);
    CHECK(fails_with(p, "do not match its shape"));
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", d, 8);
    CHECK(fails_with(p, "do not match its shape (more than"));
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", d, 8);
    CHECK(fails_with(p, "two increasing"));
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", d, 8);
    CHECK(fails_with(p, "two increasing"));
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", d, 12);
    CHECK(fails_with(p, "truncated file?"));
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", d, 12);
    CHECK(fails_with(p, "overlaps"));
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", d, 16);
    CHECK(fails_with(p, "unused bytes before tensor 'b'"));
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", d, 16);
    CHECK(fails_with(p, "data section has 16 bytes but the tensors cover 8"));
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", d, 8);
    CHECK(fails_with(p, "'a' appears twice"));
    write_raw(p, "{\"__metadata__\":{\"k\":3}}", d, 0);
    CHECK(fails_with(p, "not a string"));
    write_raw(p, "{\"__metadata__\":[1]}", d, 0);
    CHECK(fails_with(p, "not an object"));
    write_raw(p, "{\"a\":[1]}", d, 0);
    CHECK(fails_with(p, "entry 'a' is not an object"));
    CHECK(fails_with(tmp_path("missing.safetensors"), "cannot open"));
    CHECK(fails_with(tmpdir, tmpdir)); /* a directory */
    remove(p);

    /* writer argument checks: nothing is written */
    ih_st_tensor dup[2] = {{.name = "x", .ndim = 1, .shape = {1}, .data = d},
                           {.name = "x", .ndim = 1, .shape = {1}, .data = d}};
    CHECK(ih_st_write(p, dup, 2, NULL, 0) == -1 && strstr(ih_last_error(), "used twice"));
    ih_st_tensor nodata = {.name = "x", .ndim = 1, .shape = {3}, .data = NULL};
    CHECK(ih_st_write(p, &nodata, 1, NULL, 0) == -1 && strstr(ih_last_error(), "no data"));
    ih_st_tensor neg = {.name = "x", .ndim = 1, .shape = {-3}, .data = d};
    CHECK(ih_st_write(p, &neg, 1, NULL, 0) == -1 && strstr(ih_last_error(), "invalid shape"));
    ih_st_tensor reserved = {.name = "__metadata__", .ndim = 1, .shape = {1}, .data = d};
    CHECK(ih_st_write(p, &reserved, 1, NULL, 0) == -1);
    CHECK(access(p, F_OK) != 0);
    CHECK(ih_st_write(tmp_path("no/such/dir/m.safetensors"), dup, 1, NULL, 0) == -1);
    CHECK(strstr(ih_last_error(), "cannot write") != NULL);
}

/* A write that fails half-way (file size limit) leaves the previous file intact and no
 * temporary file behind. */
static void test_atomic(void) {
    const char *p = tmp_path("atomic.safetensors");
    CHECK(write_sample(p) == 0);
    size_t len0;
    char *before = ih_read_file(p, &len0);
    enum { N = 1 << 16 };
    float *big = calloc(N, sizeof *big);
    ih_st_tensor t = {.name = "big", .ndim = 1, .shape = {N}, .data = big};
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 4096;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &lim);
    int rc = ih_st_write(p, &t, 1, NULL, 0);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    CHECK(rc == -1 && strstr(ih_last_error(), "write failed") && strstr(ih_last_error(), p));
    size_t len1;
    char *after = ih_read_file(p, &len1);
    CHECK(before && after && len0 == len1 && memcmp(before, after, len0) == 0);
    /* no temporary of any name left beside it */
    DIR *dir = opendir(tmpdir);
    int leftovers = 0;
    for (struct dirent *e; dir && (e = readdir(dir));) leftovers += strstr(e->d_name, "atomic.safetensors.tmp.") != NULL;
    if (dir) closedir(dir);
    CHECK(dir != NULL && leftovers == 0);
    /* a file planted where a temporary could go is never written through: the temporaries are
     * created exclusively, and a link is not followed */
    char victim[700], link[700];
    snprintf(victim, sizeof victim, "%s/victim", tmpdir);
    CHECK(ih_write_file_atomic(victim, "keep", 4) == 0);
    for (int k = 0; k < 60; k++) {
        snprintf(link, sizeof link, "%s.tmp.%ld.%d", tmp_path("planted.bin"), (long)getpid(), k);
        CHECK(symlink(victim, link) == 0);
    }
    /* a temporary left by a killed writer (its process gone) is cleared by the next write */
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    char stale[700];
    snprintf(stale, sizeof stale, "%s.tmp.%ld.0", tmp_path("planted.bin"), (long)child);
    CHECK(ih_write_file_atomic(stale, "x", 1) == 0);
    CHECK(ih_write_file_atomic(tmp_path("planted.bin"), "new", 3) == 0);
    CHECK(access(stale, F_OK) != 0);
    size_t vlen;
    char *v = ih_read_file(victim, &vlen);
    CHECK(v && vlen == 4 && !memcmp(v, "keep", 4));
    free(v);
    /* and a successful write replaces it */
    CHECK(ih_st_write(p, &t, 1, NULL, 0) == 0);
    ih_st_file f;
    CHECK(ih_st_read(p, &f) == 0 && f.n == 1 && f.tensors[0].count == N);
    ih_st_free(&f);
    free(before);
    free(after);
    free(big);
    remove(p);
}

/* Every parse of a damaged file either fails cleanly or yields a self-consistent file. */
static int consistent(const ih_st_file *f, size_t file_len) {
    size_t total = 0;
    for (int i = 0; i < f->n; i++) {
        const ih_st_entry *t = &f->tensors[i];
        size_t c = 1;
        for (int d = 0; d < t->ndim; d++) c *= (size_t)t->shape[d];
        if (!t->name || c != t->count || ih_st_find(f, t->name) == NULL) return 0;
        volatile float sink = 0;
        for (size_t k = 0; k < t->count; k++) sink += t->data[k]; /* ASan checks the bounds */
        (void)sink;
        total += t->count;
    }
    for (int i = 0; i < f->n_meta; i++)
        if (!f->meta[i].key || !f->meta[i].value) return 0;
    return 4 * total <= file_len;
}

static void test_fuzz(void) {
    const char *p = tmp_path("fuzz.safetensors");
    CHECK(write_sample(p) == 0);
    size_t len;
    unsigned char *orig = (unsigned char *)ih_read_file(p, &len);
    CHECK(orig != NULL);
    if (!orig) return;
    unsigned char *buf = malloc(len);
    int accepted = 0, rejected = 0, inconsistent = 0, bad_msg = 0;
    /* every truncation: the data section no longer matches, so every one must be rejected */
    for (size_t cut = 0; cut < len; cut++) {
        ih_st_file f;
        memcpy(buf, orig, cut);
        if (ih_st_parse(buf, cut, "cut.safetensors", &f) == 0) {
            accepted++;
            ih_st_free(&f);
        } else {
            rejected++;
            bad_msg += !strstr(ih_last_error(), "cut.safetensors") || strchr(ih_last_error(), '\n');
        }
    }
    CHECK_INT(accepted, 0);
    CHECK_INT(rejected, (int)len);
    /* single-byte corruption at every position, with values that matter to a JSON parser */
    static const unsigned char vals[] = {0x00, 0xff, '{', '}', '"', '9', '-', ' ', '[', ','};
    int ok_reads = 0;
    for (size_t pos = 0; pos < len; pos++)
        for (size_t v = 0; v < sizeof vals; v++) {
            memcpy(buf, orig, len);
            buf[pos] = vals[v];
            ih_st_file f;
            if (ih_st_parse(buf, len, "bad.safetensors", &f) == 0) {
                ok_reads++;
                inconsistent += !consistent(&f, len);
                ih_st_free(&f);
            } else {
                bad_msg += !strstr(ih_last_error(), "bad.safetensors") || strchr(ih_last_error(), '\n');
            }
        }
    /* random multi-byte damage */
    ih_rng rng;
    ih_rng_seed(&rng, 99);
    for (int it = 0; it < 3000; it++) {
        memcpy(buf, orig, len);
        int k = 1 + (int)(ih_rng_next(&rng) % 4);
        for (int j = 0; j < k; j++) buf[ih_rng_next(&rng) % len] = (unsigned char)ih_rng_next(&rng);
        size_t n = it % 3 == 0 ? (size_t)(ih_rng_next(&rng) % (len + 1)) : len;
        ih_st_file f;
        if (ih_st_parse(buf, n, "rnd.safetensors", &f) == 0) {
            ok_reads++;
            inconsistent += !consistent(&f, n);
            ih_st_free(&f);
        } else {
            bad_msg += !strstr(ih_last_error(), "rnd.safetensors") || strchr(ih_last_error(), '\n');
        }
    }
    printf("fuzz: %zu truncations, %zu single-byte and 3000 random corruptions of a %zu-byte file: "
           "%d consistent reads, the rest rejected\n",
           len, len * sizeof vals, len, ok_reads);
    CHECK_INT(inconsistent, 0);
    CHECK_INT(bad_msg, 0);
    /* damage to the float data (and to spaces in the header) is undetectable, so some reads
     * must succeed: the loop really exercised the success path */
    CHECK(ok_reads > 0);
    free(buf);
    free(orig);
    remove(p);
}

int main(void) {
    CHECK(tmpdir_make("st") == 0);
    test_round_trip();
    test_numpy_fixture();
    test_bad_files();
    test_atomic();
    test_fuzz();
    rmdir(tmpdir);
    return test_summary("test_modelfile");
}
