/* CSV files (RFC 4180) into rows of fields, parsed by Debian's libcsv.
 *
 * Fields may be quoted ("a, b" is one field, "" inside quotes is one "),
 * quoted fields may span lines, rows end in LF or CRLF, blank lines are
 * skipped, a UTF-8 byte order mark is dropped, spaces around unquoted fields
 * are trimmed. Errors are returned, never guessed around: an unterminated
 * quote, a quote inside an unquoted field, an empty field (a trailing comma
 * makes one), a NUL byte. Every function returns 0 on success, else nonzero
 * with a message in err naming the file (and line) and the problem. */
#ifndef OL_CSVREAD_H
#define OL_CSVREAD_H

#include <stddef.h>
#include <stdint.h>

#define OL_CSV_MAX_BYTES ((size_t)1 << 30)

typedef struct {
    int64_t nrow;
    int64_t *row;    /* row r has fields field[row[r]] .. field[row[r + 1] - 1] */
    int64_t *line;   /* the line row r starts on (1-based) */
    char **field;    /* NUL-terminated, unquoted */
    char *text;      /* the storage of every field */
} ol_csv;

/* Parses len bytes; path only names the data in messages. */
int ol_csv_parse(const char *data, size_t len, const char *path, ol_csv *out, char *err, size_t errlen);
/* Reads a regular file (at most OL_CSV_MAX_BYTES) and parses it. */
int ol_csv_read(const char *path, ol_csv *out, char *err, size_t errlen);
void ol_csv_free(ol_csv *c);

#endif
