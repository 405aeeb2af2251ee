/* Bearer tokens.
 *
 * The token file has one token a line, "NAME SCOPE TOKEN", scope "read" or
 * "admin"; '#' at the start of a line or after a blank starts a comment (a
 * '#' inside a token is part of it).  The file must be owned by the user
 * reading it (or root) and not be readable or writable by group or others
 * (mode 0600 or stricter): a token file others can read or change is
 * refused, since anyone on the host could then act as admin.  The same
 * rules hold for every token file: lmnetd's token_file and
 * peer_token_file, and lmnetctl's.
 *
 * Checking compares the presented token with every known token in constant
 * time (no early exit on the first differing byte, no early exit on the first
 * match), so response timing says nothing about how much of a guess was
 * right.  Token values are never logged; only names are. */
#ifndef LMNET_API_TOKEN_H
#define LMNET_API_TOKEN_H

#include <stddef.h>
#include <stdio.h>
#include "api/route.h"

struct token_set;

/* Loads PATH.  Returns 0 and *out, or a negative errno with the reason
 * ("PATH:LINE: ...", or the file's mode) in ERR. */
int token_set_load(const char *path, struct token_set **out, char *err, size_t err_size);
void token_set_destroy(struct token_set *set);

/* Number of tokens loaded. */
size_t token_set_count(const struct token_set *set);

/* Looks up PRESENTED.  Returns 0 and the token's name (owned by SET) and
 * scope, or -EACCES when no token matches. */
int token_set_check(const struct token_set *set, const char *presented, const char **name,
                    enum scope *scope);

/* True when a token with scope HAVE may call a route requiring NEED. */
bool scope_allows(enum scope have, enum scope need);

#endif
