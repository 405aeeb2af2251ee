/* Format-Table style tables: widths are computed at print time. */
#include "cli/table.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct table {
    size_t n_columns;
    size_t n_rows;
    char **cells; /* (n_rows + 1) * n_columns, row 0 the headers */
};

struct table *table_create(size_t n_columns, const char *const *headers)
{
    struct table *table = calloc(1, sizeof(*table));
    if (!table)
        return NULL;
    table->n_columns = n_columns;
    if (table_add_row(table, headers) < 0) {
        table_destroy(table);
        return NULL;
    }
    return table;
}

void table_destroy(struct table *table)
{
    if (!table)
        return;
    for (size_t i = 0; i < table->n_rows * table->n_columns; i++)
        free(table->cells[i]);
    free(table->cells);
    free(table);
}

/* A copy of S with control characters (C0 and DEL) written as \xNN: a name
 * an agent stored from a client's request must not move the terminal's
 * cursor, clear the screen or forge a table row.  Returns NULL on out of
 * memory. */
static char *escape_cell(const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += *p < 0x20 || *p == 0x7f ? 4 : 1;
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 0xf];
        } else {
            *o++ = (char)*p;
        }
    }
    *o = '\0';
    return out;
}

int table_add_row(struct table *table, const char *const *cells)
{
    char **grown = realloc(table->cells, (table->n_rows + 1) * table->n_columns * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    table->cells = grown;
    char **row = &table->cells[table->n_rows * table->n_columns];
    for (size_t c = 0; c < table->n_columns; c++) {
        row[c] = escape_cell(cells[c] ? cells[c] : "");
        if (!row[c]) {
            while (c--)
                free(row[c]);
            return -ENOMEM;
        }
    }
    table->n_rows++;
    return 0;
}

void table_print(const struct table *table, FILE *out)
{
    size_t n_columns = table->n_columns;
    size_t *width = calloc(n_columns ? n_columns : 1, sizeof(*width));
    if (!width)
        return;
    for (size_t r = 0; r < table->n_rows; r++)
        for (size_t c = 0; c < n_columns; c++) {
            size_t len = strlen(table->cells[r * n_columns + c]);
            if (len > width[c])
                width[c] = len;
        }
    for (size_t r = 0; r < table->n_rows; r++) {
        for (size_t c = 0; c < n_columns; c++) {
            const char *cell = table->cells[r * n_columns + c];
            if (c + 1 == n_columns)
                fprintf(out, "%s", cell);
            else
                fprintf(out, "%-*s ", (int)width[c], cell);
        }
        fputc('\n', out);
        if (r == 0) { /* the dashes under the headers, as Format-Table draws them */
            for (size_t c = 0; c < n_columns; c++) {
                size_t len = strlen(table->cells[c]);
                for (size_t i = 0; i < len; i++)
                    fputc('-', out);
                if (c + 1 < n_columns)
                    fprintf(out, "%*s", (int)(width[c] - len + 1), "");
            }
            fputc('\n', out);
        }
    }
    free(width);
}
