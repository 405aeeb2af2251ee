/* lmnetd: the lmnet agent.
 *
 * Start-up order: configuration (file, then flags), logging, tokens,
 * database (schema, node id), then the HTTP server.  Signals are blocked in
 * every thread and taken synchronously by the main thread with sigwait():
 * SIGTERM/SIGINT stop the agent cleanly, SIGHUP reopens the log file.
 * The main thread owns the agent context; worker threads only read it. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>
#include "agent/agent.h"
#include "agent/allocator.h"
#include "base/cleanup.h"
#include "agent/clusternet.h"
#include "agent/config.h"
#include "agent/heartbeat.h"
#include "agent/reachability.h"
#include "agent/registry.h"
#include "base/log.h"
#include "agent/membership.h"
#include "agent/metrics.h"
#include "client/client.h"
#include "base/secret_file.h"
#include "api/server.h"
#include "api/token.h"
#include "db/db.h"
#include "db/node.h"
#include "hypervisor/hypervisor_qemu.h"
#include "migrate/lifecycle.h"
#include "migrate/migrator.h"
#include "migrate/plan/ports.h"
#include "agent/switchport.h"
#include "vswitch/vswitch.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: lmnetd [OPTIONS]\n"
            "\n"
            "The lmnet live-migration network agent. Serves the REST API under /v1/.\n"
            "\n"
            "Options (each overrides the configuration file):\n"
            "  -c, --config PATH       configuration file (default %s;\n"
            "                          built-in defaults when the default file is absent)\n"
            "  -l, --listen ADDR:PORT  listen address (default %s)\n"
            "  -d, --database PATH     SQLite database (default %s)\n"
            "  -t, --token-file PATH   bearer tokens, 'NAME SCOPE TOKEN' lines, mode 0600\n"
            "      --tls-cert PATH     PEM certificate (with --tls-key: serve HTTPS)\n"
            "      --tls-key PATH      PEM private key\n"
            "      --log-level LEVEL   error, warning, info (default) or debug\n"
            "      --log-file PATH     append the log here instead of stderr\n"
            "      --registry URL      'self', the registry agent's URL, or\n"
            "                          etcd://HOST:PORT,... (an etcd cluster)\n"
            "      --check-config      check the configuration and exit\n"
            "      --migrate-registry-to etcd://HOST:PORT,...\n"
            "                          copy this registry's SQLite state into etcd (once,\n"
            "                          with lmnetd stopped), check it and exit\n"
            "  -h, --help              show this help\n"
            "  -V, --version           show the version\n",
            CONFIG_DEFAULT_PATH, CONFIG_DEFAULT_LISTEN, CONFIG_DEFAULT_DATABASE);
}

/* Creates the database's directory (mode 0750) when it is missing. */
static int ensure_parent_dir(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(dir, 0750) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* Creates the QEMU driver.  A host that cannot run it (no run directory)
 * still serves everything but VMs: that is logged, not fatal. */
static void start_hypervisor(struct agent *agent)
{
    struct hypervisor_qemu_config qc;
    hypervisor_qemu_config_defaults(&qc);
    snprintf(qc.binary, sizeof(qc.binary), "%s", agent->config.qemu);
    int n = snprintf(qc.run_dir, sizeof(qc.run_dir), "%s/qemu", agent->config.run_dir);
    if (n < 0 || (size_t)n >= sizeof(qc.run_dir)) {
        log_error("run_dir is too long for QEMU's sockets (at most %zu bytes): %s",
                  sizeof(qc.run_dir) - 6, agent->config.run_dir);
        return;
    }
    hypervisor_accel_from_string(agent->config.accel, &qc.accel);
    /* QEMU's user, the images it may open, and where its multifd sockets go
     * (migrate/migrator.c puts them in run_dir). */
    snprintf(qc.user, sizeof(qc.user), "%s", agent->config.qemu_user ? agent->config.qemu_user : "");
    snprintf(qc.image_dirs, sizeof(qc.image_dirs), "%s", agent->config.image_dirs);
    snprintf(qc.migration_dir, sizeof(qc.migration_dir), "%s", agent->config.run_dir);
    vm_scope_kind_from_string(agent->config.vm_cgroup, &qc.cgroup);
    snprintf(qc.slice, sizeof(qc.slice), "%s", agent->config.vm_slice);
    int r = hypervisor_qemu_create(&qc, &agent->hypervisor);
    if (r < 0)
        log_errno(LOG_LEVEL_ERROR, r, "cannot set up QEMU in %s; VMs are off", qc.run_dir);
}

/* The virtual switch, when 'ovsdb' is set: connect, then make the switch
 * match what the database says (put back what drifted while we were away).
 * A switch that does not answer is an error at start: ports are promised. */
static int start_switch(struct agent *agent)
{
    if (!agent->config.ovsdb) {
        log_info("no virtual switch configured (set 'ovsdb'); VM ports are off");
        return 0;
    }
    int r = vswitch_ovs_create(agent->config.ovsdb, agent->config.datapath_type, &agent->vswitch);
    if (r < 0)
        return log_errno(LOG_LEVEL_ERROR, r, "cannot reach Open vSwitch at %s", agent->config.ovsdb);
    r = switchport_create(agent, agent->vswitch, &agent->switchport);
    if (r < 0)
        return r;
    r = switchport_apply_all(agent->switchport);
    if (r < 0)
        log_errno(LOG_LEVEL_WARNING, r, "cannot bring the switch in line with the database");
    else if (r > 0)
        log_info("switch brought in line repairs=%d", r);
    agent->ports = switchport_ports(agent->switchport);
    r = switchport_watch(agent->switchport);
    if (r < 0)
        log_errno(LOG_LEVEL_WARNING, r, "cannot watch the switch for drift");
    return 0;
}

/* VMs need the hypervisor; their adapters need switch ports (a host
 * without a switch runs VMs without adapters); migrations also need the
 * cluster networks.  Whatever is missing, the agent serves the rest and the
 * API says why not. */
static int start_vms(struct agent *agent, migrator_networks_fn *networks)
{
    if (!agent->hypervisor) {
        log_info("VMs and migrations are off on this host: no hypervisor");
        return 0;
    }
    if (!agent->ports)
        agent->ports = &ports_none;
    int r = lifecycle_create(agent, agent->hypervisor, agent->ports, &agent->lifecycle);
    if (r < 0)
        return log_errno(LOG_LEVEL_ERROR, r, "cannot create the VM table");
    r = lifecycle_attach_all(agent->lifecycle);
    if (r < 0)
        log_errno(LOG_LEVEL_WARNING, r, "cannot re-attach running VMs");
    if (!networks) {
        log_info("migrations are off on this host: no cluster networks");
        return 0;
    }
    struct migrator_deps deps = {
        .hypervisor = agent->hypervisor,
        .lifecycle = agent->lifecycle,
        .ports = agent->ports,
        .networks = networks,
    };
    r = migrator_start(agent, &deps, &agent->migrator);
    if (r < 0)
        return log_errno(LOG_LEVEL_ERROR, r, "cannot start the migration state machine");
    return 0;
}

/* Parses argv into CONFIG: the file first, then the flags on top. */
static int parse_args(int argc, char **argv, struct config *config, bool *check_only,
                      const char **migrate_to)
{
    enum { OPT_TLS_CERT = 256, OPT_TLS_KEY, OPT_LOG_LEVEL, OPT_LOG_FILE, OPT_REGISTRY, OPT_CHECK,
           OPT_MIGRATE };
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' },
        { "listen", required_argument, NULL, 'l' },
        { "database", required_argument, NULL, 'd' },
        { "token-file", required_argument, NULL, 't' },
        { "tls-cert", required_argument, NULL, OPT_TLS_CERT },
        { "tls-key", required_argument, NULL, OPT_TLS_KEY },
        { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
        { "log-file", required_argument, NULL, OPT_LOG_FILE },
        { "registry", required_argument, NULL, OPT_REGISTRY },
        { "check-config", no_argument, NULL, OPT_CHECK },
        { "migrate-registry-to", required_argument, NULL, OPT_MIGRATE },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    static const struct {
        int opt;
        const char *key;
    } flag_keys[] = {
        { 'l', "listen" },           { 'd', "database" },         { 't', "token_file" },
        { OPT_TLS_CERT, "tls_cert" }, { OPT_TLS_KEY, "tls_key" }, { OPT_LOG_LEVEL, "log_level" },
        { OPT_LOG_FILE, "log_file" }, { OPT_REGISTRY, "registry" },
    };

    /* First pass: only -c, -h, -V, so the file is read before the flags. */
    const char *path = CONFIG_DEFAULT_PATH;
    bool explicit_path = false;
    int c;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "c:l:d:t:hV", options, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; explicit_path = true; break;
        case 'h': usage(stdout); exit(0);
        case 'V': printf("lmnetd %s\n", LMNET_VERSION); exit(0);
        case '?': usage(stderr); return -EINVAL;
        default: break;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "lmnetd: unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    char err[512];
    int r = config_load(config, path, !explicit_path, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "lmnetd: %s\n", err);
        return r;
    }

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:l:d:t:hV", options, NULL)) != -1) {
        if (c == OPT_CHECK) {
            *check_only = true;
            continue;
        }
        if (c == OPT_MIGRATE) {
            *migrate_to = optarg;
            continue;
        }
        for (size_t i = 0; i < sizeof(flag_keys) / sizeof(flag_keys[0]); i++) {
            if (flag_keys[i].opt != c)
                continue;
            r = config_set(config, flag_keys[i].key, optarg, err, sizeof(err));
            if (r < 0) {
                fprintf(stderr, "lmnetd: option for %s: %s\n", flag_keys[i].key, err);
                return r;
            }
        }
    }
    r = config_check(config, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "lmnetd: %s\n", err);
        return r;
    }
    return 0;
}

static int load_tokens(struct agent *agent)
{
    const struct config *config = &agent->config;
    char err[512];
    if (config->token_file) {
        int r = token_set_load(config->token_file, &agent->tokens, err, sizeof(err));
        if (r < 0) {
            fprintf(stderr, "lmnetd: %s\n", err);
            return r;
        }
        log_info("tokens loaded count=%zu", token_set_count(agent->tokens));
    } else if (!config_listen_is_loopback(config)) {
        fprintf(stderr,
                "lmnetd: refusing to listen on %s without authentication: set token_file "
                "(see deploy/tokens.example)\n",
                config->listen_address);
        return -EPERM;
    } else {
        log_warning("authentication is off: no token_file set; listening on loopback only");
    }
    if (config->peer_token_file) {
        int r = client_read_token_file(config->peer_token_file, &agent->peer_token, err, sizeof(err));
        if (r < 0) {
            fprintf(stderr, "lmnetd: peer_token_file: %s\n", err);
            return r;
        }
    }
    return 0;
}

/* A file the agent reads at start.  Returns 0, or prints why not and
 * returns a negative errno. */
static int check_readable(const char *key, const char *path)
{
    if (path && access(path, R_OK) < 0) {
        int e = errno;
        fprintf(stderr, "lmnetd: %s %s cannot be read: %s\n", key, path, strerror(e));
        return -e;
    }
    return 0;
}

/* --check-config: what the agent refuses at start besides the syntax of
 * its configuration (config_check()), without starting: the token files
 * and listening without them, the TLS files, the log file. */
static int check_startable(struct agent *agent)
{
    const struct config *config = &agent->config;
    int r = load_tokens(agent);
    if (r == 0)
        r = check_readable("tls_cert", config->tls_cert);
    if (r == 0 && config->tls_key) {
        FILE *key = NULL;
        char err[512];
        r = secret_file_open(config->tls_key, "tls_key", "the private key", &key, err, sizeof(err));
        if (r < 0)
            fprintf(stderr, "lmnetd: tls_key %s\n", err);
        else
            fclose(key);
    }
    if (r == 0 && config->log_file) {
        FILE *f = fopen(config->log_file, "a");
        if (!f) {
            r = -errno;
            fprintf(stderr, "lmnetd: cannot open log file %s: %s\n", config->log_file,
                    strerror(-r));
        } else {
            fclose(f);
        }
    }
    return r;
}

static int wait_for_signals(const sigset_t *set)
{
    for (;;) {
        int sig;
        if (sigwait(set, &sig) != 0)
            return -EINTR;
        if (sig == SIGHUP) {
            int r = log_reopen();
            if (r < 0)
                log_errno(LOG_LEVEL_ERROR, r, "cannot reopen the log file");
            else
                log_info("log reopened");
            continue;
        }
        log_info("stopping signal=%s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        return 0;
    }
}

/* lmnetd --migrate-registry-to etcd://...: copies this (self) registry's
 * database into etcd, once.  Returns the exit code. */
static int migrate_registry(struct agent *agent, const char *target)
{
    if (strcmp(agent->config.registry, "self") != 0) {
        fprintf(stderr,
                "lmnetd: this agent's database is not the registry (registry = %s); run the "
                "migration on the registry agent's host, with its database\n",
                agent->config.registry);
        return 2;
    }
    if (strncmp(target, "etcd://", 7) != 0 || !strchr(target + 7, ':') || strchr(target + 7, '/')) {
        fprintf(stderr, "lmnetd: --migrate-registry-to takes etcd://HOST:PORT,..., not '%s'\n",
                target);
        return 2;
    }
    struct registry *etcd = NULL;
    int r = registry_etcd_create(agent, target + 7, &etcd);
    if (r < 0) {
        fprintf(stderr, "lmnetd: cannot set up the etcd client for %s: %s\n", target, strerror(-r));
        return 1;
    }
    char message[1024];
    r = registry_etcd_migrate(etcd, db_pool_get(agent->db), message, sizeof(message));
    registry_destroy(etcd);
    if (r < 0) {
        fprintf(stderr, "lmnetd: migration refused or failed: %s\n", message);
        return 1;
    }
    printf("%s\nnow set 'registry = %s' on every agent and restart them\n", message, target);
    return 0;
}

int main(int argc, char **argv)
{
    struct agent agent = { 0 };
    bool check_only = false;
    const char *migrate_to = NULL;
    if (config_init(&agent.config) < 0)
        return 1;
    if (parse_args(argc, argv, &agent.config, &check_only, &migrate_to) < 0) {
        config_release(&agent.config);
        return 2;
    }
    if (check_only) {
        int r = check_startable(&agent);
        token_set_destroy(agent.tokens);
        if (agent.peer_token)
            explicit_bzero(agent.peer_token, strlen(agent.peer_token));
        free(agent.peer_token);
        config_release(&agent.config);
        if (r < 0)
            return 1;
        printf("configuration ok\n");
        return 0;
    }
    log_set_level(agent.config.log_level);
    if (agent.config.log_file) {
        int r = log_open(agent.config.log_file);
        if (r < 0) {
            fprintf(stderr, "lmnetd: cannot open log file %s: %s\n", agent.config.log_file,
                    strerror(-r));
            config_release(&agent.config);
            return 1;
        }
    }

    /* Block the signals before any thread starts, so all inherit the mask
     * and only sigwait() below sees them. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    int exit_code = 1;
    struct server *server = NULL;
    clock_gettime(CLOCK_MONOTONIC, &agent.started);
    agent.started_wall = time(NULL);
    if (agent.config.node_name)
        snprintf(agent.hostname, sizeof(agent.hostname), "%s", agent.config.node_name);
    else if (gethostname(agent.hostname, sizeof(agent.hostname) - 1) < 0)
        snprintf(agent.hostname, sizeof(agent.hostname), "unknown");

    if (load_tokens(&agent) < 0)
        goto out;
    int r = ensure_parent_dir(agent.config.database);
    if (r < 0) {
        fprintf(stderr, "lmnetd: cannot create the directory of %s: %s\n", agent.config.database,
                strerror(-r));
        goto out;
    }
    r = db_pool_create(agent.config.database, &agent.db);
    if (r < 0) {
        fprintf(stderr, "lmnetd: cannot open database %s: %s\n", agent.config.database,
                r == -EPROTO ? "it was written by a newer lmnet (upgrade lmnetd)" : strerror(-r));
        goto out;
    }
    r = node_id_load(db_pool_get(agent.db), agent.node_id);
    if (r < 0) {
        log_errno(LOG_LEVEL_ERROR, r, "cannot read or create the node id");
        goto out;
    }
    if (migrate_to) {
        exit_code = migrate_registry(&agent, migrate_to);
        goto out;
    }
    /* This host's dynamic pool is listed from the start, not only once
     * something has asked for it by name. */
    struct refusal pool_err;
    if (allocator_learn_pool(&agent, MACPOOL_DYNAMIC_NAME, &pool_err) < 0)
        log_warning("no dynamic MAC pool on this host reason=\"%s\"", pool_err.detail);
    r = start_switch(&agent);
    if (r < 0)
        goto out;
    start_hypervisor(&agent);
    agent.reachability = reachability_create();
    agent.metrics = metrics_create();
    if (!agent.reachability || !agent.metrics) {
        r = -ENOMEM;
        goto out;
    }
    r = registry_create(&agent, &agent.registry);
    if (r < 0) {
        log_errno(LOG_LEVEL_ERROR, r, "cannot set up the registry '%s'", agent.config.registry);
        goto out;
    }
    r = start_vms(&agent, clusternet_pair);
    if (r < 0)
        goto out;
    r = server_start(&agent, &server);
    if (r < 0)
        goto out;
    agent.port = server_port(server);
    r = membership_start(&agent, &agent.membership);
    if (r < 0)
        goto out;
    r = heartbeat_start(&agent, &agent.heartbeat);
    if (r < 0)
        goto out;
    log_info("lmnetd started version=%s node_id=%s hostname=%s database=%s", LMNET_VERSION,
             agent.node_id, agent.hostname, agent.config.database);
    /* Type=notify: systemd starts what is ordered after us only now, with
     * the API listening.  Without $NOTIFY_SOCKET this does nothing. */
    r = sd_notifyf(0, "READY=1\nSTATUS=serving the API on port %u\nMAINPID=%lu", agent.port,
                   (unsigned long)getpid());
    if (r < 0)
        log_errno(LOG_LEVEL_WARNING, r, "cannot notify systemd of readiness");

    if (wait_for_signals(&signals) == 0)
        exit_code = 0;

out:
    sd_notify(0, "STOPPING=1");
    /* The server goes first: no request may see a half-stopped agent. */
    server_stop(server);
    heartbeat_stop(agent.heartbeat);
    membership_stop(agent.membership);
    migrator_stop(agent.migrator);
    lifecycle_destroy(agent.lifecycle);
    hypervisor_destroy(agent.hypervisor);
    switchport_destroy(agent.switchport);
    vswitch_destroy(agent.vswitch);
    reachability_destroy(agent.reachability);
    registry_destroy(agent.registry);
    metrics_destroy(agent.metrics);
    db_pool_destroy(agent.db);
    token_set_destroy(agent.tokens);
    if (agent.peer_token)
        explicit_bzero(agent.peer_token, strlen(agent.peer_token));
    free(agent.peer_token);
    config_release(&agent.config);
    if (exit_code == 0)
        log_info("lmnetd stopped");
    return exit_code;
}
