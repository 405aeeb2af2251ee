/* The port table of a host without a virtual switch: see migrate/plan/ports.h. */
#include "migrate/plan/ports.h"

#include <errno.h>
#include <stddef.h>

static int none_describe(void *ctx, const char *name, struct port_record *out)
{
    (void)ctx;
    (void)name;
    (void)out;
    return -ENOENT;
}

static int none_create(void *ctx, const struct port_record *settings)
{
    (void)ctx;
    (void)settings;
    return -ENODEV;
}

static int none_set_forwarding(void *ctx, const char *name, bool forward)
{
    (void)ctx;
    (void)name;
    (void)forward;
    return -ENOENT;
}

static int none_remove(void *ctx, const char *name)
{
    (void)ctx;
    (void)name;
    return -ENOENT;
}

static const struct port_ops none_ops = {
    .describe = none_describe,
    .create_inactive = none_create,
    .set_forwarding = none_set_forwarding,
    .remove = none_remove,
};

const struct ports ports_none = { .ops = &none_ops, .ctx = NULL };
