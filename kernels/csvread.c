/* CSV reader on libcsv (RFC 4180 in strict mode): the parser splits and
 * unquotes; this file adds line numbers, the checks RFC 4180 leaves to the
 * application (empty fields, NUL bytes, a byte order mark) and the storage.
 * (csvread, not csv: <csv.h> is libcsv's header and kernels/ is on the path.) */
#include "csvread.h"

#include <csv.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* What the callbacks build: field offsets into text, rows as field indices. */
typedef struct {
    char *text;
    size_t len, cap;
    int64_t *off, nf, capf;
    int64_t *row, *line, nrow, capr;
    int64_t at_line;       /* the line being fed to the parser */
    int open;              /* the current row has a field */
    int64_t empty_line;    /* first row with an empty field: its line and column, or 0 */
    int empty_col, empty_last;
    int oom;
} builder;

static int grow(void **p, int64_t *cap, int64_t need, size_t elem)
{
    if (need <= *cap) return 0;
    int64_t n = *cap ? *cap * 2 : 256;
    while (n < need) n *= 2;
    void *q = realloc(*p, (size_t)n * elem);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

static void on_field(void *s, size_t n, void *data)
{
    builder *b = data;
    if (b->oom) return;
    if (!b->open) {
        int64_t capr = b->capr;
        if (grow((void **)&b->row, &b->capr, b->nrow + 2, sizeof *b->row)
            || grow((void **)&b->line, &capr, b->nrow + 2, sizeof *b->line)) { b->oom = 1; return; }
        b->row[b->nrow] = b->nf;
        b->line[b->nrow] = b->at_line;
        b->open = 1;
    }
    int64_t cap = (int64_t)b->cap;
    if (grow((void **)&b->off, &b->capf, b->nf + 1, sizeof *b->off)
        || grow((void **)&b->text, &cap, (int64_t)(b->len + n + 1), 1)) { b->oom = 1; return; }
    b->cap = (size_t)cap;
    if (n == 0 && !b->empty_line) {
        b->empty_line = b->line[b->nrow];
        b->empty_col = (int)(b->nf - b->row[b->nrow]) + 1;
    }
    b->off[b->nf++] = (int64_t)b->len;
    if (n) memcpy(b->text + b->len, s, n);
    b->len += n;
    b->text[b->len++] = '\0';
}

static void on_row(int c, void *data)
{
    builder *b = data;
    if (b->oom || !b->open) return;
    /* an empty field that ends its row is most likely a trailing comma */
    if (b->empty_line == b->line[b->nrow] && b->empty_col == (int)(b->nf - b->row[b->nrow]) && !b->empty_last)
        b->empty_last = 1;
    b->nrow++;
    b->open = 0;
}

static void builder_free(builder *b)
{
    free(b->text); free(b->off); free(b->row); free(b->line);
}

int ol_csv_parse(const char *data, size_t len, const char *path, ol_csv *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen) err[0] = '\0';
    /* RFC 4180 files are ASCII; a UTF-8 one from a spreadsheet may start with a BOM */
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) { data += 3; len -= 3; }
    const char *nul = memchr(data, '\0', len);
    if (nul) {
        int64_t ln = 1;
        for (const char *q = data; q < nul; q++) ln += *q == '\n';
        return fail(err, errlen, "%s:%lld: a NUL byte (not a text file?)", path, (long long)ln);
    }
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) return fail(err, errlen, "%s: out of memory", path);
    builder b = {0};
    int rc = 0;
    /* Fed line by line, so that every row knows the line it starts on. */
    for (size_t at = 0; at < len && rc == 0 && !b.oom;) {
        const char *nl = memchr(data + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - (data + at)) + 1 : len - at;
        b.at_line++;
        if (csv_parse(&p, data + at, n, on_field, on_row, &b) != n) rc = csv_error(&p);
        at += n;
    }
    int64_t open_line = b.open ? b.line[b.nrow] : b.at_line;
    if (rc == 0 && !b.oom && csv_fini(&p, on_field, on_row, &b) != 0) {
        rc = csv_error(&p);
        csv_free(&p);
        builder_free(&b);
        if (rc == CSV_EPARSE)
            return fail(err, errlen, "%s:%lld: a quoted field is not closed (a \" without its closing \")",
                        path, (long long)open_line);
        return fail(err, errlen, "%s: %s", path, csv_strerror(rc));
    }
    csv_free(&p);
    if (rc || b.oom) {
        builder_free(&b);
        if (b.oom || rc == CSV_ENOMEM) return fail(err, errlen, "%s: out of memory", path);
        if (rc == CSV_EPARSE)
            return fail(err, errlen, "%s:%lld: malformed quoting (RFC 4180: a field with a \" must be quoted "
                        "whole, and a \" inside it doubled)", path, (long long)b.at_line);
        return fail(err, errlen, "%s:%lld: %s", path, (long long)b.at_line, csv_strerror(rc));
    }
    if (b.empty_line) {
        builder_free(&b);
        return fail(err, errlen, "%s:%lld: field %d is empty%s", path, (long long)b.empty_line, b.empty_col,
                    b.empty_last ? " (a trailing comma?)" : "");
    }
    out->field = malloc((size_t)(b.nf ? b.nf : 1) * sizeof *out->field);
    if (!out->field) { builder_free(&b); return fail(err, errlen, "%s: out of memory", path); }
    for (int64_t i = 0; i < b.nf; i++) out->field[i] = b.text + b.off[i];
    if (b.row) b.row[b.nrow] = b.nf;
    out->nrow = b.nrow;
    out->row = b.row;
    out->line = b.line;
    out->text = b.text;
    free(b.off);
    return 0;
}

int ol_csv_read(const char *path, ol_csv *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    memset(&st, 0, sizeof st);
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return fail(err, errlen, "%s: %s", path, S_ISDIR(st.st_mode) ? "is a directory, not a CSV file"
                                                                   : "is not a regular file");
    }
    if ((size_t)st.st_size > OL_CSV_MAX_BYTES) {
        fclose(f);
        return fail(err, errlen, "%s: %lld bytes, more than the 1 GiB limit", path, (long long)st.st_size);
    }
    size_t len = (size_t)st.st_size;
    char *data = malloc(len ? len : 1);
    if (!data) { fclose(f); return fail(err, errlen, "%s: out of memory", path); }
    size_t got = fread(data, 1, len, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != len) {
        free(data);
        return fail(err, errlen, "%s: read error: %s", path, bad ? strerror(errno) : "the file shrank");
    }
    int rc = ol_csv_parse(data, len, path, out, err, errlen);
    free(data);
    return rc;
}

void ol_csv_free(ol_csv *c)
{
    if (!c) return;
    free(c->row); free(c->line); free(c->field); free(c->text);
    memset(c, 0, sizeof *c);
}
