/* lmnetd.conf parsing.
 *
 * The keys are a table: name, kind and where the value goes.  config_set() is
 * shared by the file parser and the command-line flags, so a value is checked
 * the same way whichever way it came in. */
#include "agent/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/cleanup.h"
#include "base/mac.h"
#include "migrate/plan/convergence.h"
#include "hypervisor/vm_scope.h"

enum config_kind {
    CONFIG_STRING,
    CONFIG_OPTIONAL_STRING, /* "" or "none" clears it */
    CONFIG_LISTEN,
    CONFIG_LOG_LEVEL,
    CONFIG_UNSIGNED,
    CONFIG_BOOL, /* yes/no, true/false, 1/0 */
};

struct config_key {
    const char *name;
    enum config_kind kind;
    size_t offset;
    unsigned max; /* CONFIG_UNSIGNED: inclusive upper bound */
};

#define FIELD(f) offsetof(struct config, f)

static const struct config_key config_keys[] = {
    { "listen", CONFIG_LISTEN, FIELD(listen), 0 },
    { "database", CONFIG_STRING, FIELD(database), 0 },
    { "token_file", CONFIG_OPTIONAL_STRING, FIELD(token_file), 0 },
    { "tls_cert", CONFIG_OPTIONAL_STRING, FIELD(tls_cert), 0 },
    { "tls_key", CONFIG_OPTIONAL_STRING, FIELD(tls_key), 0 },
    { "allow_insecure_listen", CONFIG_BOOL, FIELD(allow_insecure_listen), 0 },
    { "log_level", CONFIG_LOG_LEVEL, FIELD(log_level), 0 },
    { "log_file", CONFIG_OPTIONAL_STRING, FIELD(log_file), 0 },
    { "registry", CONFIG_STRING, FIELD(registry), 0 },
    { "etcd_prefix", CONFIG_OPTIONAL_STRING, FIELD(etcd_prefix), 0 },
    { "etcd_ca_file", CONFIG_OPTIONAL_STRING, FIELD(etcd_ca_file), 0 },
    { "etcd_cert_file", CONFIG_OPTIONAL_STRING, FIELD(etcd_cert_file), 0 },
    { "etcd_key_file", CONFIG_OPTIONAL_STRING, FIELD(etcd_key_file), 0 },
    { "etcd_user", CONFIG_OPTIONAL_STRING, FIELD(etcd_user), 0 },
    { "etcd_password_file", CONFIG_OPTIONAL_STRING, FIELD(etcd_password_file), 0 },
    { "node_name", CONFIG_OPTIONAL_STRING, FIELD(node_name), 0 },
    { "threads", CONFIG_UNSIGNED, FIELD(threads), 64 },
    { "max_connections", CONFIG_UNSIGNED, FIELD(max_connections), 65536 },
    { "max_connections_per_ip", CONFIG_UNSIGNED, FIELD(max_connections_per_ip), 65536 },
    { "request_timeout", CONFIG_UNSIGNED, FIELD(request_timeout), 3600 },
    { "max_migrations", CONFIG_UNSIGNED, FIELD(max_migrations), 64 },
    { "management_address", CONFIG_OPTIONAL_STRING, FIELD(management_address), 0 },
    { "peer_token_file", CONFIG_OPTIONAL_STRING, FIELD(peer_token_file), 0 },
    { "member_credential_file", CONFIG_OPTIONAL_STRING, FIELD(member_credential_file), 0 },
    { "member_address_check", CONFIG_UNSIGNED, FIELD(member_address_check), 1 },
    { "ovsdb", CONFIG_OPTIONAL_STRING, FIELD(ovsdb), 0 },
    { "datapath_type", CONFIG_STRING, FIELD(datapath_type), 0 },
    { "run_dir", CONFIG_STRING, FIELD(run_dir), 0 },
    { "qemu", CONFIG_STRING, FIELD(qemu), 0 },
    { "accel", CONFIG_STRING, FIELD(accel), 0 },
    { "qemu_user", CONFIG_OPTIONAL_STRING, FIELD(qemu_user), 0 },
    { "image_dirs", CONFIG_STRING, FIELD(image_dirs), 0 },
    { "vm_cgroup", CONFIG_STRING, FIELD(vm_cgroup), 0 },
    { "vm_slice", CONFIG_STRING, FIELD(vm_slice), 0 },
    { "dynamic_mac_range", CONFIG_OPTIONAL_STRING, FIELD(dynamic_mac_range), 0 },
    { "migration_stall_timeout", CONFIG_UNSIGNED, FIELD(migration_stall_timeout), 3600 },
    { "migration_downtime_schedule", CONFIG_STRING, FIELD(migration_downtime_schedule), 0 },
    { "migration_auto_converge", CONFIG_BOOL, FIELD(migration_auto_converge), 0 },
    { "migration_allow_postcopy", CONFIG_BOOL, FIELD(migration_allow_postcopy), 0 },
    { "migration_completion_timeout_per_gib", CONFIG_UNSIGNED,
      FIELD(migration_completion_timeout_per_gib), 86400 },
    { "migration_timeout_action", CONFIG_STRING, FIELD(migration_timeout_action), 0 },
    { "heartbeat_port", CONFIG_UNSIGNED, FIELD(heartbeat_port), 65535 },
    { "heartbeat_interval", CONFIG_UNSIGNED, FIELD(heartbeat_interval), 60000 },
    { "heartbeat_threshold", CONFIG_UNSIGNED, FIELD(heartbeat_threshold), 100 },
};

static int fail(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && size)
        vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int replace_string(char **slot, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return -ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

/* Splits "ADDRESS:PORT" ("[v6]:PORT" for IPv6) and checks both parts. */
static int parse_listen(struct config *config, const char *value, char *err, size_t size)
{
    const char *colon = strrchr(value, ':');
    if (!colon || colon == value)
        return fail(err, size, "'%s' is not ADDRESS:PORT (e.g. 127.0.0.1:8470)", value);
    const char *host = value;
    size_t host_len = (size_t)(colon - value);
    if (host[0] == '[') {
        if (host_len < 3 || host[host_len - 1] != ']')
            return fail(err, size, "'%s': an IPv6 address goes in brackets, [::1]:8470", value);
        host++;
        host_len -= 2;
    } else if (memchr(host, ':', host_len)) {
        /* "::1:8470" could be [::1]:8470 or the address ::1:8470 without a port. */
        return fail(err, size, "'%s': an IPv6 address goes in brackets, [::1]:8470", value);
    }
    char address[64];
    if (host_len >= sizeof(address))
        return fail(err, size, "'%s': address too long", value);
    memcpy(address, host, host_len);
    address[host_len] = '\0';
    unsigned char buf[16];
    if (inet_pton(AF_INET, address, buf) != 1 && inet_pton(AF_INET6, address, buf) != 1)
        return fail(err, size, "'%s' is not an IPv4 or IPv6 address", address);

    char *end = NULL;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || !colon[1] || *end || port > 65535)
        return fail(err, size, "'%s' is not a port number (0-65535)", colon + 1);

    int r = replace_string(&config->listen, value);
    if (r < 0)
        return r;
    snprintf(config->listen_address, sizeof(config->listen_address), "%s", address);
    config->listen_port = (uint16_t)port;
    return 0;
}

int config_set(struct config *config, const char *key, const char *value, char *err, size_t size)
{
    const struct config_key *k = NULL;
    for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
        if (strcmp(config_keys[i].name, key) == 0) {
            k = &config_keys[i];
            break;
        }
    }
    if (!k)
        return fail(err, size, "unknown key");

    void *field = (char *)config + k->offset;
    switch (k->kind) {
    case CONFIG_STRING:
        if (!*value)
            return fail(err, size, "must not be empty");
        return replace_string(field, value);
    case CONFIG_OPTIONAL_STRING:
        if (!*value || strcmp(value, "none") == 0) {
            free(*(char **)field);
            *(char **)field = NULL;
            return 0;
        }
        return replace_string(field, value);
    case CONFIG_LISTEN:
        return parse_listen(config, value, err, size);
    case CONFIG_LOG_LEVEL:
        if (log_level_from_string(value, field) < 0)
            return fail(err, size, "'%s' is not one of error, warning, info, debug", value);
        return 0;
    case CONFIG_BOOL:
        if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
            *(bool *)field = true;
        else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
            *(bool *)field = false;
        else
            return fail(err, size, "'%s' is not yes or no", value);
        return 0;
    case CONFIG_UNSIGNED: {
        char *end = NULL;
        errno = 0;
        unsigned long n = strtoul(value, &end, 10);
        if (errno || !*value || *end || value[0] == '-' || n > k->max)
            return fail(err, size, "'%s' is not a whole number from 0 to %u", value, k->max);
        *(unsigned *)field = (unsigned)n;
        return 0;
    }
    }
    return fail(err, size, "unhandled key kind");
}

int config_init(struct config *config)
{
    memset(config, 0, sizeof(*config));
    config->log_level = LOG_LEVEL_INFO;
    config->max_migrations = 2;
    config->max_connections = 1024;
    config->max_connections_per_ip = 64;
    config->request_timeout = 10;
    int r = parse_listen(config, CONFIG_DEFAULT_LISTEN, NULL, 0);
    if (r >= 0)
        r = replace_string(&config->database, CONFIG_DEFAULT_DATABASE);
    if (r >= 0)
        r = replace_string(&config->registry, "self");
    if (r >= 0)
        r = replace_string(&config->run_dir, "/run/lmnet");
    if (r >= 0)
        r = replace_string(&config->datapath_type, "system");
    if (r >= 0)
        r = replace_string(&config->qemu, "qemu-system-x86_64");
    if (r >= 0)
        r = replace_string(&config->accel, "auto");
    if (r >= 0)
        r = replace_string(&config->qemu_user, CONFIG_DEFAULT_QEMU_USER);
    if (r >= 0)
        r = replace_string(&config->image_dirs, CONFIG_DEFAULT_IMAGE_DIRS);
    if (r >= 0)
        r = replace_string(&config->vm_cgroup, "auto");
    if (r >= 0)
        r = replace_string(&config->vm_slice, "lmnet.slice");
    config->migration_stall_timeout = 15;
    config->member_address_check = 1;
    if (r >= 0)
        r = replace_string(&config->migration_downtime_schedule, "300,1000,2000");
    if (r >= 0)
        r = replace_string(&config->migration_timeout_action, "abort");
    config->migration_completion_timeout_per_gib = 150;
    config->heartbeat_port = 8471;
    config->heartbeat_interval = 1000;
    config->heartbeat_threshold = 3;
    if (r < 0)
        config_release(config);
    return r;
}

void config_release(struct config *config)
{
    for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
        const struct config_key *k = &config_keys[i];
        if (k->kind == CONFIG_STRING || k->kind == CONFIG_OPTIONAL_STRING || k->kind == CONFIG_LISTEN) {
            char **slot = (char **)((char *)config + k->offset);
            free(*slot);
            *slot = NULL;
        }
    }
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

int config_load(struct config *config, const char *path, bool missing_ok, char *err, size_t size)
{
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (!f) {
        if (errno == ENOENT && missing_ok)
            return 0;
        int e = errno;
        fail(err, size, "%s: cannot open: %s", path, strerror(e));
        return -e;
    }

    char seen[sizeof(config_keys) / sizeof(config_keys[0])] = { 0 };
    char line[4096];
    unsigned lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f))
            return fail(err, size, "%s:%u: line longer than %zu characters", path, lineno,
                        sizeof(line) - 2);
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq)
            return fail(err, size, "%s:%u: expected 'key = value', got '%s'", path, lineno, s);
        *eq = '\0';
        char *key = trim(s);
        char *value = trim(eq + 1);
        /* A '#' after the value starts a comment unless the value is quoted. */
        if (*value == '"') {
            char *close = strchr(value + 1, '"');
            if (!close)
                return fail(err, size, "%s:%u: key '%s': unterminated quote", path, lineno, key);
            char *rest = trim(close + 1);
            if (*rest && *rest != '#')
                return fail(err, size, "%s:%u: key '%s': text after the closing quote", path,
                            lineno, key);
            *close = '\0';
            value++;
        } else {
            char *hash = strchr(value, '#');
            if (hash) {
                *hash = '\0';
                value = trim(value);
            }
        }
        if (!*key)
            return fail(err, size, "%s:%u: missing key before '='", path, lineno);

        for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
            if (strcmp(config_keys[i].name, key) == 0) {
                if (seen[i])
                    return fail(err, size, "%s:%u: key '%s': given twice", path, lineno, key);
                seen[i] = 1;
            }
        }
        char reason[256];
        int r = config_set(config, key, value, reason, sizeof(reason));
        if (r < 0)
            return fail(err, size, "%s:%u: key '%s': %s", path, lineno, key, reason);
    }
    if (ferror(f))
        return fail(err, size, "%s: read error", path);
    return 0;
}

bool config_listen_is_loopback(const struct config *config)
{
    const char *a = config->listen_address;
    return strncmp(a, "127.", 4) == 0 || strcmp(a, "::1") == 0;
}

int config_check(const struct config *config, char *err, size_t size)
{
    if (!!config->tls_cert != !!config->tls_key)
        return fail(err, size, "TLS needs both tls_cert and tls_key (only %s is set)",
                    config->tls_cert ? "tls_cert" : "tls_key");
    /* Bearer and peer tokens, migration tokens and the heartbeat key all
     * cross this listener: off loopback they need TLS, or an operator who
     * says in writing that the network is trusted. */
    if (!config->tls_cert && !config_listen_is_loopback(config) && !config->allow_insecure_listen)
        return fail(err, size,
                    "listen %s is not a loopback address and TLS is off: tokens and the "
                    "heartbeat key would cross the network in clear; set tls_cert and tls_key, "
                    "or 'allow_insecure_listen = yes' if this network is trusted",
                    config->listen);
    if (strcmp(config->registry, "self") != 0 && strncmp(config->registry, "http://", 7) != 0 &&
        strncmp(config->registry, "https://", 8) != 0 &&
        strncmp(config->registry, "etcd://", 7) != 0 &&
        strncmp(config->registry, "etcds://", 8) != 0)
        return fail(err, size,
                    "registry must be 'self', an http(s):// URL or etcd(s)://HOST:PORT,..., not "
                    "'%s'",
                    config->registry);
    if (strncmp(config->registry, "etcd", 4) == 0) { /* etcd:// or etcds:// (TLS) */
        const char *hosts = strstr(config->registry, "://") + 3;
        if (!*hosts || strchr(hosts, '/') || !strchr(hosts, ':'))
            return fail(err, size,
                        "registry etcd:// (etcds:// for TLS) takes HOST:PORT endpoints separated "
                        "by commas (etcd://10.0.0.1:2379,10.0.0.2:2379), not '%s'",
                        config->registry);
    }
    if (!!config->etcd_cert_file != !!config->etcd_key_file)
        return fail(err, size, "etcd TLS needs both etcd_cert_file and etcd_key_file");
    if (!!config->etcd_user != !!config->etcd_password_file)
        return fail(err, size, "etcd authentication needs both etcd_user and etcd_password_file");
    if (strcmp(config->accel, "auto") != 0 && strcmp(config->accel, "kvm") != 0 &&
        strcmp(config->accel, "tcg") != 0)
        return fail(err, size, "accel must be auto, kvm or tcg, not '%s'", config->accel);
    struct mac_range dyn;
    if (config->dynamic_mac_range && mac_range_parse(config->dynamic_mac_range, &dyn) < 0)
        return fail(err, size, "dynamic_mac_range must be START-END, e.g. "
                               "00:15:5d:0a:07:00-00:15:5d:0a:07:ff, not '%s'",
                    config->dynamic_mac_range);
    if (strcmp(config->datapath_type, "system") != 0 && strcmp(config->datapath_type, "netdev") != 0)
        return fail(err, size, "datapath_type must be system or netdev, not '%s'",
                    config->datapath_type);
    if (config->run_dir[0] != '/')
        return fail(err, size, "run_dir must be an absolute path, not '%s'", config->run_dir);
    if (!config->image_dirs[0])
        return fail(err, size, "image_dirs may not be empty (image_dirs = / allows every file)");
    if (strlen(config->image_dirs) > 1023)
        return fail(err, size, "image_dirs is longer than 1023 bytes");
    for (const char *d = config->image_dirs; *d;) {
        size_t n = strcspn(d, ",");
        if (d[0] != '/')
            return fail(err, size, "image_dirs must be absolute directories separated by ',', "
                                   "not '%s'", config->image_dirs);
        d += n + (d[n] == ',');
    }
    enum vm_scope_kind scope_kind;
    if (vm_scope_kind_from_string(config->vm_cgroup, &scope_kind) < 0)
        return fail(err, size, "vm_cgroup must be auto, systemd, cgroupfs or none, not '%s'",
                    config->vm_cgroup);
    if (!vm_scope_slice_valid(config->vm_slice))
        return fail(err, size, "vm_slice must be a slice name ([A-Za-z0-9_-] then .slice, e.g. "
                               "lmnet.slice), not '%s'", config->vm_slice);
    /* A plain user name: it goes on QEMU's command line (-runas). */
    if (config->qemu_user &&
        (!config->qemu_user[0] || config->qemu_user[0] == '-' ||
         config->qemu_user[strspn(config->qemu_user, "abcdefghijklmnopqrstuvwxyz"
                                                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")]))
        return fail(err, size, "qemu_user must be a user name (or none), not '%s'",
                    config->qemu_user);
    struct convergence_policy policy;
    char why[160];
    if (convergence_schedule_parse(config->migration_downtime_schedule, &policy, why, sizeof(why)) <
        0)
        return fail(err, size, "migration_downtime_schedule: %s", why);
    if (convergence_timeout_action_from_string(config->migration_timeout_action,
                                               &policy.timeout_action) < 0)
        return fail(err, size,
                    "migration_timeout_action must be abort, pause or postcopy, not '%s'",
                    config->migration_timeout_action);
    if (policy.timeout_action == CONVERGENCE_POSTCOPY && !config->migration_allow_postcopy)
        return fail(err, size,
                    "migration_timeout_action postcopy needs migration_allow_postcopy = yes");
    return 0;
}
