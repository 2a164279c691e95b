/*  tf_testcli - running the CLI and making tar streams for tests (see tf_testcli.h). */
#define _GNU_SOURCE
#include "tf_testcli.h"

#include <archive.h>
#include <archive_entry.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_testproc.h"

#define S_ARGS_MAX 40

int
tf_testcli_vrun(const char *cfg, char *const env[], const char *tmpdir, int timeout_ms, char **out, char **err,
                va_list args)
{
    char exe[PATH_MAX], err_path[PATH_MAX], script[PATH_MAX + 64];
    snprintf(exe, sizeof exe, "%s/tapeflow", tf_test_bindir());
    snprintf(err_path, sizeof err_path, "%s/cli.err", tmpdir ? tmpdir : "/tmp");
    /* sh only to send stderr where it belongs; "$0" "$@" keep the words as given. */
    if (err)
        snprintf(script, sizeof script, "exec \"$0\" \"$@\" 2>'%s'", err_path);
    else
        snprintf(script, sizeof script, "exec \"$0\" \"$@\" 2>&1");
    char *argv[S_ARGS_MAX + 1] = {(char *) "sh", (char *) "-c", script, exe};
    int n = 4;
    if (cfg) {
        argv[n++] = (char *) "--config";
        argv[n++] = (char *) cfg;
    }
    int first = n;
    const char *arg;
    while ((arg = va_arg(args, const char *)) != NULL && n < S_ARGS_MAX)
        argv[n++] = (char *) arg;
    argv[n] = NULL;
    *out = NULL;
    int rc = tf_test_run("/bin/sh", argv, env, timeout_ms, out);
    if (!*out)
        *out = strdup("");
    if (err) {
        *err = tf_test_read_file(err_path);
        if (!*err)
            *err = strdup("");
        remove(err_path);
    }
    printf("---- tapeflow %s %s (exit %d):\n%s%s", n > first ? argv[first] : "", n > first + 1 ? argv[first + 1] : "",
           rc, *out ? *out : "", err && *err ? *err : "");
    return rc;
}

int
tf_testcli_run(const char *cfg, char *const env[], const char *tmpdir, int timeout_ms, char **out, char **err, ...)
{
    va_list ap;
    va_start(ap, err);
    int rc = tf_testcli_vrun(cfg, env, tmpdir, timeout_ms, out, err, ap);
    va_end(ap);
    return rc;
}

size_t
tf_testcli_tar(char *buf, size_t size, const char *const *files, bool zstd)
{
    struct archive *a = archive_write_new();
    if (!a)
        return 0;
    size_t used = 0;
    bool ok = archive_write_set_format_pax_restricted(a) == ARCHIVE_OK
              && (!zstd || archive_write_add_filter_zstd(a) == ARCHIVE_OK)
              && archive_write_open_memory(a, buf, size, &used) == ARCHIVE_OK;
    for (size_t i = 0; ok && files[i]; i += 2) {
        struct archive_entry *e = archive_entry_new();
        if (!e) {
            ok = false;
            break;
        }
        size_t len = strlen(files[i + 1]);
        archive_entry_set_pathname(e, files[i]);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_mtime(e, 1500000000, 0);
        archive_entry_set_size(e, (la_int64_t) len);
        ok = archive_write_header(a, e) == ARCHIVE_OK && archive_write_data(a, files[i + 1], len) == (la_ssize_t) len;
        archive_entry_free(e);
    }
    if (archive_write_close(a) != ARCHIVE_OK)
        ok = false;
    archive_write_free(a);
    return ok ? used : 0;
}
