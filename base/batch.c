/* Group commit: see base/batch.h. */
#include "base/batch.h"

#include <stddef.h>

void batcher_init(struct batcher *b,
                  bool (*joins)(const struct batch_job *first, const struct batch_job *j),
                  void (*run)(struct batch_job *batch, void *ctx), void *ctx)
{
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->done, NULL);
    b->queue = NULL;
    b->running = false;
    b->joins = joins;
    b->run = run;
    b->ctx = ctx;
}

void batcher_destroy(struct batcher *b)
{
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->done);
}

/* Takes from the queue the oldest job and every job that joins it, in
 * order.  Called with the lock held. */
static struct batch_job *take_batch(struct batcher *b)
{
    struct batch_job *first = b->queue, *batch = NULL, **tail = &batch;
    struct batch_job **q = &b->queue;
    while (*q) {
        struct batch_job *j = *q;
        if (j == first || !b->joins || b->joins(first, j)) {
            *q = j->next;
            j->next = NULL;
            *tail = j;
            tail = &j->next;
        } else {
            q = &j->next;
        }
    }
    return batch;
}

int batcher_submit(struct batcher *b, struct batch_job *job)
{
    job->next = NULL;
    job->done = false;
    job->result = 0;
    pthread_mutex_lock(&b->lock);
    struct batch_job **tail = &b->queue;
    while (*tail)
        tail = &(*tail)->next;
    *tail = job;
    while (!job->done) {
        if (b->running) {
            pthread_cond_wait(&b->done, &b->lock);
            continue;
        }
        /* Lead a batch (not always one holding our own job: an older
         * job of another kind goes first, and ours waits its turn). */
        b->running = true;
        struct batch_job *batch = take_batch(b);
        pthread_mutex_unlock(&b->lock);
        b->run(batch, b->ctx);
        pthread_mutex_lock(&b->lock);
        for (struct batch_job *j = batch, *next; j; j = next) {
            next = j->next;
            j->done = true;
        }
        b->running = false;
        pthread_cond_broadcast(&b->done);
    }
    int r = job->result;
    pthread_mutex_unlock(&b->lock);
    return r;
}
