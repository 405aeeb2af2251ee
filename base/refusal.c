/* Refusals: see base/refusal.h. */
#include "base/refusal.h"

#include <stdarg.h>
#include <stdio.h>

int refusal_set(struct refusal *refusal, int r, enum refusal_kind kind, const char *type,
                const char *pointer, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    r = refusal_setv(refusal, r, kind, type, pointer, fmt, ap);
    va_end(ap);
    return r;
}

int refuse(struct refusal *refusal, int r, enum refusal_kind kind, const char *type,
           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    r = refusal_setv(refusal, r, kind, type, NULL, fmt, ap);
    va_end(ap);
    return r;
}

int refusal_setv(struct refusal *refusal, int r, enum refusal_kind kind, const char *type,
                 const char *pointer, const char *fmt, va_list ap)
{
    if (!refusal)
        return r;
    refusal->kind = kind;
    snprintf(refusal->type, sizeof(refusal->type), "%s", type);
    snprintf(refusal->pointer, sizeof(refusal->pointer), "%s", pointer ? pointer : "");
    vsnprintf(refusal->detail, sizeof(refusal->detail), fmt, ap);
    return r;
}
