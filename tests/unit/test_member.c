/* Unit tests for db/member.c: upsert (new, update, URL conflict), get, list
 * order, delete, replace_all (and its rollback), the JSON form both ways,
 * member credentials and one-time join tokens (db/join_token.c,
 * agent/credential.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include "agent/credential.h"
#include "base/log.h"
#include "db/join_token.h"
#include "db/member.h"

#define UUID_A "aaaaaaaa-0000-4000-8000-000000000001"
#define UUID_B "bbbbbbbb-0000-4000-8000-000000000002"
#define UUID_C "cccccccc-0000-4000-8000-000000000003"

static int setup(void **state)
{
    log_set_level(LOG_LEVEL_ERROR);
    struct db *db = NULL;
    if (db_open(":memory:", &db) < 0)
        return -1;
    *state = db;
    return 0;
}

static int teardown(void **state)
{
    db_close(*state);
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct member make(const char *uuid, const char *name, const char *url, bool registry,
                          int64_t joined, int64_t seen)
{
    struct member m;
    memset(&m, 0, sizeof(m));
    snprintf(m.uuid, sizeof(m.uuid), "%s", uuid);
    snprintf(m.name, sizeof(m.name), "%s", name);
    snprintf(m.url, sizeof(m.url), "%s", url);
    m.registry = registry;
    m.joined_ms = joined;
    m.last_seen_ms = seen;
    return m;
}

static void assert_member(const struct member *got, const struct member *want)
{
    assert_string_equal(got->uuid, want->uuid);
    assert_string_equal(got->name, want->name);
    assert_string_equal(got->url, want->url);
    assert_int_equal(got->registry, want->registry);
    assert_int_equal(got->joined_ms, want->joined_ms);
    assert_int_equal(got->last_seen_ms, want->last_seen_ms);
}

static size_t count(struct db *db)
{
    struct member *list = NULL;
    size_t n = 0;
    assert_int_equal(member_list(db, &list, &n), 0);
    free(list);
    return n;
}

static void test_upsert(void **state)
{
    struct db *db = *state;
    struct member a = make(UUID_A, "hv-a", "http://10.0.0.1:8470", true, 1000, 2000);
    assert_int_equal(member_upsert(db, &a), 1);
    struct member got;
    assert_int_equal(member_get(db, UUID_A, &got), 0);
    assert_member(&got, &a);

    /* Update: everything but joined_ms changes. */
    struct member a2 = make(UUID_A, "hv-a-renamed", "http://10.0.0.9:8470", false, 5555, 3000);
    assert_int_equal(member_upsert(db, &a2), 0);
    assert_int_equal(member_get(db, UUID_A, &got), 0);
    assert_string_equal(got.name, "hv-a-renamed");
    assert_string_equal(got.url, "http://10.0.0.9:8470");
    assert_false(got.registry);
    assert_int_equal(got.last_seen_ms, 3000);
    assert_int_equal(got.joined_ms, 1000);
    assert_int_equal(count(db), 1);

    /* Keeping its own URL is no conflict. */
    assert_int_equal(member_upsert(db, &a2), 0);

    /* joined_ms 0 means "now". */
    int64_t before = now_ms();
    struct member b = make(UUID_B, "hv-b", "http://10.0.0.2:8470", false, 0, 0);
    assert_int_equal(member_upsert(db, &b), 1);
    int64_t after = now_ms();
    assert_int_equal(member_get(db, UUID_B, &got), 0);
    assert_true(got.joined_ms >= before && got.joined_ms <= after);
    assert_int_equal(got.last_seen_ms, 0);
    assert_int_equal(count(db), 2);
    assert_int_equal(sqlite3_get_autocommit(db_sqlite(db)), 1);
}

static void test_url_conflict(void **state)
{
    struct db *db = *state;
    struct member a = make(UUID_A, "hv-a", "http://10.0.0.1:8470", false, 1000, 0);
    struct member b = make(UUID_B, "hv-b", "http://10.0.0.2:8470", false, 1000, 0);
    assert_int_equal(member_upsert(db, &a), 1);
    assert_int_equal(member_upsert(db, &b), 1);

    /* A new member with A's URL. */
    struct member c = make(UUID_C, "hv-c", "http://10.0.0.1:8470", false, 1000, 0);
    assert_int_equal(member_upsert(db, &c), -EEXIST);
    struct member got;
    assert_int_equal(member_get(db, UUID_C, &got), -ENOENT);

    /* An existing member moving onto another's URL. */
    struct member b2 = make(UUID_B, "hv-b", "http://10.0.0.1:8470", false, 1000, 0);
    assert_int_equal(member_upsert(db, &b2), -EEXIST);
    assert_int_equal(member_get(db, UUID_B, &got), 0);
    assert_string_equal(got.url, "http://10.0.0.2:8470");
    assert_int_equal(count(db), 2);
    /* The failed upserts left no transaction open. */
    assert_int_equal(sqlite3_get_autocommit(db_sqlite(db)), 1);
    assert_int_equal(db_begin(db), 0);
    assert_int_equal(db_commit(db), 0);
}

static void test_list_order(void **state)
{
    struct db *db = *state;
    struct member ms[] = {
        make(UUID_C, "charlie", "http://c", false, 1, 0),
        make(UUID_A, "alpha", "http://a", false, 1, 0),
        make(UUID_B, "zulu", "http://z", true, 1, 0), /* the registry comes first */
        make("dddddddd-0000-4000-8000-000000000004", "alpha", "http://a2", false, 1, 0),
    };
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
        assert_int_equal(member_upsert(db, &ms[i]), 1);
    struct member *list = NULL;
    size_t n = 0;
    assert_int_equal(member_list(db, &list, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(list[0].name, "zulu");
    assert_true(list[0].registry);
    assert_string_equal(list[1].uuid, UUID_A); /* alpha, then by uuid */
    assert_string_equal(list[2].uuid, "dddddddd-0000-4000-8000-000000000004");
    assert_string_equal(list[3].name, "charlie");
    free(list);
}

static void test_empty_list_and_delete(void **state)
{
    struct db *db = *state;
    struct member *list = (struct member *)1;
    size_t n = 99;
    assert_int_equal(member_list(db, &list, &n), 0);
    assert_int_equal(n, 0);
    free(list);

    struct member got;
    assert_int_equal(member_get(db, UUID_A, &got), -ENOENT);
    assert_int_equal(member_delete(db, UUID_A), -ENOENT);

    struct member a = make(UUID_A, "hv-a", "http://a", false, 1, 0);
    struct member b = make(UUID_B, "hv-b", "http://b", false, 1, 0);
    assert_int_equal(member_upsert(db, &a), 1);
    assert_int_equal(member_upsert(db, &b), 1);
    assert_int_equal(member_delete(db, UUID_A), 0);
    assert_int_equal(member_get(db, UUID_A, &got), -ENOENT);
    assert_int_equal(member_delete(db, UUID_A), -ENOENT);
    assert_int_equal(member_get(db, UUID_B, &got), 0);
    assert_int_equal(count(db), 1);

    /* Its URL is free again. */
    struct member c = make(UUID_C, "hv-c", "http://a", false, 1, 0);
    assert_int_equal(member_upsert(db, &c), 1);
}

static void test_replace_all(void **state)
{
    struct db *db = *state;
    struct member old[] = {
        make(UUID_A, "hv-a", "http://a", true, 10, 0),
        make(UUID_B, "hv-b", "http://b", false, 20, 0),
    };
    assert_int_equal(member_replace_all(db, old, 2), 0);
    assert_int_equal(count(db), 2);

    /* A new list: B gone, C new, A's and C's URLs swapped from before. */
    struct member fresh[] = {
        make(UUID_A, "hv-a", "http://b", true, 10, 111),
        make(UUID_C, "hv-c", "http://a", false, 30, 0),
    };
    assert_int_equal(member_replace_all(db, fresh, 2), 0);
    struct member *list = NULL;
    size_t n = 0;
    assert_int_equal(member_list(db, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_member(&list[0], &fresh[0]);
    assert_member(&list[1], &fresh[1]);
    free(list);
    struct member got;
    assert_int_equal(member_get(db, UUID_B, &got), -ENOENT);

    /* A list with a URL conflict is refused whole: the table is unchanged. */
    struct member bad[] = {
        make(UUID_A, "x", "http://same", false, 1, 0),
        make(UUID_B, "y", "http://same", false, 1, 0),
    };
    assert_int_equal(member_replace_all(db, bad, 2), -EEXIST);
    assert_int_equal(member_list(db, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_member(&list[0], &fresh[0]);
    assert_member(&list[1], &fresh[1]);
    free(list);
    assert_int_equal(sqlite3_get_autocommit(db_sqlite(db)), 1);

    /* Inside a caller's transaction it is part of that transaction. */
    assert_int_equal(db_begin(db), 0);
    assert_int_equal(member_replace_all(db, NULL, 0), 0);
    assert_int_equal(count(db), 0);
    db_rollback(db);
    assert_int_equal(count(db), 2);

    /* An empty list empties the table. */
    assert_int_equal(member_replace_all(db, NULL, 0), 0);
    assert_int_equal(count(db), 0);
}

static void test_upsert_in_outer_transaction(void **state)
{
    struct db *db = *state;
    struct member a = make(UUID_A, "hv-a", "http://a", false, 1, 0);
    struct member c = make(UUID_C, "hv-c", "http://a", false, 1, 0);
    assert_int_equal(db_begin(db), 0);
    assert_int_equal(member_upsert(db, &a), 1);
    /* A failed upsert undoes only its own savepoint. */
    assert_int_equal(member_upsert(db, &c), -EEXIST);
    assert_int_equal(sqlite3_get_autocommit(db_sqlite(db)), 0);
    assert_int_equal(db_commit(db), 0);
    struct member got;
    assert_int_equal(member_get(db, UUID_A, &got), 0);
    assert_int_equal(member_get(db, UUID_C, &got), -ENOENT);
}

static const char *string_of(struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v))
        fail_msg("no '%s'", key);
    return json_object_get_string(v);
}

static void test_json(void **state)
{
    (void)state;
    /* 1700000000123 ms is 2023-11-14T22:13:20.123Z. */
    struct member m = make(UUID_A, "hv-a", "https://10.0.0.1:8470", true, 1700000000123LL, 0);
    struct json_object *obj = member_to_json(&m);
    assert_int_equal(json_object_object_length(obj), 6);
    assert_string_equal(string_of(obj, "id"), UUID_A);
    assert_string_equal(string_of(obj, "name"), "hv-a");
    assert_string_equal(string_of(obj, "url"), "https://10.0.0.1:8470");
    assert_true(json_object_get_boolean(json_object_object_get(obj, "registry")));
    assert_string_equal(string_of(obj, "joined"), "2023-11-14T22:13:20Z");
    struct json_object *seen = (struct json_object *)1;
    assert_true(json_object_object_get_ex(obj, "last_seen", &seen));
    assert_null(seen); /* never seen: null */

    /* Back again, also through text as a peer would receive it. */
    struct json_object *wire = json_tokener_parse(json_object_to_json_string(obj));
    assert_non_null(wire);
    struct member back;
    memset(&back, 0x55, sizeof(back));
    assert_int_equal(member_from_json(wire, &back), 0);
    assert_string_equal(back.uuid, UUID_A);
    assert_string_equal(back.name, "hv-a");
    assert_string_equal(back.url, "https://10.0.0.1:8470");
    assert_true(back.registry);
    /* The JSON form carries whole seconds. */
    assert_int_equal(back.joined_ms, 1700000000000LL);
    assert_int_equal(back.last_seen_ms, 0);
    json_object_put(wire);
    json_object_put(obj);

    /* last_seen set; registry false. */
    m = make(UUID_B, "hv-b", "http://b", false, 86400000, 1700000001999LL);
    obj = member_to_json(&m);
    assert_string_equal(string_of(obj, "joined"), "1970-01-02T00:00:00Z");
    assert_string_equal(string_of(obj, "last_seen"), "2023-11-14T22:13:21Z");
    assert_false(json_object_get_boolean(json_object_object_get(obj, "registry")));
    assert_int_equal(member_from_json(obj, &back), 0);
    assert_false(back.registry);
    assert_int_equal(back.joined_ms, 86400000);
    assert_int_equal(back.last_seen_ms, 1700000001000LL);
    json_object_put(obj);
}

static void test_json_refused(void **state)
{
    (void)state;
    struct member out;
    const char *bad[] = {
        "{\"name\":\"n\",\"url\":\"http://a\"}",                 /* no id */
        "{\"id\":\"" UUID_A "\",\"url\":\"http://a\"}",          /* no name */
        "{\"id\":\"" UUID_A "\",\"name\":\"n\"}",                /* no url */
        "{\"id\":5,\"name\":\"n\",\"url\":\"http://a\"}",        /* id not a string */
        "{\"id\":\"" UUID_A "x\",\"name\":\"n\",\"url\":\"u\"}", /* id too long */
        "{\"id\":\"" UUID_A "\",\"name\":null,\"url\":\"u\"}",
        "{\"id\":\"" UUID_A "\",\"name\":\"n\",\"url\":\"u\",\"joined\":\"yesterday\"}",
        "{\"id\":\"" UUID_A "\",\"name\":\"n\",\"url\":\"u\",\"last_seen\":\"2023-11-14\"}",
        "[]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct json_object *obj = json_tokener_parse(bad[i]);
        assert_non_null(obj);
        if (member_from_json(obj, &out) != -EINVAL)
            fail_msg("accepted %s", bad[i]);
        json_object_put(obj);
    }

    /* A name of 255 characters fits; 256 does not. */
    char name[300];
    memset(name, 'n', 256);
    name[256] = '\0';
    struct json_object *obj = json_object_new_object();
    json_object_object_add(obj, "id", json_object_new_string(UUID_A));
    json_object_object_add(obj, "url", json_object_new_string("http://a"));
    json_object_object_add(obj, "name", json_object_new_string(name));
    assert_int_equal(member_from_json(obj, &out), -EINVAL);
    name[255] = '\0';
    json_object_object_add(obj, "name", json_object_new_string(name));
    assert_int_equal(member_from_json(obj, &out), 0);
    assert_int_equal(strlen(out.name), 255);
    /* No registry member: false; no times: 0. */
    assert_false(out.registry);
    assert_int_equal(out.joined_ms, 0);
    assert_int_equal(out.last_seen_ms, 0);
    json_object_put(obj);
}

/* Issue 14: a credential finds its member (and only by its hash); a new
 * one replaces the old; a deleted member's credential finds nothing. */
static void test_credential(void **state)
{
    struct db *db = *state;
    struct member a = make(UUID_A, "a", "http://a:1", false, 0, 0);
    struct member b = make(UUID_B, "b", "http://b:1", false, 0, 0);
    assert_true(member_upsert(db, &a) >= 0);
    assert_true(member_upsert(db, &b) >= 0);
    char ca[CREDENTIAL_SIZE], cb[CREDENTIAL_SIZE], ha[CREDENTIAL_HASH_SIZE],
        hb[CREDENTIAL_HASH_SIZE];
    assert_int_equal(credential_generate(CREDENTIAL_MEMBER_PREFIX, ca), 0);
    assert_int_equal(credential_generate(CREDENTIAL_MEMBER_PREFIX, cb), 0);
    assert_true(credential_is(ca, CREDENTIAL_MEMBER_PREFIX));
    assert_false(credential_is(ca, CREDENTIAL_JOIN_PREFIX));
    assert_false(credential_is("lmm_0123", CREDENTIAL_MEMBER_PREFIX));
    credential_hash(ca, ha);
    credential_hash(cb, hb);
    assert_string_not_equal(ha, hb);
    assert_int_equal(strlen(ha), 64);
    assert_int_equal(member_set_credential(db, UUID_A, ha), 0);
    assert_int_equal(member_set_credential(db, UUID_B, hb), 0);
    assert_int_equal(member_set_credential(db, UUID_C, hb), -ENOENT);
    struct member found;
    assert_int_equal(member_find_by_credential(db, ha, &found), 0);
    assert_string_equal(found.uuid, UUID_A);
    assert_int_equal(member_find_by_credential(db, hb, &found), 0);
    assert_string_equal(found.uuid, UUID_B);
    /* The secret itself is no key: only its hash is stored. */
    assert_int_equal(member_find_by_credential(db, ca, &found), -ENOENT);
    /* Refreshing the row (what every member does every few seconds) keeps
     * the credential. */
    a.last_seen_ms = now_ms();
    assert_true(member_upsert(db, &a) >= 0);
    assert_int_equal(member_find_by_credential(db, ha, &found), 0);
    /* A rejoin's new credential replaces the old one. */
    assert_int_equal(credential_generate(CREDENTIAL_MEMBER_PREFIX, ca), 0);
    char ha2[CREDENTIAL_HASH_SIZE];
    credential_hash(ca, ha2);
    assert_int_equal(member_set_credential(db, UUID_A, ha2), 0);
    assert_int_equal(member_find_by_credential(db, ha, &found), -ENOENT);
    assert_int_equal(member_find_by_credential(db, ha2, &found), 0);
    assert_int_equal(member_delete(db, UUID_A), 0);
    assert_int_equal(member_find_by_credential(db, ha2, &found), -ENOENT);
}

/* Issue 14: a join token is good once, and not after it expired. */
static void test_join_token(void **state)
{
    struct db *db = *state;
    char t[CREDENTIAL_SIZE], h[CREDENTIAL_HASH_SIZE], old[CREDENTIAL_HASH_SIZE];
    assert_int_equal(credential_generate(CREDENTIAL_JOIN_PREFIX, t), 0);
    assert_true(credential_is(t, CREDENTIAL_JOIN_PREFIX));
    credential_hash(t, h);
    int64_t now = now_ms();
    assert_int_equal(join_token_add(db, h, now + 60000, "operator"), 0);
    assert_int_equal(join_token_spend(db, h, now), 0);
    assert_int_equal(join_token_spend(db, h, now), -EACCES); /* spent */
    assert_int_equal(credential_generate(CREDENTIAL_JOIN_PREFIX, t), 0);
    credential_hash(t, old);
    assert_int_equal(join_token_add(db, old, now + 1000, "operator"), 0);
    assert_int_equal(join_token_spend(db, old, now + 1000), -EACCES); /* expired */
    assert_int_equal(join_token_spend(db, old, now), -EACCES);        /* and gone */
    assert_int_equal(join_token_spend(db, "nothing", now), -EACCES);
}

/* The member's copy of its credential: written 0600, read back, refused
 * when others may read it or when it holds something else. */
static void test_credential_file(void **state)
{
    (void)state;
    char path[64], c[CREDENTIAL_SIZE], back[CREDENTIAL_SIZE], err[256];
    snprintf(path, sizeof(path), "/tmp/lmnet-test-cred-%d", (int)getpid());
    unlink(path);
    assert_int_equal(credential_read_file(path, CREDENTIAL_MEMBER_PREFIX, back, err, sizeof(err)),
                     -ENOENT);
    assert_int_equal(credential_generate(CREDENTIAL_MEMBER_PREFIX, c), 0);
    assert_int_equal(credential_write_file(path, c), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(credential_read_file(path, CREDENTIAL_MEMBER_PREFIX, back, err, sizeof(err)),
                     0);
    assert_string_equal(back, c);
    assert_int_equal(credential_read_file(path, CREDENTIAL_JOIN_PREFIX, back, err, sizeof(err)),
                     -EINVAL);
    chmod(path, 0644);
    assert_int_equal(credential_read_file(path, CREDENTIAL_MEMBER_PREFIX, back, err, sizeof(err)),
                     -EPERM);
    assert_non_null(strstr(err, "chmod 600"));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_upsert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_url_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_list_and_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upsert_in_outer_transaction, setup, teardown),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_refused),
        cmocka_unit_test_setup_teardown(test_credential, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_token, setup, teardown),
        cmocka_unit_test(test_credential_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
