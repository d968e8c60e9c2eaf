/* Errors, whole-file I/O with atomic writes, timing, peak memory and the seeded RNG. */
#include "ionhop_train.h"
#include "core/util.h"

#include <dirent.h>
#include <errno.h>
#include <zlib.h>
#include <signal.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char last_error[1024];

static ih_warning_fn warning_fn;
static void *warning_user;
static _Thread_local int capture_open, capture_n;
static _Thread_local char **capture_msgs;

void ih_set_warning_handler(ih_warning_fn fn, void *user) {
    warning_fn = fn;
    warning_user = user;
}

void ih_warn(const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    if (warning_fn)
        warning_fn(msg, warning_user);
    else
        fprintf(stderr, "ionhop: warning: %s\n", msg);
    if (capture_open) {
        char **grown = realloc(capture_msgs, (size_t)(capture_n + 1) * sizeof *grown);
        char *copy = strdup(msg);
        if (grown) capture_msgs = grown;
        if (grown && copy)
            capture_msgs[capture_n++] = copy;
        else
            free(copy); /* out of memory: the warning was still passed to the handler */
    }
}

void ih_warnings_capture_begin(void) {
    capture_open = 1;
    capture_n = 0;
    capture_msgs = NULL;
}

int ih_warnings_capture_end(char ***msgs) {
    int n = capture_n;
    *msgs = capture_msgs;
    capture_open = 0;
    capture_n = 0;
    capture_msgs = NULL;
    return n;
}

const char *ih_last_error(void) { return last_error; }

int ih_set_error(const char *fmt, ...) {
    /* formatted aside first: callers prefix the previous message ("%s: %s", path, ih_last_error()) */
    char msg[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(last_error, msg, sizeof msg);
    /* keep it one line: a message is printed as "ionhop: <message>" */
    for (char *p = last_error; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return -1;
}

/* Decompressed files are refused beyond this (a small gzip file can expand without bound). */
#define IH_MAX_FILE_BYTES (1UL << 30)

/* Whole files through zlib's reader, which passes plain files through unchanged and inflates
 * gzip-compressed ones (CONTCAR.gz, structure.cif.gz). */
char *ih_read_file(const char *path, size_t *len) {
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        ih_set_error("%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        gzclose(f);
        ih_set_error("%s: out of memory", path);
        return NULL;
    }
    for (;;) {
        int got = gzread(f, buf + n, (unsigned)(cap - n));
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            ih_set_error("%s: read error: %s", path, zerr == Z_ERRNO ? strerror(errno) : msg);
            free(buf);
            gzclose(f);
            return NULL;
        }
        n += (size_t)got;
        if (n < cap) break;
        if (cap >= IH_MAX_FILE_BYTES) {
            free(buf);
            gzclose(f);
            ih_set_error("%s: more than %lu bytes (after decompression): not a structure file", path,
                         (unsigned long)IH_MAX_FILE_BYTES);
            return NULL;
        }
        char *nb = realloc(buf, 2 * cap + 1);
        if (!nb) {
            free(buf);
            gzclose(f);
            ih_set_error("%s: out of memory", path);
            return NULL;
        }
        buf = nb;
        cap *= 2;
    }
    gzclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

uint64_t ih_fnv1a(uint64_t h, const void *data, size_t len) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* Whether process pid still runs: it exists (or is another user's) and is not a zombie (a killed
 * process that nobody reaped, e.g. a rank of an aborted MPI job under a container's init). */
static int process_running(long pid) {
    if (kill((pid_t)pid, 0) != 0 && errno != EPERM) return 0;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 1; /* no /proc: trust kill() */
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *close = strrchr(buf, ')'); /* "pid (comm) S ...": the state follows the name */
    return !(close && close[1] == ' ' && close[2] == 'Z');
}

/* Temporaries of path left by writers that were killed (path.tmp.PID.N with PID no longer
 * running) are removed, so that interrupted runs do not accumulate them. */
static void remove_stale_temps(const char *path) {
    const char *slash = strrchr(path, '/');
    char dir[4096];
    const char *base = slash ? slash + 1 : path;
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else snprintf(dir, sizeof dir, ".");
    if (!slash || slash == path) snprintf(dir, sizeof dir, "%s", slash ? "/" : ".");
    size_t blen = strlen(base);
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, base, blen) || strncmp(e->d_name + blen, ".tmp.", 5)) continue;
        char *end;
        long pid = strtol(e->d_name + blen + 5, &end, 10);
        if (pid <= 0 || (*end != '.' && *end != '\0')) continue;
        if (pid == (long)getpid() || process_running(pid)) continue;
        char full[8192];
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        remove(full);
    }
    closedir(d);
}

FILE *ih_open_temp(const char *path, char **tmp_out) {
    static _Atomic unsigned counter;
    *tmp_out = NULL;
    remove_stale_temps(path);
    size_t plen = strlen(path) + 48;
    char *tmp = malloc(plen);
    if (!tmp) return ih_set_error("%s: out of memory", path), NULL;
    /* O_EXCL | O_NOFOLLOW: a file or link planted at the name is never written through, and two
     * writers of one path (threads, or runs sharing a PID namespace) never share a temporary */
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(tmp, plen, "%s.tmp.%ld.%u", path, (long)getpid(), counter++);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 && errno == EEXIST) continue;
        if (fd < 0) break;
        FILE *f = fdopen(fd, "wb");
        if (!f) {
            close(fd), remove(tmp);
            break;
        }
        *tmp_out = tmp;
        return f;
    }
    ih_set_error("%s: cannot write: %s", path, strerror(errno));
    free(tmp);
    return NULL;
}

int ih_write_file_atomic(const char *path, const void *data, size_t len) {
    char *tmp;
    FILE *f = ih_open_temp(path, &tmp);
    if (!f) return -1;
    int ok = fwrite(data, 1, len, f) == len;
    ok = (fflush(f) == 0) && ok;
    ok = (fsync(fileno(f)) == 0 || errno == EINVAL) && ok;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        ih_set_error("%s: write failed: %s", path, strerror(errno));
        remove(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

double ih_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

long ih_peak_rss_kb(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    return ru.ru_maxrss;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void ih_rng_seed(ih_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ih_rng_next(ih_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double ih_rng_uniform(ih_rng *r) { return (double)(ih_rng_next(r) >> 11) * 0x1.0p-53; }

double ih_rng_normal(ih_rng *r) {
    /* 1 - u lies in (0, 1], so the logarithm is finite */
    double u = 1.0 - ih_rng_uniform(r), v = ih_rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(2.0 * 3.14159265358979323846 * v);
}

void ih_rng_shuffle(ih_rng *r, int *a, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(ih_rng_next(r) % (uint64_t)(i + 1));
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* A lock beside an output file: OUT.lock holds the writer's PID. Taken exclusively; a lock whose
 * process is gone (a killed run; a zombie counts as gone) is taken over. */
int ih_lock_output(const char *out, char **lock_path) {
    *lock_path = NULL;
    size_t n = strlen(out) + 8;
    char *lp = malloc(n);
    if (!lp) return ih_set_error("%s: out of memory", out);
    snprintf(lp, n, "%s.lock", out);
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(lp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd >= 0) {
            char pid[32];
            int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
            int ok = write(fd, pid, (size_t)len) == len;
            close(fd);
            if (!ok) {
                remove(lp), free(lp);
                return ih_set_error("%s: cannot write its lock file", out);
            }
            *lock_path = lp;
            return 0;
        }
        if (errno != EEXIST) break;
        char *text = ih_read_file(lp, NULL);
        long owner = text ? strtol(text, NULL, 10) : 0;
        free(text);
        if (owner > 0 && process_running(owner)) {
            int rc = ih_set_error("%s: another run (process %ld) is writing it (lock %s)", out, owner, lp);
            free(lp);
            return rc;
        }
        remove(lp); /* its process is gone */
    }
    int rc = ih_set_error("%s: cannot take its lock %s: %s", out, lp, strerror(errno));
    free(lp);
    return rc;
}

void ih_unlock_output(char *lock_path) {
    if (!lock_path) return;
    remove(lock_path);
    free(lock_path);
}
