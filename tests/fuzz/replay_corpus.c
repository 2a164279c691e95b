/*  replay_corpus - runs the fuzz target's check over every file in one or more folders.

    Built with the project compiler (and its sanitizers when TAPEFLOW_SANITIZE is on), so the
    seed corpus and any crash reproducers added to it are checked on every test run, with or
    without clang. Names carry an expectation: "ok-*" must decode, "bad-*" must be rejected;
    other names (e.g. files saved by libFuzzer) only have to pass the check.

    Usage: replay_corpus DIR... ; exits 0 when every file passes and at least one was read.
*/
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg_check.h"

static int
s_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static int
s_read_file(const char *path, uint8_t **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 0;
    uint8_t buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (*size + n > cap) {
            size_t ncap = cap ? cap * 2 : 8192;
            while (ncap < *size + n)
                ncap *= 2;
            uint8_t *p = realloc(*data, ncap);
            if (!p) {
                free(*data);
                *data = NULL;
                fclose(f);
                errno = ENOMEM;
                return -1;
            }
            *data = p;
            cap = ncap;
        }
        memcpy(*data + *size, buf, n);
        *size += n;
    }
    int failed = ferror(f);
    if (fclose(f) != 0 || failed) {
        free(*data);
        *data = NULL;
        return -1;
    }
    return 0;
}

/* Returns the number of failures, or -1 when the folder cannot be read. */
static int
s_replay_dir(const char *dir, int *files, int *decoded, int *rejected)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay_corpus: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            char **p = realloc(names, cap * sizeof *names);
            if (!p) {
                fprintf(stderr, "replay_corpus: out of memory\n");
                closedir(d);
                return -1;
            }
            names = p;
        }
        if (!(names[count] = strdup(e->d_name))) {
            fprintf(stderr, "replay_corpus: out of memory\n");
            closedir(d);
            return -1;
        }
        count++;
    }
    closedir(d);
    qsort(names, count, sizeof *names, s_cmp);  /* deterministic order */

    int failures = 0;
    for (size_t i = 0; i < count; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        uint8_t *data;
        size_t size;
        if (s_read_file(path, &data, &size) != 0) {
            fprintf(stderr, "FAIL %s: cannot read: %s\n", path, strerror(errno));
            failures++;
            free(names[i]);
            continue;
        }
        char why[512] = "";
        tf_check_result_t r = tf_msg_check_roundtrip(data, size, why, sizeof why);
        free(data);
        (*files)++;
        const char *name = names[i];
        if (r == TF_CHECK_BROKEN) {
            fprintf(stderr, "FAIL %s: %s\n", path, why);
            failures++;
        }
        else if (strncmp(name, "ok-", 3) == 0 && r != TF_CHECK_DECODED) {
            fprintf(stderr, "FAIL %s: expected to decode, was rejected\n", path);
            failures++;
        }
        else if (strncmp(name, "bad-", 4) == 0 && r != TF_CHECK_REJECTED) {
            fprintf(stderr, "FAIL %s: expected to be rejected, decoded\n", path);
            failures++;
        }
        else if (r == TF_CHECK_DECODED)
            (*decoded)++;
        else
            (*rejected)++;
        free(names[i]);
    }
    free(names);
    return failures;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: replay_corpus DIR...\n");
        return 2;
    }
    int files = 0, decoded = 0, rejected = 0, failures = 0;
    for (int i = 1; i < argc; i++) {
        int rc = s_replay_dir(argv[i], &files, &decoded, &rejected);
        if (rc < 0)
            return 1;
        failures += rc;
    }
    printf("replay_corpus: %d files, %d decoded and stable, %d rejected cleanly, %d failed\n",
           files, decoded, rejected, failures);
    if (files == 0) {
        fprintf(stderr, "replay_corpus: no files: the corpus is missing\n");
        return 1;
    }
    return failures ? 1 : 0;
}
