/* Cluster credentials: one-time join tokens and per-member credentials.
 *
 * Both are random secrets, 32 bytes as 64 hex digits after a prefix that
 * says what they are ("lmj_" a join token, "lmm_" a member credential), so
 * a secret pasted in the wrong place is refused with a clear message.  The
 * registry stores only their SHA-256 (hex): a stolen registry database
 * gives no credential, and with 256 random bits no salt or slow hash is
 * needed.  Secrets are never logged. */
#ifndef LMNET_AGENT_CREDENTIAL_H
#define LMNET_AGENT_CREDENTIAL_H

#include <stdbool.h>
#include <stddef.h>

#define CREDENTIAL_SIZE          69 /* "lmX_" + 64 hex digits + NUL */
#define CREDENTIAL_HASH_SIZE     65 /* 64 hex digits + NUL */
#define CREDENTIAL_JOIN_PREFIX   "lmj_"
#define CREDENTIAL_MEMBER_PREFIX "lmm_"

/* Makes a new secret with PREFIX (one of the above) in OUT.  Returns 0 or a
 * negative errno (no randomness). */
int credential_generate(const char *prefix, char out[CREDENTIAL_SIZE]);

/* True when TEXT has the shape of a secret with PREFIX. */
bool credential_is(const char *text, const char *prefix);

/* The SHA-256 of TEXT as lower-case hex into OUT. */
void credential_hash(const char *text, char out[CREDENTIAL_HASH_SIZE]);

/* Reads the secret with PREFIX from the file PATH (its first line), which
 * must be mode 0600 or stricter.  Returns 0, -ENOENT when there is no
 * file, or a negative errno with the reason in ERR. */
int credential_read_file(const char *path, const char *prefix, char out[CREDENTIAL_SIZE], char *err,
                         size_t err_size);

/* Writes SECRET to PATH, mode 0600, replacing it in one rename.  Returns 0
 * or a negative errno. */
int credential_write_file(const char *path, const char *secret);

#endif
