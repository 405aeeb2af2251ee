/* Group commit: callers that want the same kind of work done side by side
 * queue a job each; the first caller that finds no batch running takes
 * every queued job that joins the first one and runs them together (one
 * OVSDB transaction, one OpenFlow bundle); the others wait for it.  Each
 * caller gets its own job's result.
 *
 * A job is embedded in the caller's own structure (on its stack): the
 * batcher never allocates.  run() sees the batch as a list through
 * job->next and sets each job's result; it runs with no lock held. */
#ifndef LMNET_AGENT_BATCH_H
#define LMNET_AGENT_BATCH_H

#include <pthread.h>
#include <stdbool.h>

struct batch_job {
    struct batch_job *next;
    int result;
    bool done;
};

struct batcher {
    pthread_mutex_t lock; /* guards queue and running */
    pthread_cond_t done;
    struct batch_job *queue;
    bool running;
    /* Whether J may run in the same batch as FIRST (the oldest queued). */
    bool (*joins)(const struct batch_job *first, const struct batch_job *j);
    void (*run)(struct batch_job *batch, void *ctx);
    void *ctx;
};

void batcher_init(struct batcher *b,
                  bool (*joins)(const struct batch_job *first, const struct batch_job *j),
                  void (*run)(struct batch_job *batch, void *ctx), void *ctx);
void batcher_destroy(struct batcher *b);

/* Queues JOB, runs it (in a batch of its own or of others' making) and
 * returns its result. */
int batcher_submit(struct batcher *b, struct batch_job *job);

#endif
