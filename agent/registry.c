/* The cluster registry's dispatchers and the choice of implementation: see
 * agent/registry.h. */
#include "agent/registry.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "agent/agent.h"

int registry_create(struct agent *agent, struct registry **out)
{
    const char *setting = agent->config.registry;
    if (strcmp(setting, "self") == 0)
        return registry_self_create(agent, out);
    if (strncmp(setting, "http://", 7) == 0 || strncmp(setting, "https://", 8) == 0)
        return registry_agent_create(agent, setting, out);
    if (strncmp(setting, "etcd://", 7) == 0)
        return registry_etcd_create(agent, setting + 7, out);
    if (strncmp(setting, "etcds://", 8) == 0) /* TLS to every endpoint */
        return registry_etcd_create(agent, setting, out);
    return -EINVAL;
}

bool registry_is_self(const struct registry *registry)
{
    return registry && strcmp(registry->ops->name, "self") == 0;
}

bool registry_is_shared(const struct registry *registry)
{
    return registry && registry->ops->pool_create;
}

void registry_destroy(struct registry *registry)
{
    if (registry)
        registry->ops->destroy(registry);
}

static int unsupported(struct registry *registry, struct refusal *err, const char *what)
{
    return refuse(err, -EOPNOTSUPP, REFUSAL_NOT_IMPLEMENTED, "not-implemented",
                  "the '%s' registry cannot %s", registry->ops->name, what);
}

int registry_pool_get(struct registry *registry, const char *pool, struct macpool *out,
                      struct refusal *err)
{
    return registry->ops->pool_get(registry, pool, out, err);
}

int registry_claim_block(struct registry *registry, const char *pool, const char *node,
                         const char *actor, struct mac_block *out, uint64_t *reserved,
                         size_t *n_reserved, struct refusal *err)
{
    *n_reserved = 0;
    return registry->ops->claim_block(registry, pool, node, actor, out, reserved, n_reserved, err);
}

int registry_claim_address(struct registry *registry, const char *pool, const char *node,
                           uint64_t mac, const char *actor, struct mac_block *out,
                           struct refusal *err)
{
    return registry->ops->claim_address(registry, pool, node, mac, actor, out, err);
}

int registry_release_block(struct registry *registry, const char *pool, const char *node,
                           const struct mac_block *block, const char *actor, struct refusal *err)
{
    if (!registry->ops->release_block)
        return unsupported(registry, err, "take blocks back");
    return registry->ops->release_block(registry, pool, node, block, actor, err);
}

int registry_join(struct registry *registry, const struct registry_join *join, struct refusal *err)
{
    return registry->ops->join(registry, join, err);
}

int registry_members(struct registry *registry, struct member **out, size_t *n, struct refusal *err)
{
    *out = NULL;
    *n = 0;
    return registry->ops->members(registry, out, n, err);
}

int registry_networks(struct registry *registry, struct network_view *out)
{
    return registry->ops->networks(registry, out);
}

int registry_inventory_put(struct registry *registry, const char *node,
                           struct json_object *inventory)
{
    return registry->ops->inventory_put(registry, node, inventory);
}

int registry_reachability_put(struct registry *registry, const char *node,
                              struct json_object *heard)
{
    return registry->ops->reachability_put(registry, node, heard);
}

int registry_heartbeat_key(struct registry *registry, uint8_t key[HEARTBEAT_KEY_SIZE])
{
    return registry->ops->heartbeat_key(registry, key);
}
