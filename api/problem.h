/* RFC 9457 problem details: every error the API sends is one of these, with
 * Content-Type application/problem+json and the members type, title, status,
 * detail, and, for validation errors, pointer (the JSON pointer of the field
 * at fault, e.g. "/adapters/0/vlan").  The type is
 * "https://lmnet.dev/problems/SLUG".  problem_from_errno() is the one place
 * where an agent errno becomes an HTTP status. */
#ifndef LMNET_API_PROBLEM_H
#define LMNET_API_PROBLEM_H

#include <stddef.h>
#include <json-c/json.h>
#include "base/refusal.h"

#define PROBLEM_TYPE_BASE "https://lmnet.dev/problems/"

/* Builds a problem object (the caller owns it).  TYPE is a slug under
 * PROBLEM_TYPE_BASE, or NULL for "about:blank"; POINTER may be NULL. */
struct json_object *problem_new(int status, const char *type, const char *detail,
                                const char *pointer);

/* The standard reason phrase of STATUS ("Not Found"), or "Error". */
const char *problem_title(int status);

/* Maps a negative errno to an HTTP status and type slug: -ENOENT 404
 * not-found, -EEXIST 409 conflict, -EINVAL 422 invalid, -EACCES 403
 * forbidden, -EBUSY 503 busy, -ENOSPC 409 exhausted, -ESTALE 412
 * precondition-failed, -ETIMEDOUT 504 timeout, -EHOSTUNREACH 502 unreachable,
 * anything else 500 internal. */
int problem_status_from_errno(int err, const char **type);

/* Appends "/TOKEN" to the JSON pointer in BUF (SIZE bytes, cut short when
 * full), escaped as RFC 6901 says ('~' as ~0, '/' as ~1), so a member named
 * "a/b" is "/a~1b" and not the member b of a. */
void problem_pointer_append(char *buf, size_t size, const char *token);

/* The HTTP status of a refusal of KIND (base/refusal.h): the one place
 * where a module's refusal becomes a status.  INVALID 422, NOT_FOUND 404,
 * CONFLICT 409, UNAUTHENTICATED 401, FORBIDDEN 403, NOT_IMPLEMENTED 501,
 * BAD_ANSWER 502, UNAVAILABLE 503, INTERNAL 500. */
int problem_status_of_refusal(enum refusal_kind kind);

/* The negative errno that stands for STATUS (the inverse of
 * problem_status_from_errno()). */
int problem_status_to_errno(int status);

#endif
