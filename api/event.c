/* GET /v1/events?after=CURSOR&limit=N&kind=K: events oldest first; "next" is
 * the cursor to pass as "after" for the following page, null at the end.
 *
 * &wait=SECONDS (1-EVENT_MAX_WAIT_S) makes it a long poll: when nothing
 * comes after CURSOR yet, the answer waits until something does or the
 * time is up (then an empty page), so "lmnetctl events --follow" sees a
 * new event within a tenth of a second without asking ten times a second.
 * The waiting request holds its HTTP thread (one per connection by default;
 * with "threads = N" one of the N), and reads the database every 100 ms. */
#include "api/event.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "agent/agent.h"
#include "base/clock.h"
#include "db/event.h"

static int parse_number(const char *s, long long min, long long max, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !*s || *end || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

#define EVENT_MAX_WAIT_S 10
#define EVENT_POLL_MS 100

static int list_events(struct request *req, struct response *resp)
{
    long long after = 0, limit = 100;
    const char *s = request_query(req, "after");
    if (s && parse_number(s, 0, INT64_MAX, &after) < 0)
        return response_problem(resp, 400, "invalid-query", NULL,
                                "'after' must be a cursor from a previous page's 'next'");
    s = request_query(req, "limit");
    if (s && parse_number(s, 1, 1000, &limit) < 0)
        return response_problem(resp, 400, "invalid-query", NULL, "'limit' must be 1 to 1000");
    long long wait_s = 0;
    s = request_query(req, "wait");
    if (s && parse_number(s, 0, EVENT_MAX_WAIT_S, &wait_s) < 0)
        return response_problem(resp, 400, "invalid-query", NULL, "'wait' must be 0 to %d seconds",
                                EVENT_MAX_WAIT_S);
    struct db *db = db_pool_get(req->agent->db);
    if (!db)
        return -EIO;
    struct event *events = NULL;
    size_t n = 0;
    int64_t deadline = clock_mono_ms() + wait_s * 1000;
    int r;
    for (;;) {
        /* One more than asked tells whether there is a next page. */
        r = event_list(db, after, request_query(req, "kind"), (int)limit + 1, &events, &n);
        if (r < 0)
            return r;
        if (n > 0 || clock_mono_ms() >= deadline)
            break;
        event_list_free(events, n);
        events = NULL;
        clock_sleep_ms(EVENT_POLL_MS);
    }
    struct json_object *items = json_object_new_array();
    size_t shown = n > (size_t)limit ? (size_t)limit : n;
    for (size_t i = 0; i < shown; i++)
        json_object_array_add(items, event_to_json(&events[i]));
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "items", items);
    if (n > shown) {
        char cursor[24];
        snprintf(cursor, sizeof(cursor), "%lld", (long long)events[shown - 1].id);
        json_object_object_add(body, "next", json_object_new_string(cursor));
    } else {
        json_object_object_add(body, "next", NULL);
    }
    event_list_free(events, n);
    return response_json(resp, 200, body);
}

const struct route event_routes[] = {
    { HTTP_GET, "/v1/events", SCOPE_READ, list_events },
    { 0, NULL, 0, NULL },
};
