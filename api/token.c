/* Token file loading and constant-time token checks. */
#include "api/token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "base/cleanup.h"
#include "base/secret_file.h"

#define TOKEN_MAX 256

struct token {
    char name[64];
    enum scope scope;
    size_t length;
    char value[TOKEN_MAX];
};

struct token_set {
    size_t n;
    struct token *tokens;
};

const char *scope_to_string(enum scope scope)
{
    switch (scope) {
    case SCOPE_NONE: return "none";
    case SCOPE_READ: return "read";
    case SCOPE_ADMIN: return "admin";
    case SCOPE_MEMBER: return "member";
    }
    return "?";
}

bool scope_allows(enum scope have, enum scope need)
{
    return have >= need;
}

static int fail(char *err, size_t size, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t size, int r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return r;
}

int token_set_load(const char *path, struct token_set **out, char *err, size_t size)
{
    FILE *f = NULL;
    int r0 = token_file_open(path, &f, err, size);
    if (r0 < 0)
        return r0;
    _cleanup_fclose_ FILE *file = f;

    struct token_set *set = calloc(1, sizeof(*set));
    if (!set)
        return -ENOMEM;
    char line[1024];
    unsigned lineno = 0;
    int r = 0;
    while (fgets(line, sizeof(line), file)) {
        lineno++;
        token_line_strip_comment(line);
        char name[128], scope[32], value[TOKEN_MAX + 2], extra[8];
        int n = sscanf(line, "%127s %31s %257s %7s", name, scope, value, extra);
        if (n <= 0)
            continue;
        if (n != 3) {
            r = fail(err, size, -EINVAL, "%s:%u: expected 'NAME SCOPE TOKEN'", path, lineno);
            break;
        }
        struct token t = { 0 };
        if (strlen(name) >= sizeof(t.name)) {
            r = fail(err, size, -EINVAL, "%s:%u: name longer than %zu characters", path, lineno,
                     sizeof(t.name) - 1);
            break;
        }
        if (strcmp(scope, "read") == 0)
            t.scope = SCOPE_READ;
        else if (strcmp(scope, "admin") == 0)
            t.scope = SCOPE_ADMIN;
        else {
            r = fail(err, size, -EINVAL, "%s:%u: scope '%s' is neither 'read' nor 'admin'", path,
                     lineno, scope);
            break;
        }
        t.length = strlen(value);
        if (t.length < 16 || t.length > TOKEN_MAX - 1) {
            r = fail(err, size, -EINVAL,
                     "%s:%u: token of '%s' must be 16 to %d characters (try 'openssl rand -hex 32')",
                     path, lineno, name, TOKEN_MAX - 1);
            break;
        }
        for (size_t i = 0; i < set->n; i++) {
            if (strcmp(set->tokens[i].name, name) == 0) {
                r = fail(err, size, -EINVAL, "%s:%u: name '%s' given twice", path, lineno, name);
                break;
            }
        }
        if (r < 0)
            break;
        memcpy(t.name, name, strlen(name) + 1); /* length checked above */
        memcpy(t.value, value, t.length);
        struct token *grown = realloc(set->tokens, (set->n + 1) * sizeof(*grown));
        if (!grown) {
            r = -ENOMEM;
            break;
        }
        set->tokens = grown;
        set->tokens[set->n++] = t;
    }
    explicit_bzero(line, sizeof(line));
    if (r >= 0 && set->n == 0)
        r = fail(err, size, -EINVAL, "%s: no tokens in the file", path);
    if (r < 0) {
        token_set_destroy(set);
        return r;
    }
    *out = set;
    return 0;
}

void token_set_destroy(struct token_set *set)
{
    if (!set)
        return;
    if (set->tokens)
        explicit_bzero(set->tokens, set->n * sizeof(*set->tokens));
    free(set->tokens);
    free(set);
}

size_t token_set_count(const struct token_set *set)
{
    return set ? set->n : 0;
}

/* Compares all TOKEN_MAX bytes whatever the lengths, so the time does not
 * depend on where the first difference is. */
static unsigned char differs(const struct token *t, const char *presented, size_t length)
{
    unsigned char d = (unsigned char)(t->length != length);
    for (size_t i = 0; i < TOKEN_MAX; i++) {
        unsigned char a = (unsigned char)t->value[i];
        unsigned char b = i < length ? (unsigned char)presented[i] : 0;
        d |= a ^ b;
    }
    return d;
}

int token_set_check(const struct token_set *set, const char *presented, const char **name,
                    enum scope *scope)
{
    size_t length = strnlen(presented, TOKEN_MAX);
    const struct token *found = NULL;
    for (size_t i = 0; i < set->n; i++) {
        unsigned char d = differs(&set->tokens[i], presented, length);
        /* Branch-free select of the first match. */
        uintptr_t take = (uintptr_t)((d == 0) & (found == NULL));
        found = (const struct token *)(((uintptr_t)found & (take - 1)) |
                                       ((uintptr_t)&set->tokens[i] & (0 - take)));
    }
    if (!found)
        return -EACCES;
    *name = found->name;
    *scope = found->scope;
    return 0;
}
