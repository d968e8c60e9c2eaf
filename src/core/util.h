/* Library internals shared by every module and the command-line tool: setting the error
 * message, whole-file I/O with atomic replacement, hashing and timing. Not installed. */
#ifndef IH_CORE_UTIL_H
#define IH_CORE_UTIL_H
#include "ionhop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Set the calling thread's error message (printf-style); always returns -1. */
int ih_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Send a warning (printf-style, one line) to the handler of ih_set_warning_handler, and to the
 * calling thread's capture list while one is open. */
void ih_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Collect the calling thread's warnings (as well as passing them on) between begin and end; end
 * returns how many were collected and hands over the malloc'ed list (*msgs, each malloc'ed; may
 * be NULL). Captures do not nest. */
void ih_warnings_capture_begin(void);
int ih_warnings_capture_end(char ***msgs);

/* ---------------------------------------------------------------------------------------- */
/* utilities                                                                                */
/* ---------------------------------------------------------------------------------------- */

/* Read a whole file into a NUL-terminated malloc'ed buffer; error names the file. */
char *ih_read_file(const char *path, size_t *len);
/* Write a buffer atomically (a temporary beside it, fsync, rename). */
int ih_write_file_atomic(const char *path, const void *data, size_t len);
/* A new temporary file beside path (path.tmp.PID.N, created exclusively, links not followed) for
 * writing and then renaming over path; *tmp gets its malloc'ed name. NULL on failure. */
FILE *ih_open_temp(const char *path, char **tmp);
/* Refuse a second run writing the same output: OUT.lock with this process's PID, taken
 * exclusively (a lock left by a process that is gone is taken over); *lock_path for
 * ih_unlock_output. */
int ih_lock_output(const char *out, char **lock_path);
void ih_unlock_output(char *lock_path);
/* FNV-1a of len bytes continuing from h (start with IH_FNV1A_START): cache and progress keys. */
#define IH_FNV1A_START 0xcbf29ce484222325ULL
uint64_t ih_fnv1a(uint64_t h, const void *data, size_t len);
double ih_now(void); /* monotonic seconds */
long ih_peak_rss_kb(void);

#ifdef __cplusplus
}
#endif
#endif
