/* TEMPORARY: JSON-only stand-in for ih_read_structures until src/io.c (branch io) lands on main.
 * Weak, so the real reader overrides it; delete this file once io.c is merged. */
#include "ionhop.h"

#include <string.h>

__attribute__((weak)) int ih_read_structures(const char *path, ih_format fmt, ih_structure_set *out) {
    memset(out, 0, sizeof *out);
    if (fmt != IH_FMT_UNKNOWN && fmt != IH_FMT_JSON)
        return ih_set_error("%s: this build reads only JSON record files", path);
    return ih_read_json(path, out);
}
