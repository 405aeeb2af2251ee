/* Column-aligned text tables for lmnetctl, in the style of PowerShell's
 * Format-Table: a header row, a row of dashes, then the rows, each column as
 * wide as its widest cell.  Cells are copied, with control characters
 * written as \xNN (a table shows what agents stored from clients). */
#ifndef LMNET_API_TABLE_H
#define LMNET_API_TABLE_H

#include <stddef.h>
#include <stdio.h>

struct table;

/* Creates a table with N_COLUMNS headers.  Returns NULL on out of memory. */
struct table *table_create(size_t n_columns, const char *const *headers);
void table_destroy(struct table *table);

/* Appends a row of N_COLUMNS cells (NULL cells print as empty).
 * Returns 0 or -ENOMEM. */
int table_add_row(struct table *table, const char *const *cells);

/* Prints the table to OUT. */
void table_print(const struct table *table, FILE *out);

#endif
