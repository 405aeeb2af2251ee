/* Files that hold a secret: token files (api/token.h) and the API's TLS
 * private key (tls_key).
 *
 * A secret file is refused unless it is a regular file owned by the user
 * reading it (or root) and neither readable nor writable by group or
 * others (mode 0600 or stricter): anyone on the host who can read it can
 * impersonate the agent or its admins, and whoever owns it can replace
 * the secret.  The check is made on the opened descriptor (fstat), so the
 * file checked is the file read. */
#ifndef LMNET_API_SECRET_FILE_H
#define LMNET_API_SECRET_FILE_H

#include <stddef.h>
#include <stdio.h>

/* Opens PATH for reading after the checks above.  WHAT names the file in
 * messages ("token file", "tls_key") and HOLDS what it holds ("the tokens",
 * "the private key").  Returns 0 and *out (the caller fcloses it), or a
 * negative errno with the reason and the command that fixes it in ERR. */
int secret_file_open(const char *path, const char *what, const char *holds, FILE **out, char *err,
                     size_t err_size);

/* Reads the whole secret file PATH (checked as above) into a new
 * NUL-terminated buffer *out that the caller wipes and frees.  Returns 0,
 * or a negative errno with the reason in ERR. */
int secret_file_read(const char *path, const char *what, const char *holds, char **out, char *err,
                     size_t err_size);

/* Token files (their format: api/token.h) are read by lmnetd and by the
 * REST client (lmnetctl, peers), so opening one lives here, below both.
 *
 * Opens the token file PATH for reading after checking it as above (a
 * regular file, owner, mode).  Returns 0 and *out (the caller fcloses it),
 * or a negative errno with the reason and what to run in ERR. */
int token_file_open(const char *path, FILE **out, char *err, size_t err_size);

/* Cuts the comment off one LINE of a token file, in place. */
void token_line_strip_comment(char *line);

#endif
