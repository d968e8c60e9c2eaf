/* A scratch directory per test program: make it with tmpdir_make, name files in it with
 * tmp_path (four rotating buffers, so one call may take up to four paths). */
#ifndef IH_TEST_TMPDIR_H
#define IH_TEST_TMPDIR_H
#include <stdio.h>
#include <stdlib.h>

static char tmpdir[64];

/* /tmp/ionhop-test-TAG-XXXXXX; 0 on success */
static int tmpdir_make(const char *tag) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ionhop-test-%s-XXXXXX", tag);
    return mkdtemp(tmpdir) ? 0 : -1;
}

static const char *tmp_path(const char *name) {
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}
#endif
