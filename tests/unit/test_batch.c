/* base/batch.c: each caller gets its own job's result; callers that come
 * while a batch runs are run together in the next one; jobs that do not
 * join the oldest wait for a batch of their own kind. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "base/batch.h"
#include "base/clock.h"

#define CALLERS 12

struct job {
    struct batch_job base;
    int kind;
    int id;
};

struct record {
    pthread_mutex_t lock;
    int batches;
    int largest;
    int jobs_run;
    int mixed;        /* batches that held jobs of two kinds */
    int concurrent;   /* run() calls overlapping another */
    int running;
    bool hold_first;  /* the first batch waits until every other caller queued */
    struct batcher *b;
};

static bool same_kind(const struct batch_job *first, const struct batch_job *j)
{
    return ((const struct job *)first)->kind == ((const struct job *)j)->kind;
}

static void run(struct batch_job *batch, void *ctx)
{
    struct record *rec = ctx;
    pthread_mutex_lock(&rec->lock);
    rec->concurrent += rec->running > 0;
    rec->running++;
    bool first = rec->batches++ == 0;
    pthread_mutex_unlock(&rec->lock);
    for (int waited = 0; first && rec->hold_first && waited < 10000; waited++) {
        pthread_mutex_lock(&rec->b->lock);
        int queued = 0;
        for (struct batch_job *j = rec->b->queue; j; j = j->next)
            queued++;
        pthread_mutex_unlock(&rec->b->lock);
        if (queued == CALLERS - 1)
            break;
        clock_sleep_ms(1);
    }
    int n = 0, kind = ((struct job *)batch)->kind;
    bool mixed = false;
    for (struct batch_job *j = batch; j; j = j->next) {
        struct job *job = (struct job *)j;
        j->result = 1000 + job->id; /* each job's own answer */
        mixed |= job->kind != kind;
        n++;
    }
    clock_sleep_ms(2);
    pthread_mutex_lock(&rec->lock);
    rec->running--;
    rec->jobs_run += n;
    rec->mixed += mixed;
    if (n > rec->largest)
        rec->largest = n;
    pthread_mutex_unlock(&rec->lock);
}

struct caller {
    struct batcher *b;
    int kind;
    int id;
    int result;
    int delay_ms;
};

static void *call(void *arg)
{
    struct caller *c = arg;
    clock_sleep_ms(c->delay_ms);
    struct job job = { .kind = c->kind, .id = c->id };
    c->result = batcher_submit(c->b, &job.base);
    return NULL;
}

/* Runs CALLERS callers of KINDS kinds through one batcher; each must get
 * its own job's answer, every job must run once, one batch at a time. */
static void run_callers(struct record *rec, bool (*joins)(const struct batch_job *, const struct batch_job *),
                        int kinds)
{
    struct batcher b;
    batcher_init(&b, joins, run, rec);
    rec->b = &b;
    struct caller callers[CALLERS];
    pthread_t t[CALLERS];
    for (int i = 0; i < CALLERS; i++) {
        /* The first caller leads at once; the rest come while it runs. */
        callers[i] = (struct caller){ .b = &b, .kind = i % kinds, .id = i, .delay_ms = i ? 20 : 0 };
        assert_int_equal(pthread_create(&t[i], NULL, call, &callers[i]), 0);
    }
    for (int i = 0; i < CALLERS; i++)
        pthread_join(t[i], NULL);
    batcher_destroy(&b);
    for (int i = 0; i < CALLERS; i++)
        assert_int_equal(callers[i].result, 1000 + i);
    assert_int_equal(rec->jobs_run, CALLERS);
    assert_int_equal(rec->concurrent, 0); /* one batch at a time */
}

static void test_alone(void **state)
{
    (void)state;
    struct record rec = { .lock = PTHREAD_MUTEX_INITIALIZER };
    struct batcher b;
    batcher_init(&b, NULL, run, &rec);
    struct job job = { .id = 7 };
    assert_int_equal(batcher_submit(&b, &job.base), 1007);
    assert_int_equal(batcher_submit(&b, &job.base), 1007); /* a job can go again */
    assert_int_equal(rec.batches, 2);
    assert_int_equal(rec.largest, 1);
    batcher_destroy(&b);
}

static void test_callers_share_a_batch(void **state)
{
    (void)state;
    struct record rec = { .lock = PTHREAD_MUTEX_INITIALIZER, .hold_first = true };
    run_callers(&rec, NULL, 1);
    /* All but the first came while it ran: they went in one batch. */
    assert_int_equal(rec.batches, 2);
    assert_int_equal(rec.largest, CALLERS - 1);
}

static void test_kinds_do_not_mix(void **state)
{
    (void)state;
    struct record rec = { .lock = PTHREAD_MUTEX_INITIALIZER, .hold_first = true };
    run_callers(&rec, same_kind, 2);
    assert_int_equal(rec.mixed, 0);
    /* The first alone, then each kind's waiting jobs together. */
    assert_int_equal(rec.batches, 3);
    assert_int_equal(rec.largest, CALLERS / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alone),
        cmocka_unit_test(test_callers_share_a_batch),
        cmocka_unit_test(test_kinds_do_not_mix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
