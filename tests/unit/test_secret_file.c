/* Secret files (base/secret_file.c): the TLS key and token files are read
 * only when nobody else can read or replace them. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "base/secret_file.h"

static char dir[] = "/tmp/lmnet-secret-XXXXXX";

static const char *write_file(const char *name, const char *text, mode_t mode)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static void test_key_readable_by_others_is_refused(void **state)
{
    (void)state;
    static const mode_t refused[] = {0644, 0640, 0604, 0660, 0606, 0620};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        const char *path = write_file("tls.key", "-----BEGIN PRIVATE KEY-----\n", refused[i]);
        char *key = NULL;
        char err[512] = "";
        assert_int_equal(secret_file_read(path, "tls_key", "the private key", &key, err, sizeof(err)),
                         -EPERM);
        assert_null(key);
        assert_non_null(strstr(err, "lets others read the private key"));
        assert_non_null(strstr(err, "chmod 600"));
    }
}

static void test_key_of_mode_0600_is_read_whole(void **state)
{
    (void)state;
    char text[10000];
    memset(text, 'k', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    const char *path = write_file("tls.key", text, 0600);
    char *key = NULL;
    char err[512] = "";
    assert_int_equal(secret_file_read(path, "tls_key", "the private key", &key, err, sizeof(err)), 0);
    assert_string_equal(key, text);
    free(key);
}

static void test_missing_and_non_regular_files_are_refused(void **state)
{
    (void)state;
    char path[256], err[512] = "";
    char *key = NULL;
    snprintf(path, sizeof(path), "%s/none", dir);
    assert_int_equal(secret_file_read(path, "tls_key", "the private key", &key, err, sizeof(err)),
                     -ENOENT);
    assert_non_null(strstr(err, "cannot open tls_key"));
    assert_int_equal(secret_file_read(dir, "tls_key", "the private key", &key, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "not a regular file"));
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_readable_by_others_is_refused),
        cmocka_unit_test(test_key_of_mode_0600_is_read_whole),
        cmocka_unit_test(test_missing_and_non_regular_files_are_refused),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return failed;
}
