/* Unit tests for api/token.c: loading the token file (mode, scopes, lengths,
 * duplicates, comments, empty files) and checking presented tokens. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "client/client.h"
#include "api/token.h"

#define ADMIN_TOKEN "0123456789abcdef0123456789abcdef"
#define READ_TOKEN  "fedcba9876543210"

static char tmpdir[] = "/tmp/lmnet-test-token-XXXXXX";
static char paths[64][300];
static size_t n_paths;

static int group_setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < n_paths; i++)
        unlink(paths[i]);
    return rmdir(tmpdir);
}

/* Writes CONTENT with MODE to a new file in the test directory. */
static const char *write_file(const char *name, const char *content, mode_t mode)
{
    assert_true(n_paths < sizeof(paths) / sizeof(paths[0]));
    char *path = paths[n_paths++];
    snprintf(path, sizeof(paths[0]), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(content, f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        fail_msg("expected \"%s\" in \"%s\"", needle, haystack);
}

/* Loads CONTENT (mode 0600) and expects failure WANT; returns the message. */
static const char *load_fails(const char *name, const char *content, int want)
{
    static char err[512];
    struct token_set *set = NULL;
    err[0] = '\0';
    int r = token_set_load(write_file(name, content, 0600), &set, err, sizeof(err));
    if (r != want)
        fail_msg("%s: expected %d, got %d (%s)", name, want, r, err);
    assert_null(set);
    assert_true(err[0] != '\0');
    return err;
}

static void test_load_good(void **state)
{
    (void)state;
    const char *path = write_file("good",
                                  "# lmnet tokens: NAME SCOPE TOKEN\n"
                                  "\n"
                                  "   # indented comment\n"
                                  "ops admin " ADMIN_TOKEN "\n"
                                  "\t monitor \t read   " READ_TOKEN "   # the dashboard\n"
                                  "\n",
                                  0600);
    struct token_set *set = NULL;
    char err[256] = "";
    int r = token_set_load(path, &set, err, sizeof(err));
    if (r != 0)
        fail_msg("token_set_load: %d %s", r, err);
    assert_non_null(set);
    assert_int_equal(token_set_count(set), 2);

    const char *name = NULL;
    enum scope scope = SCOPE_NONE;
    assert_int_equal(token_set_check(set, ADMIN_TOKEN, &name, &scope), 0);
    assert_string_equal(name, "ops");
    assert_int_equal(scope, SCOPE_ADMIN);
    assert_int_equal(token_set_check(set, READ_TOKEN, &name, &scope), 0);
    assert_string_equal(name, "monitor");
    assert_int_equal(scope, SCOPE_READ);
    token_set_destroy(set);

    /* 0400 is stricter than 0600 and fine too; no trailing newline is fine. */
    path = write_file("readonly", "solo read " READ_TOKEN, 0400);
    set = NULL;
    assert_int_equal(token_set_load(path, &set, err, sizeof(err)), 0);
    assert_int_equal(token_set_count(set), 1);
    token_set_destroy(set);

    token_set_destroy(NULL);
    assert_int_equal(token_set_count(NULL), 0);
}

static void test_mode(void **state)
{
    (void)state;
    static const mode_t refused[] = {0644, 0640, 0604, 0620, 0602, 0660, 0666, 0610, 0601};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        char name[32];
        snprintf(name, sizeof(name), "mode-%04o", (unsigned)refused[i]);
        const char *path = write_file(name, "ops admin " ADMIN_TOKEN "\n", refused[i]);
        struct token_set *set = NULL;
        char err[512] = "";
        int r = token_set_load(path, &set, err, sizeof(err));
        if (r != -EPERM)
            fail_msg("mode %04o: expected -EPERM, got %d", (unsigned)refused[i], r);
        assert_null(set);
        assert_contains(err, path);
        assert_contains(err, "chmod 600");
        char mode[16];
        snprintf(mode, sizeof(mode), "%04o", (unsigned)refused[i]);
        assert_contains(err, mode);
    }
}

static void test_bad_lines(void **state)
{
    (void)state;
    char want[400];
    const char *err;

    err = load_fails("scope", "ops admin " ADMIN_TOKEN "\nbob write " READ_TOKEN "\n", -EINVAL);
    snprintf(want, sizeof(want), "%s/scope:2", tmpdir);
    assert_contains(err, want);
    assert_contains(err, "'write'");

    /* Scopes are exact: "Admin" is not "admin". */
    load_fails("scope-case", "ops Admin " ADMIN_TOKEN "\n", -EINVAL);
    /* "none" is a route's scope, never a token's. */
    load_fails("scope-none", "ops none " ADMIN_TOKEN "\n", -EINVAL);

    err = load_fails("short", "# c\nops admin 0123456789abcde\n", -EINVAL);
    snprintf(want, sizeof(want), "%s/short:2", tmpdir);
    assert_contains(err, want);
    assert_contains(err, "'ops'");
    assert_contains(err, "16 to 255");
    /* The token itself never appears in a message. */
    assert_null(strstr(err, "0123456789abcde"));

    char line[400];
    char long_token[257];
    memset(long_token, 'k', 256);
    long_token[256] = '\0';
    snprintf(line, sizeof(line), "ops admin %s\n", long_token);
    load_fails("long256", line, -EINVAL);
    char longer[301];
    memset(longer, 'k', 300);
    longer[300] = '\0';
    snprintf(line, sizeof(line), "ops admin %s\n", longer);
    load_fails("long300", line, -EINVAL);

    err = load_fails("dup",
                     "ops admin " ADMIN_TOKEN "\nx read " READ_TOKEN "\nops read " READ_TOKEN "9\n",
                     -EINVAL);
    snprintf(want, sizeof(want), "%s/dup:3", tmpdir);
    assert_contains(err, want);
    assert_contains(err, "'ops'");
    assert_contains(err, "twice");

    err = load_fails("two-fields", "ops admin\n", -EINVAL);
    assert_contains(err, "NAME SCOPE TOKEN");
    err = load_fails("four-fields", "ops admin " ADMIN_TOKEN " extra\n", -EINVAL);
    assert_contains(err, "NAME SCOPE TOKEN");

    char long_name[80];
    memset(long_name, 'n', 70);
    long_name[70] = '\0';
    snprintf(line, sizeof(line), "%s admin %s\n", long_name, ADMIN_TOKEN);
    err = load_fails("long-name", line, -EINVAL);
    assert_contains(err, "name longer than");
}

static void test_empty(void **state)
{
    (void)state;
    const char *err = load_fails("empty", "", -EINVAL);
    assert_contains(err, "no tokens");
    err =
        load_fails("comments-only", "# nothing yet\n\n   \n# ops admin " ADMIN_TOKEN "\n", -EINVAL);
    assert_contains(err, "no tokens");
}

static void test_missing(void **state)
{
    (void)state;
    char path[300], err[512] = "";
    snprintf(path, sizeof(path), "%s/absent", tmpdir);
    struct token_set *set = NULL;
    assert_int_equal(token_set_load(path, &set, err, sizeof(err)), -ENOENT);
    assert_null(set);
    assert_contains(err, path);

    /* A directory is not a token file. */
    assert_int_equal(token_set_load(tmpdir, &set, err, sizeof(err)), -EINVAL);
    assert_null(set);
    assert_contains(err, "not a regular file");
}

static void test_check(void **state)
{
    (void)state;
    char long_token[256];
    memset(long_token, 'L', 255);
    long_token[255] = '\0';
    char content[600];
    snprintf(content, sizeof(content),
             "ops admin " ADMIN_TOKEN "\nmonitor read " READ_TOKEN "\nbig read %s\n"
             "edge read 0123456789abcdef\n",
             long_token);
    struct token_set *set = NULL;
    char err[256] = "";
    assert_int_equal(token_set_load(write_file("check", content, 0600), &set, err, sizeof(err)), 0);
    assert_int_equal(token_set_count(set), 4);

    const char *name = "unset";
    enum scope scope = SCOPE_NONE;
    assert_int_equal(token_set_check(set, ADMIN_TOKEN, &name, &scope), 0);
    assert_string_equal(name, "ops");
    assert_int_equal(scope, SCOPE_ADMIN);
    assert_int_equal(token_set_check(set, long_token, &name, &scope), 0);
    assert_string_equal(name, "big");
    /* "0123456789abcdef" is a prefix of ADMIN_TOKEN and a token of its own. */
    assert_int_equal(token_set_check(set, "0123456789abcdef", &name, &scope), 0);
    assert_string_equal(name, "edge");
    assert_int_equal(scope, SCOPE_READ);

    /* Refused, and the outputs are left alone. */
    name = "unset";
    scope = SCOPE_NONE;
    static const char *const wrong[] = {
        "",
        "x",
        "0123456789abcdef0123456789abcdeF",  /* one byte differs (the last) */
        "1123456789abcdef0123456789abcdef",  /* one byte differs (the first) */
        "0123456789abcdef0123456789abcde",   /* a prefix */
        "0123456789abcdef0123456789abcdef0", /* longer */
        "0123456789abcdef0123456789abcdef ", /* trailing space */
        " 0123456789abcdef0123456789abcdef",
        "fedcba987654321", /* prefix of the read token */
        "fedcba9876543210fedcba9876543210",
    };
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        int r = token_set_check(set, wrong[i], &name, &scope);
        if (r != -EACCES)
            fail_msg("token '%s' accepted as '%s'", wrong[i], name);
        assert_string_equal(name, "unset");
        assert_int_equal(scope, SCOPE_NONE);
    }

    /* Longer than any token may be: the 255 stored bytes followed by more. */
    char *huge = malloc(1001);
    assert_non_null(huge);
    memset(huge, 'L', 1000);
    huge[1000] = '\0';
    assert_int_equal(token_set_check(set, huge, &name, &scope), -EACCES);
    huge[256] = '\0';
    assert_int_equal(token_set_check(set, huge, &name, &scope), -EACCES);
    huge[255] = '\0';
    assert_int_equal(token_set_check(set, huge, &name, &scope), 0);
    assert_string_equal(name, "big");
    free(huge);
    token_set_destroy(set);
}

/* A '#' inside a token is part of it; it used to cut the token short
 * ("0123#..." became "0123", refused as too short, or worse, a shorter
 * token than the operator wrote). */
static void test_hash_in_token(void **state)
{
    (void)state;
    const char *path = write_file("hash",
                                  "ops admin 0123456789#abcdef0123456789 # a comment\n"
                                  "#ops2 admin " ADMIN_TOKEN "\n"
                                  "monitor read " READ_TOKEN "#\n",
                                  0600);
    struct token_set *set = NULL;
    char err[256] = "";
    int r = token_set_load(path, &set, err, sizeof(err));
    if (r != 0)
        fail_msg("token_set_load: %d %s", r, err);
    assert_int_equal(token_set_count(set), 2);
    const char *name = NULL;
    enum scope scope = SCOPE_NONE;
    assert_int_equal(token_set_check(set, "0123456789#abcdef0123456789", &name, &scope), 0);
    assert_string_equal(name, "ops");
    assert_int_equal(token_set_check(set, "0123456789", &name, &scope), -EACCES);
    assert_int_equal(token_set_check(set, READ_TOKEN "#", &name, &scope), 0);
    assert_int_equal(token_set_check(set, READ_TOKEN, &name, &scope), -EACCES);
    token_set_destroy(set);

    /* lmnetctl's and the peer token file read the same way. */
    char *token = NULL;
    path = write_file("hash-client", "agents admin 0123456789#abcdef0123456789 # peer\n", 0600);
    assert_int_equal(client_read_token_file(path, &token, err, sizeof(err)), 0);
    assert_string_equal(token, "0123456789#abcdef0123456789");
    free(token);
}

/* lmnetctl's token file and lmnetd's peer_token_file are checked as the
 * token file is: a mode that lets others read it is refused. */
static void test_client_token_file_mode(void **state)
{
    (void)state;
    char *token = NULL;
    char err[512] = "";
    const char *path = write_file("client-0644", ADMIN_TOKEN "\n", 0644);
    assert_int_equal(client_read_token_file(path, &token, err, sizeof(err)), -EPERM);
    assert_null(token);
    assert_contains(err, "chmod 600");
    path = write_file("client-0600", ADMIN_TOKEN "\n", 0600);
    assert_int_equal(client_read_token_file(path, &token, err, sizeof(err)), 0);
    assert_string_equal(token, ADMIN_TOKEN);
    free(token);
}

/* A token file owned by someone else (who could rewrite it) is refused,
 * by lmnetd and by lmnetctl.  Needs root to give a file away. */
static void test_owner(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    const char *path = write_file("foreign", "ops admin " ADMIN_TOKEN "\n", 0600);
    assert_int_equal(chown(path, 4242, 4242), 0);
    struct token_set *set = NULL;
    char err[512] = "";
    assert_int_equal(token_set_load(path, &set, err, sizeof(err)), -EPERM);
    assert_null(set);
    assert_contains(err, "owned by uid 4242");
    char *token = NULL;
    assert_int_equal(client_read_token_file(path, &token, err, sizeof(err)), -EPERM);
    assert_null(token);
    assert_contains(err, "owned by uid 4242");
}

static void test_scope(void **state)
{
    (void)state;
    /* have \ need:       NONE   READ   ADMIN */
    assert_true(scope_allows(SCOPE_NONE, SCOPE_NONE));
    assert_false(scope_allows(SCOPE_NONE, SCOPE_READ));
    assert_false(scope_allows(SCOPE_NONE, SCOPE_ADMIN));
    assert_true(scope_allows(SCOPE_READ, SCOPE_NONE));
    assert_true(scope_allows(SCOPE_READ, SCOPE_READ));
    assert_false(scope_allows(SCOPE_READ, SCOPE_ADMIN));
    assert_true(scope_allows(SCOPE_ADMIN, SCOPE_NONE));
    assert_true(scope_allows(SCOPE_ADMIN, SCOPE_READ));
    assert_true(scope_allows(SCOPE_ADMIN, SCOPE_ADMIN));

    assert_string_equal(scope_to_string(SCOPE_NONE), "none");
    assert_string_equal(scope_to_string(SCOPE_READ), "read");
    assert_string_equal(scope_to_string(SCOPE_ADMIN), "admin");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_good),
        cmocka_unit_test(test_mode),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_scope),
        cmocka_unit_test(test_hash_in_token),
        cmocka_unit_test(test_client_token_file_mode),
        cmocka_unit_test(test_owner),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
