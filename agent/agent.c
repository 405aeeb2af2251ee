/* Small derived facts about the running agent. */
#include "agent/agent.h"

#include <stdio.h>
#include <string.h>

double agent_uptime(const struct agent *agent)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - agent->started.tv_sec) +
           (double)(now.tv_nsec - agent->started.tv_nsec) / 1e9;
}

const char *agent_url(const struct agent *agent, char *buf, size_t size)
{
    const struct config *c = &agent->config;
    const char *address = c->management_address ? c->management_address : c->listen_address;
    bool v6 = strchr(address, ':') != NULL;
    snprintf(buf, size, "%s://%s%s%s:%u", c->tls_cert ? "https" : "http", v6 ? "[" : "", address,
             v6 ? "]" : "", agent->port ? agent->port : c->listen_port);
    return buf;
}
