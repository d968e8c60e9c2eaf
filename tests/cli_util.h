/* Running the ionhop CLI from the end-to-end tests: $IONHOP_CLI (make test sets it), the
 * combined output of one command, and the one-line error convention. */
#ifndef IH_TEST_CLI_UTIL_H
#define IH_TEST_CLI_UTIL_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static inline const char *cli(void) {
    const char *c = getenv("IONHOP_CLI");
    return c ? c : "build-san/ionhop";
}

/* the benchmark program: $IONHOP_BENCH (make test sets it) */
static inline const char *bench_cli(void) {
    const char *c = getenv("IONHOP_BENCH");
    return c ? c : "build-san/ionhop-bench";
}

/* Run a shell command; stdout+stderr into out (truncated), returns the exit status. */
static inline int run(const char *cmd, char *out, size_t cap) {
    char full[8192];
    if (snprintf(full, sizeof full, "%s 2>&1", cmd) >= (int)sizeof full) return -1;
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* exactly one line, starting "ionhop: " and holding `needle` */
static inline int one_line_error(const char *out, const char *needle) {
    const char *nl = strchr(out, '\n');
    return strncmp(out, "ionhop: ", 8) == 0 && strstr(out, needle) && (!nl || nl[1] == '\0');
}
#endif
