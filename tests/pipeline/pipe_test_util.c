/*  Helpers shared by the pipeline tests (see pipe_test_util.h). */
#include "pipe_test_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include "tf_testproc.h"

static void
s_die(const char *what, const char *path)
{
    fprintf(stderr, "test setup: %s %s failed\n", what, path);
    abort();
}

void
pt_write_file(const char *path, size_t size, uint32_t seed, int text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        s_die("create", path);
    uint32_t x = seed * 2654435761u + 12345;
    static const char *words[] = {"tape ", "flow ", "archive ", "block ", "drive ", "stager\n", "zstd ", "pax "};
    for (size_t i = 0; i < size;) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if (text) {
            const char *w = words[x % 8];
            size_t n = strlen(w);
            if (n > size - i)
                n = size - i;
            fwrite(w, 1, n, f);
            i += n;
        }
        else {
            fputc((int) (x & 0xff), f);
            i++;
        }
    }
    if (fclose(f) != 0)
        s_die("write", path);
}

void
pt_write_sparse(const char *path, uint64_t size, uint64_t data_at, size_t data_len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        s_die("create", path);
    char *buf = malloc(data_len);
    for (size_t i = 0; i < data_len; i++)
        buf[i] = (char) ('a' + i % 26);
    if (ftruncate(fd, (off_t) size) != 0 || pwrite(fd, buf, data_len, (off_t) data_at) != (ssize_t) data_len)
        s_die("write", path);
    free(buf);
    close(fd);
}

void
pt_file_checksum(const char *path, char out[40])
{
    FILE *f = fopen(path, "rb");
    if (!f)
        s_die("open", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(size > 0 ? (size_t) size : 1);
    if (size > 0 && fread(buf, 1, (size_t) size, f) != (size_t) size)
        s_die("read", path);
    fclose(f);
    XXH128_hash_t h = XXH3_128bits(buf, (size_t) size);
    free(buf);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    strcpy(out, "xxh128:");
    for (int i = 0; i < 16; i++)
        sprintf(out + 7 + 2 * i, "%02x", c.digest[i]);
}

void
pt_mkdir(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    }
    if (mkdir(buf, 0755) != 0 && access(buf, F_OK) != 0)
        s_die("mkdir", path);
}

void
pt_make_tree(const char *root, size_t big_size)
{
    char p[4096], q[4096];
    pt_mkdir(root);
    snprintf(p, sizeof p, "%s/docs", root);
    pt_mkdir(p);
    for (int i = 0; i < 20; i++) {
        snprintf(p, sizeof p, "%s/docs/note%02d.txt", root, i);
        pt_write_file(p, 100 + (size_t) i * 37, (uint32_t) i, 1);
    }
    snprintf(p, sizeof p, "%s/docs/empty.txt", root);
    pt_write_file(p, 0, 0, 0);
    snprintf(p, sizeof p, "%s/empty-dir", root);
    pt_mkdir(p);
    snprintf(p, sizeof p, "%s/big.bin", root);
    pt_write_file(p, big_size, 99, 0);
    snprintf(p, sizeof p, "%s/caf\xc3\xa9-\xc3\xbc.txt", root);
    pt_write_file(p, 321, 7, 1);
    snprintf(p, sizeof p, "%s/docs/note01.txt", root);
    snprintf(q, sizeof q, "%s/hardlink.txt", root);
    if (link(p, q) != 0)
        s_die("link", q);
    snprintf(q, sizeof q, "%s/link-to-docs", root);
    if (symlink("docs/note02.txt", q) != 0)
        s_die("symlink", q);
    snprintf(p, sizeof p, "%s/sparse.img", root);
    pt_write_sparse(p, 4u << 20, 1u << 20, 5000);
    snprintf(p, sizeof p, "%s/fifo", root);
    if (mkfifo(p, 0600) != 0)
        s_die("mkfifo", p);
}

int
pt_sh(const char *cmdline, char **out)
{
    char *argv[] = {"/bin/sh", "-c", (char *) cmdline, NULL};
    return tf_test_run("/bin/sh", argv, NULL, 30000, out);
}

int
pt_manifest_answer(const tf_msg_t *payload, tf_msg_t *result, tf_err_t *err)
{
    memset(result, 0, sizeof *result);
    if (payload->type != TF_MSG_CAT_MANIFEST)
        return tf_err_set(err, TF_ERR_PROTO, "the fake catalog answers cat_manifest only, not %s",
                          tf_msg_type_name(payload->type));
    const tf_msg_cat_manifest_t *m = &payload->cat_manifest;
    result->type = TF_MSG_CAT_MANIFEST_REPLY;
    tf_msg_cat_manifest_reply_t *r = &result->cat_manifest_reply;
    r->level = strdup("full");
    if (!r->level)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    if (strcmp(m->op, "diff") == 0 && m->rows_count > 0) {
        r->take = calloc(m->rows_count, sizeof *r->take);
        if (!r->take) {
            tf_msg_clear(result);
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        }
        r->take_count = m->rows_count;
        for (size_t i = 0; i < m->rows_count; i++) {
            r->take[i].index = i;
            r->take[i].reason = strdup("full");
        }
    }
    return TF_OK;
}

int
pt_manifest_call(void *arg, const char *service, const char *item_id, const char *job_id, const tf_msg_t *payload,
                 tf_msg_t *result, tf_err_t *err)
{
    (void) arg;
    (void) service;
    (void) item_id;
    (void) job_id;
    return pt_manifest_answer(payload, result, err);
}
