/* The Open vSwitch driver over OVSDB (vswitch/ovsdb.h): see vswitch/vswitch.h.
 *
 * Each call is one OVSDB transaction on the Open_vSwitch database.  lmnet's
 * mark is external_ids:lmnet-switch=NAME on bridges and
 * external_ids:lmnet-port=NAME on ports; a row without it is never changed.
 * Ports and interfaces are not root tables: removing a port from its
 * bridge's "ports" set deletes it, and a bridge removed from the root row's
 * "bridges" set goes with its ports.
 *
 * Guard flows and port flags go over OpenFlow 1.4 (vswitch/openflow.h), one
 * session per bridge.
 *
 * Threads: one OVSDB connection, one mutex around it. */
#include "vswitch/vswitch.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "base/batch.h"
#include "base/clock.h"
#include "base/cleanup.h"
#include "base/log.h"
#include "base/mac.h"
#include "vswitch/openflow.h"
#include "vswitch/ovsdb.h"
#include "vswitch/tap.h"

#define DB "Open_vSwitch"
#define TIMEOUT_MS 10000

struct ovs {
    struct vswitch base;
    pthread_mutex_t lock; /* guards ovsdb */
    struct ovsdb *ovsdb;
    char address[256];
    char datapath_type[16];
    char rundir[256]; /* where the bridges' OpenFlow sockets are: the OVSDB socket's */
    struct ovsdb *watch;  /* the watching thread's own connection, with a monitor */
    /* One OpenFlow session per bridge, opened on first use and again when
     * the switch closed it.  A session that ended stays allocated until
     * destroy (another thread may still hold it; its calls just fail). */
    pthread_mutex_t sessions_lock;
    struct session *sessions;
    /* Guard flows of ports changed side by side go to the switch in one
     * bundle per bridge, and the ports themselves to OVSDB in one
     * transaction (base/batch.h). */
    struct batcher flows;
    struct batcher ports;
};

struct session {
    struct session *next;
    char bridge[64];
    struct openflow *of;
    bool ended;     /* the switch closed it (restart, bridge gone) */
    bool forgotten; /* ended, and reported by flows_lost() (or the bridge
                       was removed: nothing to put back) */
};

struct flows_job {
    struct batch_job base;
    struct openflow *of;
    struct openflow_change change;
};

static const struct vswitch_ops ovs_ops;

static struct json_object *op_new(const char *op, const char *table)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "op", json_object_new_string(op));
    json_object_object_add(o, "table", json_object_new_string(table));
    return o;
}

static struct json_object *where_name(const char *name)
{
    struct json_object *w = json_object_new_array();
    json_object_array_add(w, ovsdb_condition("name", json_object_new_string(name)));
    return w;
}

static struct json_object *string_list(const char *a, const char *b)
{
    struct json_object *l = json_object_new_array();
    json_object_array_add(l, json_object_new_string(a));
    if (b)
        json_object_array_add(l, json_object_new_string(b));
    return l;
}

static struct json_object *marks(const char *key, const char *value, const char *vm)
{
    struct json_object *pairs = json_object_new_object();
    json_object_object_add(pairs, key, json_object_new_string(value));
    if (vm && vm[0])
        json_object_object_add(pairs, "lmnet-vm", json_object_new_string(vm));
    return ovsdb_map(pairs);
}

/* Runs OPS (consumed); reconnects once if the connection was lost. */
static int transact(struct ovs *o, struct json_object *ops, struct json_object **results)
{
    char err[512];
    int r = -ENOTCONN;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!o->ovsdb) {
            r = ovsdb_connect(o->address, TIMEOUT_MS, &o->ovsdb);
            if (r < 0)
                break;
        }
        struct json_object *res = NULL;
        r = ovsdb_transact(o->ovsdb, DB, ops, &res, err, sizeof(err));
        if (r == -ECONNRESET || r == -EPIPE) {
            ovsdb_close(o->ovsdb);
            o->ovsdb = NULL;
            continue;
        }
        if (r < 0)
            log_error("ovsdb transaction refused: %s", err);
        if (results)
            *results = res;
        else
            json_object_put(res);
        break;
    }
    json_object_put(ops);
    return r;
}

/* A select of the row of TABLE named NAME: _uuid, external_ids, COL1 and
 * COL2 (NULL: none). */
static struct json_object *select_op(const char *table, const char *name, const char *col1,
                                     const char *col2)
{
    struct json_object *sel = op_new("select", table);
    json_object_object_add(sel, "where", where_name(name));
    struct json_object *columns = string_list("_uuid", "external_ids");
    json_object_array_add(columns, json_object_new_string(col1));
    if (col2)
        json_object_array_add(columns, json_object_new_string(col2));
    json_object_object_add(sel, "columns", columns);
    return sel;
}

/* Reads the rows of TABLE named NAME with COLUMNS: 0 and *row (caller
 * owns; NULL when there is none), or a negative errno. */
static int select_named(struct ovs *o, const char *table, const char *name, const char *col1,
                        const char *col2, struct json_object **row)
{
    *row = NULL;
    struct json_object *ops = json_object_new_array();
    json_object_array_add(ops, select_op(table, name, col1, col2));
    struct json_object *results = NULL;
    int r = transact(o, ops, &results);
    if (r < 0)
        return r;
    struct json_object *rows = NULL;
    if (json_object_is_type(results, json_type_array) &&
        json_object_object_get_ex(json_object_array_get_idx(results, 0), "rows", &rows) &&
        json_object_is_type(rows, json_type_array) && json_object_array_length(rows) > 0)
        *row = json_object_get(json_object_array_get_idx(rows, 0));
    json_object_put(results);
    return 0;
}

static const char *uuid_of_row(struct json_object *row)
{
    struct json_object *u = NULL;
    return json_object_object_get_ex(row, "_uuid", &u) ? ovsdb_uuid_of(u) : NULL;
}

static const char *mark_of(struct json_object *row, const char *key)
{
    struct json_object *ids = NULL;
    return json_object_object_get_ex(row, "external_ids", &ids) ? ovsdb_map_get(ids, key) : NULL;
}

static int bridge_ensure(struct vswitch *vs, const char *name)
{
    struct ovs *o = (struct ovs *)vs;
    pthread_mutex_lock(&o->lock);
    _cleanup_json_ struct json_object *row = NULL;
    int r = select_named(o, "Bridge", name, "name", NULL, &row);
    if (r == 0 && row) {
        r = mark_of(row, "lmnet-switch") ? 0 : -EPERM;
        pthread_mutex_unlock(&o->lock);
        return r;
    }
    if (r < 0) {
        pthread_mutex_unlock(&o->lock);
        return r;
    }
    struct json_object *ops = json_object_new_array();
    struct json_object *iface = op_new("insert", "Interface");
    struct json_object *irow = json_object_new_object();
    json_object_object_add(irow, "name", json_object_new_string(name));
    json_object_object_add(irow, "type", json_object_new_string("internal"));
    json_object_object_add(iface, "row", irow);
    json_object_object_add(iface, "uuid-name", json_object_new_string("iface"));
    json_object_array_add(ops, iface);
    struct json_object *port = op_new("insert", "Port");
    struct json_object *prow = json_object_new_object();
    json_object_object_add(prow, "name", json_object_new_string(name));
    json_object_object_add(prow, "interfaces", ovsdb_named_uuid("iface"));
    json_object_object_add(prow, "external_ids", marks("lmnet-port", name, NULL));
    json_object_object_add(port, "row", prow);
    json_object_object_add(port, "uuid-name", json_object_new_string("port"));
    json_object_array_add(ops, port);
    struct json_object *br = op_new("insert", "Bridge");
    struct json_object *brow = json_object_new_object();
    json_object_object_add(brow, "name", json_object_new_string(name));
    json_object_object_add(brow, "datapath_type", json_object_new_string(o->datapath_type));
    json_object_object_add(brow, "ports", ovsdb_named_uuid("port"));
    json_object_object_add(brow, "external_ids", marks("lmnet-switch", name, NULL));
    json_object_object_add(br, "row", brow);
    json_object_object_add(br, "uuid-name", json_object_new_string("br"));
    json_object_array_add(ops, br);
    struct json_object *root = op_new("mutate", "Open_vSwitch");
    json_object_object_add(root, "where", json_object_new_array());
    struct json_object *mutation = json_object_new_array();
    json_object_array_add(mutation, json_object_new_string("bridges"));
    json_object_array_add(mutation, json_object_new_string("insert"));
    json_object_array_add(mutation, ovsdb_named_uuid("br"));
    struct json_object *mutations = json_object_new_array();
    json_object_array_add(mutations, mutation);
    json_object_object_add(root, "mutations", mutations);
    json_object_array_add(ops, root);
    r = transact(o, ops, NULL);
    pthread_mutex_unlock(&o->lock);
    if (r == 0)
        log_info("switch bridge created bridge=%s datapath=%s", name, o->datapath_type);
    return r;
}

/* Removes UUID from the set COLUMN of the rows of TABLE matching WHERE
 * (consumed). */
static struct json_object *remove_from(const char *table, struct json_object *where,
                                       const char *column, const char *uuid)
{
    struct json_object *m = op_new("mutate", table);
    json_object_object_add(m, "where", where);
    struct json_object *mutation = json_object_new_array();
    json_object_array_add(mutation, json_object_new_string(column));
    json_object_array_add(mutation, json_object_new_string("delete"));
    json_object_array_add(mutation, ovsdb_uuid(uuid));
    struct json_object *mutations = json_object_new_array();
    json_object_array_add(mutations, mutation);
    json_object_object_add(m, "mutations", mutations);
    return m;
}

static int bridge_delete(struct vswitch *vs, const char *name)
{
    struct ovs *o = (struct ovs *)vs;
    pthread_mutex_lock(&o->lock);
    _cleanup_json_ struct json_object *row = NULL;
    int r = select_named(o, "Bridge", name, "name", NULL, &row);
    if (r == 0 && !row)
        r = -ENOENT;
    else if (r == 0 && !mark_of(row, "lmnet-switch"))
        r = -EPERM;
    if (r == 0) {
        struct json_object *ops = json_object_new_array();
        json_object_array_add(ops, remove_from("Open_vSwitch", json_object_new_array(), "bridges",
                                               uuid_of_row(row)));
        r = transact(o, ops, NULL);
    }
    pthread_mutex_unlock(&o->lock);
    if (r == 0) {
        log_info("switch bridge deleted bridge=%s", name);
        /* Its session ends with it, and nothing is lost. */
        pthread_mutex_lock(&o->sessions_lock);
        for (struct session *s = o->sessions; s; s = s->next)
            if (strcmp(s->bridge, name) == 0)
                s->ended = s->forgotten = true;
        pthread_mutex_unlock(&o->sessions_lock);
    }
    return r;
}

static struct json_object *port_row(const struct vswitch_port_spec *spec)
{
    struct json_object *row = json_object_new_object();
    struct json_object *tag = spec->tag ? json_object_new_int(spec->tag) : ovsdb_empty_set();
    json_object_object_add(row, "tag", tag);
    struct json_object *trunks = json_object_new_array();
    for (size_t i = 0; i < spec->n_trunks; i++)
        json_object_array_add(trunks, json_object_new_int(spec->trunks[i]));
    json_object_object_add(row, "trunks", ovsdb_set(trunks));
    json_object_object_add(row, "external_ids", marks("lmnet-port", spec->name, spec->vm));
    return row;
}

/* One port to put on, or take off, a bridge.  Ports changed side by side
 * go to OVSDB in one transaction: ovs-vswitchd reconfigures every port of
 * the bridge once per transaction (and once per burst of kernel link
 * events), so a thousand one-port transactions cost a thousand passes
 * over up to a thousand ports. */
struct port_job {
    struct batch_job base;
    bool remove;
    const char *bridge;
    const char *name;
    const struct vswitch_port_spec *spec; /* to put on */
    struct json_object *row;              /* the Port row named NAME, if any */
};

#define PORT_JOBS(j, batch)                                                          \
    for (struct port_job *j = (struct port_job *)(batch); j;                         \
         j = (struct port_job *)j->base.next)

static bool port_job_joins(const struct batch_job *first, const struct batch_job *j)
{
    return ((const struct port_job *)first)->remove == ((const struct port_job *)j)->remove;
}

/* Reads, in one transaction, the Port row of every job of BATCH still at
 * 0: sets its row, or its result (-EPERM: a port lmnet did not make;
 * -ENOENT, when REQUIRED: no such port).  Called with o->lock held. */
static void find_ports(struct ovs *o, struct port_job *batch, bool required)
{
    struct json_object *ops = json_object_new_array();
    PORT_JOBS(j, batch) {
        if (j->base.result < 0)
            continue;
        json_object_array_add(ops, select_op("Port", j->name, "name", NULL));
    }
    if (json_object_array_length(ops) == 0) {
        json_object_put(ops);
        return;
    }
    struct json_object *results = NULL;
    int r = transact(o, ops, &results);
    size_t i = 0;
    PORT_JOBS(j, batch) {
        if (j->base.result < 0)
            continue;
        if (r < 0) {
            j->base.result = r;
            continue;
        }
        struct json_object *rows = NULL;
        if (json_object_is_type(results, json_type_array) &&
            json_object_object_get_ex(json_object_array_get_idx(results, i++), "rows", &rows) &&
            json_object_is_type(rows, json_type_array) && json_object_array_length(rows) > 0)
            j->row = json_object_get(json_object_array_get_idx(rows, 0));
        if (j->row && !mark_of(j->row, "lmnet-port"))
            j->base.result = -EPERM;
        else if (!j->row && required)
            j->base.result = -ENOENT;
    }
    json_object_put(results);
}

/* Appends to OPS what puts J's port on its bridge (K makes its row names
 * unique in the transaction). */
static void put_port_ops(struct json_object *ops, const struct port_job *j, size_t k)
{
    const struct vswitch_port_spec *spec = j->spec;
    if (j->row) {
        struct json_object *upd = op_new("update", "Port");
        json_object_object_add(upd, "where", where_name(spec->name));
        json_object_object_add(upd, "row", port_row(spec));
        json_object_array_add(ops, upd);
    } else {
        char iface_name[32], port_name[32];
        snprintf(iface_name, sizeof(iface_name), "iface%zu", k);
        snprintf(port_name, sizeof(port_name), "port%zu", k);
        struct json_object *iface = op_new("insert", "Interface");
        struct json_object *irow = json_object_new_object();
        json_object_object_add(irow, "name", json_object_new_string(spec->name));
        if (spec->internal)
            json_object_object_add(irow, "type", json_object_new_string("internal"));
        json_object_object_add(iface, "row", irow);
        json_object_object_add(iface, "uuid-name", json_object_new_string(iface_name));
        json_object_array_add(ops, iface);
        struct json_object *port = op_new("insert", "Port");
        struct json_object *prow = port_row(spec);
        json_object_object_add(prow, "name", json_object_new_string(spec->name));
        json_object_object_add(prow, "interfaces", ovsdb_named_uuid(iface_name));
        json_object_object_add(port, "row", prow);
        json_object_object_add(port, "uuid-name", json_object_new_string(port_name));
        json_object_array_add(ops, port);
        struct json_object *m = op_new("mutate", "Bridge");
        json_object_object_add(m, "where", where_name(j->bridge));
        struct json_object *mutation = json_object_new_array();
        json_object_array_add(mutation, json_object_new_string("ports"));
        json_object_array_add(mutation, json_object_new_string("insert"));
        json_object_array_add(mutation, ovsdb_named_uuid(port_name));
        struct json_object *mutations = json_object_new_array();
        json_object_array_add(mutations, mutation);
        json_object_object_add(m, "mutations", mutations);
        json_object_array_add(ops, m);
        /* The bridge must exist and be lmnet's: "wait" fails the whole
         * transaction otherwise, rather than leaving an orphan port. */
        struct json_object *w = op_new("wait", "Bridge");
        json_object_object_add(w, "where", where_name(j->bridge));
        json_object_object_add(w, "columns", string_list("name", NULL));
        json_object_object_add(w, "until", json_object_new_string("!="));
        json_object_object_add(w, "rows", json_object_new_array());
        json_object_object_add(w, "timeout", json_object_new_int(0));
        json_object_array_add(ops, w);
    }
    /* A new interface has no cap (OVS's default), and writing none would
     * still make ovs-vswitchd redo its traffic control. */
    if (!j->row && !spec->ingress_kbps)
        return;
    struct json_object *iface = op_new("update", "Interface");
    json_object_object_add(iface, "where", where_name(spec->name));
    struct json_object *irow = json_object_new_object();
    json_object_object_add(irow, "ingress_policing_rate",
                           json_object_new_int64((int64_t)spec->ingress_kbps));
    json_object_object_add(irow, "ingress_policing_burst",
                           json_object_new_int64((int64_t)(spec->ingress_kbps / 10)));
    json_object_object_add(iface, "row", irow);
    json_object_array_add(ops, iface);
}

/* Appends to OPS what takes J's port off its bridge. */
static void remove_port_ops(struct json_object *ops, const struct port_job *j, size_t k)
{
    (void)k;
    json_object_array_add(ops, remove_from("Bridge", where_name(j->bridge), "ports", uuid_of_row(j->row)));
}

/* Runs the ops of every job of BATCH still at 0 as one transaction; if it
 * fails (all or nothing: nothing of it stayed), each job's alone, so that
 * each caller gets its own answer.  Called with o->lock held. */
static void transact_jobs(struct ovs *o, struct port_job *batch,
                          void (*add_ops)(struct json_object *, const struct port_job *, size_t))
{
    struct json_object *ops = json_object_new_array();
    size_t live = 0;
    PORT_JOBS(j, batch)
        if (j->base.result == 0)
            add_ops(ops, j, live++);
    if (live == 0) {
        json_object_put(ops);
        return;
    }
    int r = transact(o, ops, NULL);
    PORT_JOBS(j, batch) {
        if (j->base.result < 0)
            continue;
        if (r == 0 || live == 1) {
            j->base.result = r;
        } else {
            struct json_object *one = json_object_new_array();
            add_ops(one, j, 0);
            j->base.result = transact(o, one, NULL);
        }
    }
}

static void put_ports(struct ovs *o, struct port_job *batch)
{
    /* The taps first, all of them: ovs-vswitchd takes their link events
     * together, and the transaction's ports find them there. */
    PORT_JOBS(j, batch) {
        if (!j->spec->tap)
            continue;
        int t = tap_create(j->name);
        if (t < 0)
            j->base.result = log_errno(LOG_LEVEL_ERROR, t, "cannot create tap=%s", j->name);
    }
    pthread_mutex_lock(&o->lock);
    find_ports(o, batch, false);
    transact_jobs(o, batch, put_port_ops);
    pthread_mutex_unlock(&o->lock);
    PORT_JOBS(j, batch) {
        if (j->base.result == -ESTALE)
            j->base.result = -ENOENT; /* no such bridge */
        if (j->base.result == 0)
            log_info("switch port %s bridge=%s port=%s tag=%u trunks=%zu",
                     j->row ? "updated" : "created", j->bridge, j->name, j->spec->tag,
                     j->spec->n_trunks);
    }
}

static int bridge_session(struct ovs *o, const char *bridge, struct openflow **out);
static uint64_t port_cookie(const char *name);

/* Takes the flows of every job of BATCH still at 0 off its bridge, in one
 * bundle per bridge. */
static void clear_batch_guards(struct ovs *o, struct port_job *batch)
{
    PORT_JOBS(j, batch) {
        if (j->base.result < 0)
            continue;
        bool done = false; /* with an earlier job of the same bridge */
        for (struct port_job *e = batch; e != j && !done; e = (struct port_job *)e->base.next)
            done = e->base.result == 0 && strcmp(e->bridge, j->bridge) == 0;
        char path[320];
        snprintf(path, sizeof(path), "%s/%s.mgmt", o->rundir, j->bridge);
        if (done || access(path, F_OK) < 0)
            continue; /* no bridge socket: no flows */
        size_t n = 0;
        PORT_JOBS(k, j)
            n += k->base.result == 0 && strcmp(k->bridge, j->bridge) == 0;
        struct openflow_change *changes = calloc(n, sizeof(*changes));
        struct openflow *of;
        if (!changes || bridge_session(o, j->bridge, &of) < 0) {
            free(changes);
            continue;
        }
        n = 0;
        PORT_JOBS(k, j)
            if (k->base.result == 0 && strcmp(k->bridge, j->bridge) == 0)
                changes[n++] = (struct openflow_change){ .cookie = port_cookie(k->name) };
        int r = openflow_apply(of, changes, n);
        if (r < 0)
            log_errno(LOG_LEVEL_WARNING, r, "cannot remove the flows of %zu ports of bridge=%s", n,
                      j->bridge);
        free(changes);
    }
}

static void remove_ports(struct ovs *o, struct port_job *batch)
{
    pthread_mutex_lock(&o->lock);
    find_ports(o, batch, true);
    pthread_mutex_unlock(&o->lock);
    /* The flows go first (outside the lock: a round trip to the switch
     * and other ports need not wait): the port's number could be given to
     * the next port at once. */
    clear_batch_guards(o, batch);
    pthread_mutex_lock(&o->lock);
    transact_jobs(o, batch, remove_port_ops);
    pthread_mutex_unlock(&o->lock);
    PORT_JOBS(j, batch)
        if (j->base.result == 0)
            log_info("switch port deleted bridge=%s port=%s", j->bridge, j->name);
}

static void run_port_batch(struct batch_job *batch, void *ctx)
{
    struct port_job *first = (struct port_job *)batch;
    size_t n = 0;
    PORT_JOBS(j, batch)
        n++;
    log_debug("switch port batch: %s %zu ports", first->remove ? "removing" : "putting on", n);
    if (first->remove)
        remove_ports(ctx, first);
    else
        put_ports(ctx, first);
    PORT_JOBS(j, batch) {
        json_object_put(j->row);
        j->row = NULL;
    }
}

static int port_ensure(struct vswitch *vs, const char *bridge, const struct vswitch_port_spec *spec)
{
    struct ovs *o = (struct ovs *)vs;
    struct port_job job = { .bridge = bridge, .name = spec->name, .spec = spec };
    return batcher_submit(&o->ports, &job.base);
}

static int port_delete(struct vswitch *vs, const char *bridge, const char *name)
{
    struct ovs *o = (struct ovs *)vs;
    struct port_job job = { .remove = true, .bridge = bridge, .name = name };
    int r = batcher_submit(&o->ports, &job.base);
    /* The tap made for a VM's port goes with it (whatever else the name
     * is, a NIC or a stray, is not lmnet's to remove).  Each caller removes
     * its own, side by side: the kernel takes ~15 ms to remove a device,
     * most of it waiting, and one thread removing a batch's taps in turn
     * would hold up the next batch that long. */
    if (r == 0 || r == -ENOENT) {
        char tun[96];
        snprintf(tun, sizeof(tun), "/sys/class/net/%s/tun_flags", name);
        if (access(tun, F_OK) == 0)
            tap_delete(name);
    }
    return r;
}

static int list(struct vswitch *vs, struct vswitch_object **out, size_t *n)
{
    struct ovs *o = (struct ovs *)vs;
    *out = NULL;
    *n = 0;
    struct json_object *ops = json_object_new_array();
    struct json_object *sel = op_new("select", "Bridge");
    json_object_object_add(sel, "where", json_object_new_array());
    json_object_object_add(sel, "columns", string_list("name", "external_ids"));
    struct json_object *cols = NULL;
    json_object_object_get_ex(sel, "columns", &cols);
    json_object_array_add(cols, json_object_new_string("ports"));
    json_object_array_add(ops, sel);
    sel = op_new("select", "Port");
    json_object_object_add(sel, "where", json_object_new_array());
    json_object_object_add(sel, "columns", string_list("name", "external_ids"));
    json_object_object_get_ex(sel, "columns", &cols);
    json_object_array_add(cols, json_object_new_string("_uuid"));
    json_object_array_add(cols, json_object_new_string("tag"));
    json_object_array_add(cols, json_object_new_string("trunks"));
    json_object_array_add(ops, sel);
    pthread_mutex_lock(&o->lock);
    _cleanup_json_ struct json_object *results = NULL;
    int r = transact(o, ops, &results);
    pthread_mutex_unlock(&o->lock);
    if (r < 0)
        return r;
    return vswitch_ovs_list_parse(results, out, n);
}

/* The rows of the select whose result is RESULTS[I], or NULL when the
 * server's answer is not of that shape. */
static struct json_object *rows_of(struct json_object *results, size_t i)
{
    struct json_object *rows = NULL;
    if (!json_object_is_type(results, json_type_array) ||
        !json_object_object_get_ex(json_object_array_get_idx(results, i), "rows", &rows) ||
        !json_object_is_type(rows, json_type_array))
        return NULL;
    return rows;
}

static size_t rows_length(struct json_object *rows)
{
    return rows ? json_object_array_length(rows) : 0;
}

int vswitch_ovs_list_parse(struct json_object *results, struct vswitch_object **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct json_object *bridges = rows_of(results, 0), *ports = rows_of(results, 1);
    size_t cap = rows_length(bridges) + rows_length(ports);
    *out = calloc(cap ? cap : 1, sizeof(**out));
    if (!*out)
        return -ENOMEM;
    for (size_t b = 0; b < rows_length(bridges); b++) {
        struct json_object *br = json_object_array_get_idx(bridges, b);
        const char *bname = json_object_get_string(json_object_object_get(br, "name"));
        if (!bname)
            continue;
        bool ours = mark_of(br, "lmnet-switch") != NULL;
        if (ours) {
            snprintf((*out)[*n].bridge, sizeof((*out)[*n].bridge), "%s", bname);
            (*n)++;
        }
        struct json_object *set = json_object_object_get(br, "ports");
        for (size_t i = 0; i < ovsdb_set_size(set); i++) {
            const char *uuid = ovsdb_uuid_of(ovsdb_set_at(set, i));
            for (size_t p = 0; uuid && p < rows_length(ports) && *n < cap; p++) {
                struct json_object *port = json_object_array_get_idx(ports, p);
                const char *pu = uuid_of_row(port);
                const char *pname = json_object_get_string(json_object_object_get(port, "name"));
                if (!pu || !pname || strcmp(pu, uuid) != 0 || !mark_of(port, "lmnet-port") ||
                    strcmp(pname, bname) == 0)
                    continue;
                struct vswitch_object *obj = &(*out)[*n];
                snprintf(obj->bridge, sizeof(obj->bridge), "%s", bname);
                snprintf(obj->port, sizeof(obj->port), "%s", pname);
                struct json_object *tag = json_object_object_get(port, "tag");
                if (ovsdb_set_size(tag) == 1)
                    obj->tag = (uint16_t)json_object_get_int(ovsdb_set_at(tag, 0));
                struct json_object *trunks = json_object_object_get(port, "trunks");
                for (size_t t = 0; t < ovsdb_set_size(trunks) && obj->n_trunks < VSWITCH_MAX_TRUNKS; t++)
                    obj->trunks[obj->n_trunks++] = (uint16_t)json_object_get_int(ovsdb_set_at(trunks, t));
                (*n)++;
            }
        }
    }
    return 0;
}

/* Flows lmnet installs carry a cookie: "LMNT" in the high word and a hash
 * of the port name in the low, so one port's flows are replaced, and all of
 * lmnet's found, by cookie alone. */
#define COOKIE_HIGH UINT64_C(0x4c4d4e5400000000)

static uint64_t port_cookie(const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *c = name; *c; c++)
        h = (h ^ (uint8_t)*c) * 16777619u;
    return COOKIE_HIGH | h;
}

/* ovs-vswitchd opens a new bridge's OpenFlow socket a moment after the
 * OVSDB transaction that made the bridge: wait for it (up to 5 s). */
static int wait_for_bridge_socket(const char *path)
{
    for (int i = 0; i < 500; i++) {
        if (access(path, F_OK) == 0)
            return 0;
        clock_sleep_ms(10);
    }
    return -ETIMEDOUT;
}

/* The OpenFlow session to BRIDGE, opened (or opened again) as needed.
 * Returns 0 and *out, or a negative errno. */
static int bridge_session(struct ovs *o, const char *bridge, struct openflow **out)
{
    char path[320];
    snprintf(path, sizeof(path), "%s/%s.mgmt", o->rundir, bridge);
    pthread_mutex_lock(&o->sessions_lock);
    struct session *s = o->sessions;
    while (s && (s->ended || strcmp(s->bridge, bridge) != 0))
        s = s->next;
    if (s && openflow_status(s->of) != 0) {
        s->ended = true;
        s = NULL;
    }

    int r = 0;
    if (!s) {
        r = wait_for_bridge_socket(path);
        struct openflow *of = NULL;
        if (r == 0)
            r = openflow_open(path, TIMEOUT_MS, &of);
        s = r == 0 ? calloc(1, sizeof(*s)) : NULL;
        if (r == 0 && !s) {
            openflow_close(of);
            r = -ENOMEM;
        }
        if (s) {
            snprintf(s->bridge, sizeof(s->bridge), "%s", bridge);
            s->of = of;
            s->next = o->sessions;
            o->sessions = s;
        }
    }
    if (s)
        *out = s->of;
    pthread_mutex_unlock(&o->sessions_lock);
    if (r < 0)
        log_errno(LOG_LEVEL_ERROR, r, "no OpenFlow session to bridge=%s at %s", bridge, path);
    return r;
}

static bool flows_job_joins(const struct batch_job *first, const struct batch_job *j)
{
    return ((const struct flows_job *)first)->of == ((const struct flows_job *)j)->of;
}

/* Runs one batch (jobs of one session) as one bundle; if that fails, each
 * job alone, so that each caller gets its own answer (a bundle is all or
 * nothing, so nothing of the failed one stayed). */
static void run_flows_batch(struct batch_job *batch, void *ctx)
{
    (void)ctx;
    size_t count = 0;
    for (struct batch_job *j = batch; j; j = j->next)
        count++;
    struct openflow_change *changes = calloc(count, sizeof(*changes));
    struct openflow *of = ((struct flows_job *)batch)->of;
    int r = -ENOMEM;
    if (changes) {
        size_t i = 0;
        for (struct batch_job *j = batch; j; j = j->next)
            changes[i++] = ((struct flows_job *)j)->change;
        r = openflow_apply(of, changes, count);
        free(changes);
    }
    for (struct batch_job *j = batch; j; j = j->next)
        j->result = r == 0 || count == 1 ? r : openflow_apply(of, &((struct flows_job *)j)->change, 1);
}

/* Applies CHANGE on OF, in a batch with whatever other ports are queued
 * for the same bridge.  Returns 0 or a negative errno. */
static int apply_flows(struct ovs *o, struct openflow *of, const struct openflow_change *change)
{
    struct flows_job job = { .of = of, .change = *change };
    return batcher_submit(&o->flows, &job.base);
}

/* A flow dropping what the port sends that matches the rest (priority
 * PRIORITY; ETH_TYPE 0: everything). */
static struct openflow_flow drop_flow(uint64_t cookie, uint16_t priority, uint32_t in_port,
                                      uint16_t eth_type, uint8_t ip_proto, int32_t udp_src,
                                      int32_t icmp_type)
{
    return (struct openflow_flow){ .cookie = cookie, .priority = priority, .in_port = in_port,
                                   .eth_type = eth_type, .ip_proto = ip_proto,
                                   .udp_src = udp_src, .icmp_type = icmp_type };
}

static int port_guards(struct vswitch *vs, const char *bridge, const struct vswitch_port_guards *g)
{
    struct ovs *o = (struct ovs *)vs;
    /* A new, active port with no guard has no flow and no flag to set. */
    if (g->fresh && g->active && g->spoofing_allowed && !g->dhcp_guard && !g->router_guard)
        return 0;
    struct openflow *of;
    int r = bridge_session(o, bridge, &of);
    if (r < 0)
        return r;
    /* The switch names the port's number once ovs-vswitchd has added it. */
    struct openflow_port port;
    r = openflow_port(of, g->name, TIMEOUT_MS, &port);
    if (r < 0)
        return log_errno(LOG_LEVEL_ERROR, r, "the switch did not show port=%s bridge=%s", g->name,
                         bridge);
    uint64_t cookie = port_cookie(g->name);
    uint32_t in = port.number;
    struct openflow_flow flows[8];
    size_t n = 0;
    if (!g->active)
        flows[n++] = drop_flow(cookie, 400, in, 0, 0, -1, -1);
    if (g->dhcp_guard) {
        flows[n++] = drop_flow(cookie, 300, in, 0x0800, 17, 67, -1);  /* DHCP server */
        flows[n++] = drop_flow(cookie, 300, in, 0x86dd, 17, 547, -1); /* DHCPv6 server */
    }
    if (g->router_guard) {
        flows[n++] = drop_flow(cookie, 300, in, 0x86dd, 58, -1, 134); /* router advertisement */
        flows[n++] = drop_flow(cookie, 300, in, 0x86dd, 58, -1, 137); /* ICMPv6 redirect */
        flows[n++] = drop_flow(cookie, 300, in, 0x0800, 1, -1, 5);    /* ICMP redirect */
    }
    if (!g->spoofing_allowed) {
        struct openflow_flow own = drop_flow(cookie, 200, in, 0, 0, -1, -1);
        own.has_eth_src = true;
        for (int i = 0; i < 6; i++)
            own.eth_src[i] = (uint8_t)(g->mac >> (40 - 8 * i));
        own.normal = true;
        flows[n++] = own;
        flows[n++] = drop_flow(cookie, 100, in, 0, 0, -1, -1);
    }
    /* One bundle: the port's old flows out, its new ones in, atomically. */
    struct openflow_change change = { .cookie = cookie, .flows = flows, .n_flows = n };
    r = apply_flows(o, of, &change);
    /* Frames forwarded to an inactive port are dropped too (OpenFlow's
     * no-forward port flag, which NORMAL honours). */
    if (r == 0 && !(g->fresh && g->active))
        r = openflow_port_forward(of, &port, g->active);
    if (r < 0)
        log_errno(LOG_LEVEL_ERROR, r, "cannot program the guards of port=%s bridge=%s: %s",
                  g->name, bridge, r == -EREMOTEIO ? openflow_last_error(of) : "");
    return r;
}

/* True once for each time the switch closed a bridge's OpenFlow session
 * (ovs-vswitchd restarted): its flows and port flags, the guards, went
 * with it, so every port's guards must be put back. */
static bool flows_lost(struct vswitch *vs)
{
    struct ovs *o = (struct ovs *)vs;
    bool lost = false;
    pthread_mutex_lock(&o->sessions_lock);
    for (struct session *s = o->sessions; s; s = s->next) {
        if (!s->ended && openflow_status(s->of) != 0)
            s->ended = true;
        if (s->ended && !s->forgotten) {
            s->forgotten = true;
            lost = true;
        }
    }
    pthread_mutex_unlock(&o->sessions_lock);
    return lost;
}

static int wait_change(struct vswitch *vs, int timeout_ms)
{
    struct ovs *o = (struct ovs *)vs;
    if (!o->watch) {
        int r = ovsdb_connect(o->address, TIMEOUT_MS, &o->watch);
        if (r < 0)
            return r;
        _cleanup_json_ struct json_object *requests = json_object_new_object();
        /* Not Bridge.ports: every port added would send the whole set of
         * the bridge's ports again (with a thousand ports, most of the
         * switch's time).  A port removed is a Port row deleted anyway. */
        const char *tables[][2] = { { "Bridge", NULL }, { "Port", "tag" }, { "Interface", "type" } };
        for (size_t i = 0; i < 3; i++) {
            struct json_object *req = json_object_new_object();
            json_object_object_add(req, "columns", string_list("name", tables[i][1]));
            if (i == 1) {
                struct json_object *cols = NULL;
                json_object_object_get_ex(req, "columns", &cols);
                json_object_array_add(cols, json_object_new_string("trunks"));
            }
            json_object_object_add(requests, tables[i][0], req);
        }
        struct json_object *initial = NULL;
        r = ovsdb_monitor(o->watch, DB, "lmnet", requests, &initial);
        json_object_put(initial);
        if (r < 0) {
            ovsdb_close(o->watch);
            o->watch = NULL;
            return r;
        }
    }
    struct json_object *update = NULL;
    int r = ovsdb_next_update(o->watch, timeout_ms, &update);
    json_object_put(update);
    if (r == -ETIMEDOUT)
        return 0;
    if (r < 0) { /* the server went away: reconnect next time */
        ovsdb_close(o->watch);
        o->watch = NULL;
        return r;
    }
    return 1;
}

static void destroy(struct vswitch *vs)
{
    struct ovs *o = (struct ovs *)vs;
    ovsdb_close(o->watch);
    ovsdb_close(o->ovsdb);
    pthread_mutex_destroy(&o->lock);
    batcher_destroy(&o->flows);
    batcher_destroy(&o->ports);
    for (struct session *s = o->sessions, *next; s; s = next) {
        next = s->next;
        openflow_close(s->of);
        free(s);
    }
    pthread_mutex_destroy(&o->sessions_lock);
    free(o);
}

static const struct vswitch_ops ovs_ops = {
    .name = "ovs",
    .destroy = destroy,
    .bridge_ensure = bridge_ensure,
    .bridge_delete = bridge_delete,
    .port_ensure = port_ensure,
    .port_delete = port_delete,
    .list = list,
    .port_guards = port_guards,
    .wait_change = wait_change,
    .flows_lost = flows_lost,
};

int vswitch_ovs_create(const char *address, const char *datapath_type, struct vswitch **out)
{
    struct ovs *o = calloc(1, sizeof(*o));
    if (!o)
        return -ENOMEM;
    o->base.ops = &ovs_ops;
    pthread_mutex_init(&o->lock, NULL);
    pthread_mutex_init(&o->sessions_lock, NULL);
    batcher_init(&o->flows, flows_job_joins, run_flows_batch, o);
    batcher_init(&o->ports, port_job_joins, run_port_batch, o);
    snprintf(o->address, sizeof(o->address), "%s", address);
    snprintf(o->datapath_type, sizeof(o->datapath_type), "%s", datapath_type);
    const char *path = strncmp(address, "unix:", 5) == 0 ? address + 5 : address;
    const char *slash = strrchr(path, '/');
    snprintf(o->rundir, sizeof(o->rundir), "%.*s", slash ? (int)(slash - path) : 1,
             slash ? path : ".");
    int r = ovsdb_connect(address, TIMEOUT_MS, &o->ovsdb);
    if (r < 0) {
        destroy(&o->base);
        return r;
    }
    *out = &o->base;
    return 0;
}

/* ---- dispatch ---- */

void vswitch_destroy(struct vswitch *vs)
{
    if (vs)
        vs->ops->destroy(vs);
}

int vswitch_bridge_ensure(struct vswitch *vs, const char *name)
{
    return vs->ops->bridge_ensure(vs, name);
}

int vswitch_bridge_delete(struct vswitch *vs, const char *name)
{
    return vs->ops->bridge_delete(vs, name);
}

int vswitch_port_ensure(struct vswitch *vs, const char *bridge, const struct vswitch_port_spec *spec)
{
    return vs->ops->port_ensure(vs, bridge, spec);
}

int vswitch_port_delete(struct vswitch *vs, const char *bridge, const char *name)
{
    return vs->ops->port_delete(vs, bridge, name);
}

int vswitch_list(struct vswitch *vs, struct vswitch_object **out, size_t *n)
{
    return vs->ops->list(vs, out, n);
}

int vswitch_port_guards(struct vswitch *vs, const char *bridge,
                        const struct vswitch_port_guards *guards)
{
    return vs->ops->port_guards(vs, bridge, guards);
}

int vswitch_wait_change(struct vswitch *vs, int timeout_ms)
{
    return vs->ops->wait_change(vs, timeout_ms);
}

bool vswitch_flows_lost(struct vswitch *vs)
{
    return vs->ops->flows_lost && vs->ops->flows_lost(vs);
}
