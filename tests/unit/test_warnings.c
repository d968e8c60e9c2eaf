/* Warnings: the handler gets each one line, and a capture collects the calling thread's. */
#include "check.h"
#include "core/util.h"

static int n_seen;
static char last_seen[256];

static void remember(const char *message, void *user) {
    n_seen++;
    *(int *)user += 1;
    snprintf(last_seen, sizeof last_seen, "%s", message);
}

int main(void) {
    int calls = 0;
    ih_set_warning_handler(remember, &calls);
    ih_warn("site %s: occupancy %.2f\nsecond line", "Li1", 0.5);
    CHECK_INT(n_seen, 1);
    CHECK_INT(calls, 1);
    CHECK(strcmp(last_seen, "site Li1: occupancy 0.50 second line") == 0);

    ih_warnings_capture_begin();
    ih_warn("first");
    ih_warn("second %d", 2);
    char **msgs;
    int n = ih_warnings_capture_end(&msgs);
    CHECK_INT(n, 2);
    CHECK(strcmp(msgs[0], "first") == 0 && strcmp(msgs[1], "second 2") == 0);
    for (int k = 0; k < n; k++) free(msgs[k]);
    free(msgs);
    CHECK_INT(n_seen, 3); /* captured warnings still reach the handler */

    ih_warn("after the capture");
    n = ih_warnings_capture_end(&msgs);
    CHECK_INT(n, 0);
    CHECK(msgs == NULL);
    ih_set_warning_handler(NULL, NULL);
    return test_summary("warnings");
}
