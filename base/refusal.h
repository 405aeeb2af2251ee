/* Why the agent refused a request: one type for every module that refuses
 * one (switch ports, MAC allocation, the migration planner and migrator).
 *
 * A refusal says what kind of refusal it is, the problem type slug
 * ("mac-pool-exhausted"), the JSON pointer of the field at fault ("" for
 * none) and a detail for people.  It carries no HTTP status: the API edge
 * decides that from the kind (api/problem.h, problem_status_of_refusal()),
 * so the modules below api/ know nothing of HTTP. */
#ifndef LMNET_BASE_REFUSAL_H
#define LMNET_BASE_REFUSAL_H

#include <stdarg.h>

enum refusal_kind {
    REFUSAL_INTERNAL,        /* our own failure: out of memory, the database */
    REFUSAL_INVALID,         /* the request is wrong as written */
    REFUSAL_NOT_FOUND,       /* it names something that does not exist */
    REFUSAL_CONFLICT,        /* the state of things does not allow it now */
    REFUSAL_UNAUTHENTICATED, /* this agent has no credential the other side accepts */
    REFUSAL_FORBIDDEN,       /* the credential presented does not allow it */
    REFUSAL_NOT_IMPLEMENTED, /* this implementation cannot do it */
    REFUSAL_BAD_ANSWER,      /* a peer, the registry or the switch answered what we cannot use */
    REFUSAL_UNAVAILABLE,     /* a peer or the registry cannot be reached */
};

struct refusal {
    enum refusal_kind kind;
    char type[48];    /* problem type slug */
    char pointer[64]; /* JSON pointer of the field at fault, "" for none */
    char detail[512];
};

/* Fills REFUSAL (may be NULL) with KIND, TYPE, POINTER (NULL for none) and
 * the formatted detail, and returns R: "return refusal_set(...)" in one line. */
int refusal_set(struct refusal *refusal, int r, enum refusal_kind kind, const char *type,
                const char *pointer, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* refusal_set() for a refusal that names no field, the common case:
 * "return refuse(err, -EPERM, REFUSAL_CONFLICT, "vm-not-here", ...)". */
int refuse(struct refusal *refusal, int r, enum refusal_kind kind, const char *type,
           const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The same with the detail's arguments in AP. */
int refusal_setv(struct refusal *refusal, int r, enum refusal_kind kind, const char *type,
                 const char *pointer, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

#endif
