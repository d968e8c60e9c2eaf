/* Internal helpers shared by the text structure readers (POSCAR, CIF, extended XYZ): line
 * splitting, strict number parsing, element names, fractional/Cartesian conversion and
 * printable excerpts of bad tokens for one-line error messages. Not part of the public API. */
#ifndef IH_IO_TEXT_H
#define IH_IO_TEXT_H
#include "ionhop.h"
#include "core/util.h"

#include <stddef.h>

/* Readers refuse files declaring more atoms than this (guards allocation on garbage counts). */
#define IH_MAX_ATOMS 2000000

typedef struct ih_span {
    const char *p;
    int len;
} ih_span;

/* One line of a text file, without its terminator ("\n", "\r\n" or "\r"). */
typedef struct ih_lines {
    int n;
    ih_span *line;
} ih_lines;

/* Split text into lines (a UTF-8 byte-order mark is skipped). Returns -1 only when out of memory. */
int ih_lines_split(const char *text, const char *name, ih_lines *out);
void ih_lines_free(ih_lines *l);
/* 1 if the span holds only blanks. */
int ih_span_blank(ih_span s);
/* Split a span into at most max whitespace-separated tokens; returns the number of tokens found
 * (which may exceed max: only the first max are stored). */
int ih_tokens(ih_span s, ih_span *tok, int max);

/* Parse a whole token as a decimal real (sign, digits, optional point, optional exponent).
 * Returns 0 on success, -1 if it is not a number, -2 if it is nan/inf or overflows. */
int ih_parse_real(ih_span t, double *out);
/* Parse a whole token as a non-negative decimal integer <= limit; 0 ok, -1 otherwise. */
int ih_parse_count(ih_span t, long limit, long *out);

/* Element of an exact symbol, case-insensitive ("Fe", "FE", "fe"); 0 if unknown. */
int ih_element_from_symbol(ih_span t);
/* Element named by the leading letters of a label: "Fe2+", "O2-", "Li1", "Fe_pv", "Li_sv",
 * "Fe/1a2b". Two letters are taken when they name an element, otherwise one; 0 if unknown or if
 * the letters run on past two ("Xyz"). */
int ih_element_from_label(ih_span t);

/* A printable, quoted excerpt of a token for messages ("'abc…'"); control and non-ASCII bytes
 * become '?'. Uses a small rotating static buffer: valid for the next few calls. */
const char *ih_excerpt(ih_span t);

/* The CIF reader with options (io_cif.c). */
int ih_read_cif_with(const char *path, const ih_read_opts *o, ih_structure *out);
int ih_parse_cif_with(const char *text, const char *name, const ih_read_opts *o, ih_structure *out);
/* Make the expanded sites of a CIF (n_atoms fractional positions, elements, occupancies and the
 * CIF row each came from, row_name[row] naming it) one ordered structure by the policy `mode`
 * (disorder.c; ionhop.h's ih_disorder): the arrays are compacted in place and *n_atoms updated;
 * every change is reported by ih_warn. */
int ih_resolve_disorder(const char *name, const double L[3][3], ih_disorder mode, size_t *n_atoms, double *pos,
                        int *z, double *occ, int *row, const char (*row_name)[32]);

/* Refuse text that contains NUL bytes (binary files): len is the file length. */
int ih_check_text(const char *text, size_t len, const char *name);


/* Formula-like label for comments and CIF data block names ("Li4Fe4P4O16"), in first-appearance
 * order of the elements. */
void ih_structure_formula(const ih_structure *s, char *buf, size_t cap);

/* Growable text buffer for the writers. */
typedef struct ih_strbuf {
    char *p;
    size_t len, cap;
    int oom;
} ih_strbuf;
void ih_sb_printf(ih_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write the buffer atomically to path and free it. */
int ih_sb_write(ih_strbuf *b, const char *path);
#endif
