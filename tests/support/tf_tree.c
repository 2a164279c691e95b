/*  tf_tree - deterministic file trees and their comparison. */
#define _GNU_SOURCE
#include "tf_tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ generation ------- */

static uint64_t
s_next(uint64_t *state)
{
    /* splitmix64: small, fast, good enough for test data */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int
s_fail(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *s_words[] = {"tape", "backup", "archive", "volume", "block", "filemark",
                                "catalog", "restore", "drive", "stream", "label", "pool"};

/* Fills buf with content of one of three kinds, chosen by the file's number. */
static void
s_fill(uint8_t *buf, size_t size, uint64_t *rng, int kind)
{
    if (kind == 0) {         /* text-like: compresses well */
        size_t at = 0;
        while (at < size) {
            const char *w = s_words[s_next(rng) % (sizeof s_words / sizeof s_words[0])];
            size_t n = strlen(w);
            for (size_t i = 0; i < n && at < size; i++)
                buf[at++] = (uint8_t) w[i];
            if (at < size)
                buf[at++] = (s_next(rng) % 9 == 0) ? '\n' : ' ';
        }
    }
    else if (kind == 1) {    /* repetitive */
        uint8_t b = (uint8_t) s_next(rng);
        for (size_t i = 0; i < size; i++)
            buf[i] = (uint8_t) (b + (i % 64 == 0));
    }
    else {                   /* random: does not compress */
        for (size_t i = 0; i < size; i += 8) {
            uint64_t v = s_next(rng);
            memcpy(buf + i, &v, size - i < 8 ? size - i : 8);
        }
    }
}

static int
s_write_file(const char *path, uint64_t size, uint64_t *rng, int kind, char *why, size_t why_size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return s_fail(why, why_size, "create %s: %s", path, strerror(errno));
    uint8_t buf[65536];
    uint64_t left = size;
    while (left > 0) {
        size_t n = left < sizeof buf ? (size_t) left : sizeof buf;
        s_fill(buf, n, rng, kind);
        if (write(fd, buf, n) != (ssize_t) n) {
            close(fd);
            return s_fail(why, why_size, "write %s: %s", path, strerror(errno));
        }
        left -= n;
    }
    close(fd);
    return 0;
}

static void
s_set_mtime(const char *path, time_t when, bool nofollow)
{
    struct timespec ts[2] = {{.tv_sec = when}, {.tv_sec = when}};
    utimensat(AT_FDCWD, path, ts, nofollow ? AT_SYMLINK_NOFOLLOW : 0);
}

/* File size drawn from a realistic mix: 80% small, 18% medium, 2% large. */
static uint64_t
s_size(uint64_t *rng, uint64_t mean)
{
    uint64_t r = s_next(rng) % 100;
    if (r < 80)
        return s_next(rng) % (mean / 2 + 1);
    if (r < 98)
        return mean + s_next(rng) % (mean * 3 + 1);
    return mean * 20 + s_next(rng) % (mean * 20 + 1);
}

static int
s_age_dir(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    if (flag == FTW_DP)
        s_set_mtime(path, 1300000000 + (time_t) ftw->level * 86400 + (time_t) (strlen(path) % 97) * 60, false);
    return 0;
}

/* A fixed, path-derived nanosecond part: never 0 and never a whole microsecond, so a time
   cut to seconds or to microseconds (utimes, lutimes) is caught. */
static long
s_nsec_of(const char *path)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = path; *p; p++)
        h = (h ^ (uint8_t) *p) * 1099511628211ULL;
    long ns = (long) (1 + h % 999999998ULL);
    return ns % 1000 == 0 ? ns + 1 : ns;
}

static int
s_add_nsec(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) flag;
    (void) ftw;
    struct timespec ts[2] = {{.tv_sec = st->st_mtime, .tv_nsec = s_nsec_of(path)},
                             {.tv_sec = st->st_mtime, .tv_nsec = s_nsec_of(path)}};
    return utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -1;
}

/* Hard-linked files spread over neighbouring folders: group k's first name is in folder
   k % (folders - 1), its second (and for every third group, a third) in the next folder. */
static int
s_link_groups(const char *root, const tf_tree_spec_t *spec, tf_tree_stats_t *st, uint64_t *rng, char *why,
              size_t why_size)
{
    uint64_t files = spec->files ? spec->files : 1;
    uint64_t folders = (files + 99) / 100;
    if (folders < 2)
        return s_fail(why, why_size, "link_groups needs files > 100 (two folders)");
    char first[PATH_MAX], other[PATH_MAX];
    for (uint64_t k = 0; k < spec->link_groups; k++) {
        uint64_t fa = k % (folders - 1), fb = fa + 1;
        snprintf(first, sizeof first, "%s/d%03llu/s%03llu/hl%04llu-a", root, (unsigned long long) (fa / 10),
                 (unsigned long long) fa, (unsigned long long) k);
        uint64_t size = 500 + s_next(rng) % 3000;
        if (s_write_file(first, size, rng, (int) (k % 3), why, why_size) != 0)
            return -1;
        st->files++;
        st->bytes += size;
        int names = k % 3 == 2 ? 2 : 1;
        for (int n = 0; n < names; n++) {
            snprintf(other, sizeof other, "%s/d%03llu/s%03llu/hl%04llu-%c", root, (unsigned long long) (fb / 10),
                     (unsigned long long) fb, (unsigned long long) k, 'b' + n);
            if (link(first, other) != 0)
                return s_fail(why, why_size, "link %s: %s", other, strerror(errno));
            st->hardlinks++;
        }
        s_set_mtime(first, 1600000000 + (time_t) (s_next(rng) % 100000000), false);
    }
    return 0;
}

int
tf_tree_generate(const char *root, const tf_tree_spec_t *spec, tf_tree_stats_t *stats,
                 char *why, size_t why_size)
{
    tf_tree_stats_t st = {0};
    uint64_t rng = spec->seed ? spec->seed : 1;
    if (mkdir(root, 0755) != 0 && errno != EEXIST)
        return s_fail(why, why_size, "mkdir %s: %s", root, strerror(errno));
    uint64_t files = spec->files ? spec->files : 1;
    uint64_t mean = spec->bytes / files;
    if (mean < 16)
        mean = 16;
    /* Folders of ~100 files, two levels deep. */
    uint64_t per_dir = 100;
    char path[PATH_MAX];
    uint64_t written = 0;
    for (uint64_t i = 0; i < files; i++) {
        uint64_t d = i / per_dir;
        snprintf(path, sizeof path, "%s/d%03llu", root, (unsigned long long) (d / 10));
        if (mkdir(path, 0755) == 0)
            st.dirs++;
        snprintf(path, sizeof path, "%s/d%03llu/s%03llu", root, (unsigned long long) (d / 10),
                 (unsigned long long) d);
        if (mkdir(path, 0755) == 0)
            st.dirs++;
        uint64_t size = s_size(&rng, mean);
        if (written >= spec->bytes)
            size = size % 256;
        else if (written + size > spec->bytes && i + 1 < files)
            size = spec->bytes - written;
        snprintf(path + strlen(path), sizeof path - strlen(path), "/f%06llu.dat", (unsigned long long) i);
        if (s_write_file(path, size, &rng, (int) (i % 3), why, why_size) != 0)
            return -1;
        s_set_mtime(path, 1600000000 + (time_t) (s_next(&rng) % 100000000), false);
        written += size;
        st.files++;
        st.bytes += size;
    }
    if (spec->special) {
        snprintf(path, sizeof path, "%s/special", root);
        if (mkdir(path, 0750) != 0)
            return s_fail(why, why_size, "mkdir %s: %s", path, strerror(errno));
        st.dirs++;
        const char *names[] = {"empty", "empty/nested-empty", "unicode-\xc3\xa9t\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac"};
        for (size_t k = 0; k < 3; k++) {
            snprintf(path, sizeof path, "%s/special/%s", root, names[k]);
            if (mkdir(path, 0755) != 0)
                return s_fail(why, why_size, "mkdir %s: %s", path, strerror(errno));
            st.dirs++;
        }
        snprintf(path, sizeof path, "%s/special/unicode-\xc3\xa9t\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac/caf\xc3\xa9 \xe2\x98\x95.txt", root);
        if (s_write_file(path, 1234, &rng, 0, why, why_size) != 0)
            return -1;
        st.files++;
        st.bytes += 1234;
        /* Odd modes. */
        snprintf(path, sizeof path, "%s/special/script.sh", root);
        if (s_write_file(path, 100, &rng, 0, why, why_size) != 0)
            return -1;
        chmod(path, 0751);
        st.files++;
        st.bytes += 100;
        snprintf(path, sizeof path, "%s/special/private", root);
        if (s_write_file(path, 10, &rng, 0, why, why_size) != 0)
            return -1;
        chmod(path, 0600);
        st.files++;
        st.bytes += 10;
        /* Hard links: two extra names for one file. */
        char target[PATH_MAX];
        snprintf(target, sizeof target, "%s/special/linked", root);
        if (s_write_file(target, 5000, &rng, 2, why, why_size) != 0)
            return -1;
        st.files++;
        st.bytes += 5000;
        for (int k = 1; k <= 2; k++) {
            snprintf(path, sizeof path, "%s/special/linked.hard%d", root, k);
            if (link(target, path) != 0)
                return s_fail(why, why_size, "link %s: %s", path, strerror(errno));
            st.hardlinks++;
        }
        /* Symlinks: relative, absolute-looking but dangling, to a folder. */
        struct {
            const char *name, *to;
        } links[] = {{"rel-link", "linked"}, {"dangling", "/nonexistent/target"}, {"dir-link", "empty"}};
        for (size_t k = 0; k < 3; k++) {
            snprintf(path, sizeof path, "%s/special/%s", root, links[k].name);
            if (symlink(links[k].to, path) != 0)
                return s_fail(why, why_size, "symlink %s: %s", path, strerror(errno));
            s_set_mtime(path, 1500000000, true);
            st.symlinks++;
        }
        /* A sparse file: 8 MiB with data only at both ends. */
        snprintf(path, sizeof path, "%s/special/sparse.img", root);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            return s_fail(why, why_size, "create %s: %s", path, strerror(errno));
        const char head[] = "sparse head", tail[] = "sparse tail";
        if (pwrite(fd, head, sizeof head, 0) != (ssize_t) sizeof head
            || pwrite(fd, tail, sizeof tail, (8 << 20) - (off_t) sizeof tail) != (ssize_t) sizeof tail) {
            close(fd);
            return s_fail(why, why_size, "write %s: %s", path, strerror(errno));
        }
        close(fd);
        st.files++;
        st.bytes += 8 << 20;
        /* Folder times last: creating entries above changed them. */
        snprintf(path, sizeof path, "%s/special/empty", root);
        s_set_mtime(path, 1400000000, false);
    }
    if (spec->link_groups && s_link_groups(root, spec, &st, &rng, why, why_size) != 0)
        return -1;
    /* Folders get old, fixed times last (deepest first, as nftw's FTW_DEPTH walks), so a
       restore that leaves a folder with the time it was restored at is always caught. */
    if (nftw(root, s_age_dir, 32, FTW_DEPTH | FTW_PHYS) != 0)
        return s_fail(why, why_size, "cannot set folder times under %s", root);
    if (spec->nsec_times && nftw(root, s_add_nsec, 32, FTW_DEPTH | FTW_PHYS) != 0)
        return s_fail(why, why_size, "cannot set nanosecond times under %s: %s", root, strerror(errno));
    if (stats)
        *stats = st;
    return 0;
}

/* ------------------------------------------------------------------ comparison ------- */

typedef struct {
    dev_t dev;
    ino_t a_ino;
    ino_t b_ino;
} s_link_t;

typedef struct {
    char *why;
    size_t why_size;
    bool check_sparse;
    bool strict;          /* mtimes to the nanosecond, symlinks' too */
    s_link_t *links;
    size_t nlinks, caplinks;
} s_cmp_t;

static int
s_files_equal(s_cmp_t *c, const char *a, const char *b, off_t size)
{
    int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC);
    int rc = 0;
    if (fa < 0 || fb < 0)
        rc = s_fail(c->why, c->why_size, "cannot open %s or %s", a, b);
    static uint8_t ba[65536], bb[65536];
    for (off_t at = 0; rc == 0 && at < size;) {
        ssize_t na = read(fa, ba, sizeof ba), nb = read(fb, bb, sizeof bb);
        if (na <= 0 || na != nb || memcmp(ba, bb, (size_t) na) != 0)
            rc = s_fail(c->why, c->why_size, "content of %s differs near byte %lld", b, (long long) at);
        at += na > 0 ? na : 1;
    }
    if (fa >= 0)
        close(fa);
    if (fb >= 0)
        close(fb);
    return rc;
}

static int s_compare_dir(s_cmp_t *c, const char *a, const char *b);

static int
s_compare_entry(s_cmp_t *c, const char *a, const char *b)
{
    struct stat sa, sb;
    if (lstat(a, &sa) != 0)
        return s_fail(c->why, c->why_size, "cannot stat %s", a);
    if (lstat(b, &sb) != 0)
        return s_fail(c->why, c->why_size, "%s is missing", b);
    if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT))
        return s_fail(c->why, c->why_size, "%s has another type", b);
    if (!S_ISLNK(sa.st_mode) && (sa.st_mode & 07777) != (sb.st_mode & 07777))
        return s_fail(c->why, c->why_size, "%s mode %o, expected %o", b, sb.st_mode & 07777, sa.st_mode & 07777);
    if (sa.st_uid != sb.st_uid || sa.st_gid != sb.st_gid)
        return s_fail(c->why, c->why_size, "%s owner %d:%d, expected %d:%d", b, (int) sb.st_uid,
                      (int) sb.st_gid, (int) sa.st_uid, (int) sa.st_gid);
    if (c->strict && (sa.st_mtim.tv_sec != sb.st_mtim.tv_sec || sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec))
        return s_fail(c->why, c->why_size, "%s mtime %lld.%09ld, expected %lld.%09ld", b,
                      (long long) sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec, (long long) sa.st_mtim.tv_sec,
                      sa.st_mtim.tv_nsec);
    if (S_ISLNK(sa.st_mode)) {
        char ta[PATH_MAX] = "", tb[PATH_MAX] = "";
        ssize_t na = readlink(a, ta, sizeof ta - 1), nb = readlink(b, tb, sizeof tb - 1);
        if (na < 0 || nb < 0 || na != nb || memcmp(ta, tb, (size_t) na) != 0)
            return s_fail(c->why, c->why_size, "symlink %s points elsewhere", b);
        return 0;
    }
    if (sa.st_mtime != sb.st_mtime)
        return s_fail(c->why, c->why_size, "%s mtime %lld, expected %lld", b, (long long) sb.st_mtime,
                      (long long) sa.st_mtime);
    if (S_ISDIR(sa.st_mode))
        return s_compare_dir(c, a, b);
    if (S_ISREG(sa.st_mode)) {
        if (sa.st_size != sb.st_size)
            return s_fail(c->why, c->why_size, "%s size %lld, expected %lld", b, (long long) sb.st_size,
                          (long long) sa.st_size);
        if (sa.st_nlink > 1) {
            /* Every name of one inode in a must map to one inode in b, and the reverse. */
            for (size_t i = 0; i < c->nlinks; i++) {
                if (c->links[i].a_ino == sa.st_ino && c->links[i].b_ino != sb.st_ino)
                    return s_fail(c->why, c->why_size, "%s is not hard-linked like %s", b, a);
                if (c->links[i].a_ino == sa.st_ino)
                    goto linked;
            }
            if (sb.st_nlink != sa.st_nlink)
                return s_fail(c->why, c->why_size, "%s has %d links, expected %d", b, (int) sb.st_nlink,
                              (int) sa.st_nlink);
            if (c->nlinks == c->caplinks) {
                c->caplinks = c->caplinks ? c->caplinks * 2 : 16;
                s_link_t *more = realloc(c->links, c->caplinks * sizeof *more);
                if (!more)
                    return s_fail(c->why, c->why_size, "out of memory");
                c->links = more;
            }
            c->links[c->nlinks++] = (s_link_t){sa.st_dev, sa.st_ino, sb.st_ino};
        }
    linked:
        if (c->check_sparse && (long long) sa.st_blocks * 512 < sa.st_size / 2
            && (long long) sb.st_blocks * 512 >= sb.st_size / 2)
            return s_fail(c->why, c->why_size, "%s is no longer sparse (%lld blocks)", b, (long long) sb.st_blocks);
        return s_files_equal(c, a, b, sa.st_size);
    }
    return 0;
}

static int
s_names(const char *dir, char ***names_p, size_t *count_p)
{
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, alphasort);
    if (n < 0)
        return -1;
    char **names = calloc((size_t) n + 1, sizeof *names);
    size_t count = 0;
    for (int i = 0; i < n; i++) {
        if (names && strcmp(list[i]->d_name, ".") && strcmp(list[i]->d_name, ".."))
            names[count++] = strdup(list[i]->d_name);
        free(list[i]);
    }
    free(list);
    *names_p = names;
    *count_p = count;
    return names ? 0 : -1;
}

static void
s_free_names(char **names, size_t count)
{
    for (size_t i = 0; names && i < count; i++)
        free(names[i]);
    free(names);
}

static int
s_compare_dir(s_cmp_t *c, const char *a, const char *b)
{
    char **na = NULL, **nb = NULL;
    size_t ca = 0, cb = 0;
    if (s_names(a, &na, &ca) != 0 || s_names(b, &nb, &cb) != 0) {
        s_free_names(na, ca);
        s_free_names(nb, cb);
        return s_fail(c->why, c->why_size, "cannot list %s or %s", a, b);
    }
    int rc = 0;
    if (ca != cb)
        rc = s_fail(c->why, c->why_size, "%s has %zu entries, expected %zu", b, cb, ca);
    for (size_t i = 0; rc == 0 && i < ca; i++) {
        if (strcmp(na[i], nb[i]) != 0) {
            rc = s_fail(c->why, c->why_size, "%s/%s is missing (found %s)", b, na[i], nb[i]);
            break;
        }
        char pa[PATH_MAX], pb[PATH_MAX];
        snprintf(pa, sizeof pa, "%s/%s", a, na[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, nb[i]);
        rc = s_compare_entry(c, pa, pb);
    }
    s_free_names(na, ca);
    s_free_names(nb, cb);
    return rc;
}

static int
s_compare(const char *a, const char *b, bool check_sparse, bool strict, char *why, size_t why_size)
{
    s_cmp_t c = {.why = why, .why_size = why_size, .check_sparse = check_sparse, .strict = strict};
    why[0] = '\0';
    int rc = s_compare_entry(&c, a, b);
    free(c.links);
    return rc;
}

int
tf_tree_compare(const char *a, const char *b, bool check_sparse, char *why, size_t why_size)
{
    return s_compare(a, b, check_sparse, false, why, why_size);
}

int
tf_tree_compare_strict(const char *a, const char *b, bool check_sparse, char *why, size_t why_size)
{
    return s_compare(a, b, check_sparse, true, why, why_size);
}

long
tf_tree_entries(const char *root)
{
    struct stat st;
    if (lstat(root, &st) != 0)
        return -1;
    long n = 1;
    if (!S_ISDIR(st.st_mode))
        return n;
    DIR *dir = opendir(root);
    if (!dir)
        return -1;
    struct dirent *de;
    while (n >= 0 && (de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", root, de->d_name);
        long below = tf_tree_entries(path);
        n = below < 0 ? -1 : n + below;
    }
    closedir(dir);
    return n;
}

int
tf_tree_random_files(const char *root, int n, size_t size, uint64_t seed, char *why, size_t why_size)
{
    if (mkdir(root, 0755) != 0) {
        snprintf(why, why_size, "cannot make %s: %s", root, strerror(errno));
        return -1;
    }
    uint64_t *buf = malloc(size + 8);
    if (!buf) {
        snprintf(why, why_size, "out of memory for %zu bytes", size);
        return -1;
    }
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    int rc = 0;
    for (int f = 0; f < n && rc == 0; f++) {
        for (size_t i = 0; i < size / 8 + 1; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = x;
        }
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/random-%02d.bin", root, f);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        bool ok = fd >= 0 && write(fd, buf, size) == (ssize_t) size;
        if (fd >= 0 && close(fd) != 0)
            ok = false;
        if (!ok) {
            snprintf(why, why_size, "cannot write %s: %s", path, strerror(errno));
            rc = -1;
        }
    }
    free(buf);
    return rc;
}
