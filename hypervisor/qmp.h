/* QMP, the QEMU Machine Protocol: the one place that builds and parses QMP
 * JSON (as libvirt's qemu_monitor_json.c is for libvirt).
 *
 * A connection is a unix stream socket to one QEMU.  Opening it reads QEMU's
 * greeting ({"QMP": {"version": ...}}) and negotiates with qmp_capabilities;
 * after that the typed calls below may be used.  Each call sends
 * {"execute": ..., "arguments": ..., "id": N} and reads until the reply
 * carrying the same id.  Events QEMU sends in between (MIGRATION, STOP,
 * RESUME, ...) are queued for qmp_next_event(); a reply with another id (the
 * late answer to a call that timed out) is dropped.  Messages are framed by
 * the newline QEMU writes after each one.
 *
 * Every call has a deadline: the connection's timeout covers the whole call
 * (write and every read), so a QEMU that hangs cannot hang the agent.
 *
 * Errors, as negative errno:
 *   -ETIMEDOUT   no reply before the deadline (the connection stays usable);
 *   -ECONNRESET  the peer closed (QEMU exited); every later call fails so;
 *   -EPROTO      the peer sent something that is not QMP; every later call
 *                fails so;
 *   -EOPNOTSUPP  QEMU does not know the command (CommandNotFound);
 *   -EREMOTEIO   QEMU refused the command; qmp_last_error() says why.
 *
 * Threads: one mutex per connection serialises the calls; a call holds it
 * until its reply arrives, qmp_next_event() until an event or its timeout.
 * Nothing here logs an error: the caller logs it once, where it is handled. */
#ifndef LMNET_MIGRATE_QMP_H
#define LMNET_MIGRATE_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct qmp;

/* QEMU's RunState (query-status, STOP/RESUME): what the VM is doing. */
enum qmp_run_state {
    QMP_RUN_STATE_UNKNOWN, /* a name this file does not know */
    QMP_RUN_STATE_DEBUG,
    QMP_RUN_STATE_INMIGRATE,
    QMP_RUN_STATE_INTERNAL_ERROR,
    QMP_RUN_STATE_IO_ERROR,
    QMP_RUN_STATE_PAUSED,
    QMP_RUN_STATE_POSTMIGRATE,
    QMP_RUN_STATE_PRELAUNCH,
    QMP_RUN_STATE_FINISH_MIGRATE,
    QMP_RUN_STATE_RESTORE_VM,
    QMP_RUN_STATE_RUNNING,
    QMP_RUN_STATE_SAVE_VM,
    QMP_RUN_STATE_SHUTDOWN,
    QMP_RUN_STATE_SUSPENDED,
    QMP_RUN_STATE_WATCHDOG,
    QMP_RUN_STATE_GUEST_PANICKED,
    QMP_RUN_STATE_COLO,
    QMP_RUN_STATE_COUNT,
};

/* QEMU's name for STATE ("running", "inmigrate", ...; "unknown"). */
const char *qmp_run_state_to_string(enum qmp_run_state state);
/* The state called NAME, or QMP_RUN_STATE_UNKNOWN. */
enum qmp_run_state qmp_run_state_from_string(const char *name);

/* QEMU's MigrationStatus (query-migrate, the MIGRATION event). */
enum qmp_migration_status {
    QMP_MIGRATION_UNKNOWN, /* a name this file does not know */
    QMP_MIGRATION_NONE,
    QMP_MIGRATION_SETUP,
    QMP_MIGRATION_CANCELLING,
    QMP_MIGRATION_CANCELLED,
    QMP_MIGRATION_ACTIVE,
    QMP_MIGRATION_POSTCOPY_ACTIVE,
    QMP_MIGRATION_POSTCOPY_PAUSED,
    QMP_MIGRATION_POSTCOPY_RECOVER,
    QMP_MIGRATION_COMPLETED,
    QMP_MIGRATION_FAILED,
    QMP_MIGRATION_COLO,
    QMP_MIGRATION_PRE_SWITCHOVER,
    QMP_MIGRATION_DEVICE,
    QMP_MIGRATION_WAIT_UNPLUG,
    QMP_MIGRATION_STATUS_COUNT,
};

/* QEMU's name for STATUS ("active", "pre-switchover", ...; "unknown"). */
const char *qmp_migration_status_to_string(enum qmp_migration_status status);
/* The status called NAME, or QMP_MIGRATION_UNKNOWN. */
enum qmp_migration_status qmp_migration_status_from_string(const char *name);

/* The migration capabilities lmnet sets (MigrationCapability). */
enum qmp_migration_capability {
    QMP_CAPABILITY_XBZRLE,
    QMP_CAPABILITY_AUTO_CONVERGE,
    QMP_CAPABILITY_EVENTS,
    QMP_CAPABILITY_POSTCOPY_RAM,
    QMP_CAPABILITY_RETURN_PATH,
    QMP_CAPABILITY_PAUSE_BEFORE_SWITCHOVER,
    QMP_CAPABILITY_MULTIFD,
    QMP_CAPABILITY_VALIDATE_UUID,
    QMP_CAPABILITY_ZERO_COPY_SEND,
    QMP_CAPABILITY_COUNT,
};

/* QEMU's name for CAPABILITY ("multifd", "pause-before-switchover", ...). */
const char *qmp_migration_capability_to_string(enum qmp_migration_capability capability);

struct qmp_capability_setting {
    enum qmp_migration_capability capability;
    bool state;
};

/* query-status. */
struct qmp_status {
    bool running;
    enum qmp_run_state state;
};

/* migrate-set-parameters: only the fields that are set are sent. */
struct qmp_migration_parameters {
    int64_t downtime_limit_ms; /* < 0: leave as is */
    int64_t max_bandwidth;     /* bytes per second; < 0: leave as is */
    int multifd_channels;      /* 1-255; 0: leave as is */
    int64_t announce_initial_ms; /* delay of the first MAC announcement after
                                    an incoming migration; <= 0: leave as is */
};

/* query-migrate.  Times are -1 when QEMU did not report them (they depend on
 * the status); has_ram says whether the ram figures were reported. */
struct qmp_migration_info {
    enum qmp_migration_status status; /* QMP_MIGRATION_NONE before any migration */
    bool has_ram;
    uint64_t ram_transferred;  /* bytes */
    uint64_t ram_remaining;    /* bytes */
    uint64_t ram_total;        /* bytes */
    uint64_t ram_duplicate;    /* zero pages */
    uint64_t ram_normal;       /* pages sent whole */
    uint64_t ram_normal_bytes; /* bytes */
    uint64_t dirty_pages_rate; /* pages per second the guest dirties */
    uint64_t dirty_sync_count; /* rounds so far */
    uint64_t page_size;        /* bytes */
    uint64_t multifd_bytes;
    uint64_t pages_per_second;
    uint64_t precopy_bytes;
    uint64_t downtime_bytes;
    double mbps;               /* throughput, megabits per second */
    int64_t total_time_ms;
    int64_t setup_time_ms;
    int64_t expected_downtime_ms;
    int64_t downtime_ms;       /* only once completed */
    int64_t cpu_throttle_percentage; /* auto-converge's throttle; 0 when none */
    char error_desc[256];      /* QEMU's reason when failed, else "" */
};

/* announce-self: gratuitous RARPs from every NIC, after a migration. */
struct qmp_announce {
    int64_t initial_ms; /* delay before the first round */
    int64_t max_ms;     /* longest delay between rounds */
    int64_t rounds;
    int64_t step_ms;    /* delay increase per round */
};

enum qmp_event_type {
    QMP_EVENT_MIGRATION,      /* migration_status is set */
    QMP_EVENT_MIGRATION_PASS, /* pass is set */
    QMP_EVENT_STOP,
    QMP_EVENT_RESUME,
    QMP_EVENT_SHUTDOWN,
    QMP_EVENT_OTHER,          /* see name */
};

struct qmp_event {
    enum qmp_event_type type;
    char name[64];        /* QEMU's event name, e.g. "MIGRATION" */
    int64_t timestamp_us; /* QEMU's clock when it sent the event; 0 unknown */
    enum qmp_migration_status migration_status;
    int64_t pass;
};

/* Connects to the QMP socket at PATH, retrying while it does not exist yet
 * or refuses (QEMU is starting), then reads the greeting and negotiates.
 * TIMEOUT_MS bounds all of it and becomes the connection's call timeout.
 * Returns 0 and *out (the caller destroys it with qmp_close()), or a
 * negative errno. */
int qmp_connect(const char *path, int timeout_ms, struct qmp **out);

/* As qmp_connect(), on FD, an already connected stream socket.  FD is the
 * connection's from now on, even on failure. */
int qmp_open(int fd, int timeout_ms, struct qmp **out);

/* Closes the socket and frees the queue.  NULL is a no-op. */
void qmp_close(struct qmp *qmp);

/* Sets the deadline of each later call, in milliseconds (> 0). */
void qmp_set_timeout(struct qmp *qmp, int timeout_ms);

/* QEMU's version from the greeting. */
void qmp_version(const struct qmp *qmp, int *major, int *minor, int *micro);

/* The class and description of the last error QEMU answered on this
 * connection ("GenericError: ..."), copied into BUF (SIZE bytes); "" when
 * there was none. */
void qmp_last_error(struct qmp *qmp, char *buf, size_t size);

/* query-status.  Returns 0 and *out, or a negative errno. */
int qmp_query_status(struct qmp *qmp, struct qmp_status *out);

/* query-kvm: *enabled when the guest runs under KVM (false: TCG).  Returns
 * 0 or a negative errno. */
int qmp_query_kvm(struct qmp *qmp, bool *enabled);

/* stop (pause the vCPUs) and cont (run them).  Return 0 or a negative
 * errno. */
int qmp_stop(struct qmp *qmp);
int qmp_cont(struct qmp *qmp);

/* quit: QEMU exits.  Returns 0 when QEMU acknowledged or closed the socket,
 * else a negative errno.  Later calls fail with -ECONNRESET. */
int qmp_quit(struct qmp *qmp);

/* migrate-set-capabilities with the N SETTINGS.  Returns 0 or a negative
 * errno. */
int qmp_migrate_set_capabilities(struct qmp *qmp, const struct qmp_capability_setting *settings,
                                 size_t n);

/* migrate-set-parameters with the fields of PARAMETERS that are set.
 * Returns 0 (also when none is set) or a negative errno; -EINVAL when
 * multifd_channels is out of range. */
int qmp_migrate_set_parameters(struct qmp *qmp, const struct qmp_migration_parameters *parameters);

/* getfd: hands QEMU a copy of the descriptor FD (a connected socket), which
 * it keeps under NAME for a later "fd:NAME" URI.  The caller still owns FD.
 * Returns 0 or a negative errno (-EINVAL for an empty NAME or FD < 0). */
int qmp_getfd(struct qmp *qmp, const char *name, int fd);

/* migrate to URI ("tcp:HOST:PORT", "unix:PATH", "fd:NAME", ...).  Returns when QEMU has
 * started the migration (it runs in the background): 0 or a negative
 * errno. */
int qmp_migrate(struct qmp *qmp, const char *uri);

/* migrate-incoming on a QEMU started with -incoming defer: listen on URI.
 * Returns 0 or a negative errno. */
int qmp_migrate_incoming(struct qmp *qmp, const char *uri);

/* query-migrate.  Returns 0 and *out, or a negative errno.  A completed
 * migration comes with its totals: QEMU reports "completed" a moment before
 * it has computed total-time and downtime, and is asked again meanwhile (up
 * to 1 s; after that *out holds what QEMU said). */
int qmp_query_migrate(struct qmp *qmp, struct qmp_migration_info *out);

/* migrate-continue: lets a migration paused in STATE (normally
 * QMP_MIGRATION_PRE_SWITCHOVER) go on.  Returns 0 or a negative errno. */
int qmp_migrate_continue(struct qmp *qmp, enum qmp_migration_status state);

/* migrate-start-postcopy: a running migration with the postcopy-ram
 * capability switches to post-copy.  Returns 0 or a negative errno. */
int qmp_migrate_start_postcopy(struct qmp *qmp);

/* migrate_cancel.  Returns 0 or a negative errno. */
int qmp_migrate_cancel(struct qmp *qmp);

/* announce-self with PARAMETERS, or QEMU's defaults (50 ms, 550 ms, 5
 * rounds, 100 ms step) when NULL.  Returns 0 or a negative errno. */
int qmp_announce_self(struct qmp *qmp, const struct qmp_announce *parameters);

/* Takes the oldest queued event into *out, reading from the socket for up to
 * TIMEOUT_MS when none is queued (0: only what has already arrived).
 * Returns 0, -ETIMEDOUT when no event came, or a negative errno. */
int qmp_next_event(struct qmp *qmp, int timeout_ms, struct qmp_event *out);

/* Events lost because the queue was full (the oldest are dropped). */
uint64_t qmp_events_dropped(struct qmp *qmp);

#endif
