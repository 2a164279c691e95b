/*  archiver - file group -> pax archive + file rows (see archiver.h). */
#include "archiver.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf_checksum.h"
#include "tf_log.h"

/* archiver_size_bound: what an entry without content may add (link targets, attributes) */
#define S_NO_CONTENT_ALLOWANCE (2u * PATH_MAX)

typedef struct {
    const archiver_opts_t *opts;
    struct archive *out;
    struct archive *disk;
    struct archive_entry_linkresolver *links;
    file_rows_t *rows;
    archiver_stats_t *stats;
    tf_checksum_t *sum;
    tf_err_t sink_err;
    bool sink_failed;
    bool discard;           /* the archive failed: closing it must not feed the sink */
    uint64_t bytes_done;
    uint64_t entries_done;
} run_t;

bool
archiver_compression_valid(const char *compression)
{
    return compression
           && (strcmp(compression, "zstd") == 0 || strcmp(compression, "gzip") == 0 || strcmp(compression, "none") == 0);
}

static la_ssize_t
s_write_cb(struct archive *a, void *arg, const void *buf, size_t size)
{
    run_t *run = arg;
    /* Once the sink failed (or the archive is being dropped) bytes are swallowed, not refused:
       libarchive 3.6 frees its output buffers only in a regular close, and a -1 here makes the
       archive FATAL, which skips that close and leaks them. The writers check sink_failed. */
    if (run->sink_failed || run->discard)
        return (la_ssize_t) size;
    if (run->opts->sink(run->opts->arg, buf, size, &run->sink_err) != TF_OK)
        run->sink_failed = true;
    return (la_ssize_t) size;
}

static void
s_warn(run_t *run, bool missing, const char *path, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A problem with one entry: counted, kept with the rows for the catalog (missing: the entry is
   not in the archive), and passed to the warn callback. */
static void
s_warn(run_t *run, bool missing, const char *path, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    run->stats->warnings++;
    tf_err_t err = {0};
    if (file_rows_warn(run->rows, path, text, missing, &err) != TF_OK)
        tf_log_warn("%s: %s (not reported to the catalog: %s)", path, text, err.message);
    if (run->opts->warn)
        run->opts->warn(run->opts->arg, path, text);
}

static int
s_out_error(run_t *run, tf_err_t *err, const char *what)
{
    if (run->sink_failed) {
        *err = run->sink_err;
        return err->code ? err->code : TF_ERR_IO;
    }
    return tf_err_set(err, TF_ERR_IO, "%s: %s", what, archive_error_string(run->out) ? archive_error_string(run->out) : "failed");
}

static int
s_open_output(run_t *run, tf_err_t *err)
{
    const archiver_opts_t *o = run->opts;
    struct archive *a = run->out;
    char value[32];
    /* Full pax, not "restricted": the restricted writer stores an mtime's nanoseconds only when
       an entry needs an extended header anyway, so most sub-second times were lost. Entries
       carry no atime/ctime (s_entry), so a whole-second entry still gets a plain ustar header. */
    if (archive_write_set_format_pax(a) != ARCHIVE_OK)
        return s_out_error(run, err, "cannot select the pax format");
    int rc;
    if (strcmp(o->compression, "zstd") == 0) {
        rc = archive_write_add_filter_zstd(a);
        if (rc == ARCHIVE_OK && o->level > 0) {
            snprintf(value, sizeof value, "%d", o->level);
            rc = archive_write_set_filter_option(a, "zstd", "compression-level", value);
        }
        if (rc == ARCHIVE_OK) {
            long threads = o->threads > 0 ? o->threads : sysconf(_SC_NPROCESSORS_ONLN);
            snprintf(value, sizeof value, "%ld", threads > 0 ? threads : 1);
            rc = archive_write_set_filter_option(a, "zstd", "threads", value);
        }
    }
    else if (strcmp(o->compression, "gzip") == 0) {
        rc = archive_write_add_filter_gzip(a);
        if (rc == ARCHIVE_OK && o->level > 0) {
            snprintf(value, sizeof value, "%d", o->level > 9 ? 9 : o->level);
            rc = archive_write_set_filter_option(a, "gzip", "compression-level", value);
        }
    }
    else if (strcmp(o->compression, "none") == 0)
        rc = archive_write_add_filter_none(a);
    else
        return tf_err_set(err, TF_ERR_INVALID, "unknown compression '%s' (zstd, gzip or none)", o->compression);
    if (rc != ARCHIVE_OK)
        return tf_err_set(err, TF_ERR_INVALID, "cannot set up %s compression (level %d): %s", o->compression,
                          o->level, archive_error_string(a) ? archive_error_string(a) : "failed");
    /* The compressed stream ends where the compressor ends it: zero padding after a zstd frame
       is "unsupported format" to zstd -d (tar's 10240-byte records are kept inside). */
    if (strcmp(o->compression, "none") != 0 && archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK)
        return s_out_error(run, err, "cannot set the last block size");
    if (archive_write_open2(a, run, NULL, s_write_cb, NULL, NULL) != ARCHIVE_OK)
        return s_out_error(run, err, "cannot start the archive");
    return TF_OK;
}

static const char *
s_type(struct archive_entry *e)
{
    if (archive_entry_hardlink(e))
        return "hardlink";
    switch (archive_entry_filetype(e)) {
    case AE_IFREG: return "file";
    case AE_IFDIR: return "dir";
    case AE_IFLNK: return "symlink";
    default: return "other";
    }
}

/* Writes count zero bytes (holes: the pax writer drops the ones its sparse map marks as
   holes, and stores any others). */
static int
s_write_zeros(run_t *run, uint64_t count)
{
    static const char zeros[65536];
    while (count > 0) {
        size_t n = count < sizeof zeros ? (size_t) count : sizeof zeros;
        if (archive_write_data(run->out, zeros, n) < 0 || run->sink_failed)
            return -1;
        tf_checksum_update_zeros(run->sum, n);
        count -= n;
    }
    return 0;
}

/* Copies the open regular file's content (size bytes as declared in the header). */
static int
s_copy_data(run_t *run, const char *path, uint64_t size, tf_err_t *err)
{
    uint64_t pos = 0;
    const char *problem = NULL;
    for (;;) {
        const void *buf;
        size_t n;
        la_int64_t offset;
        int rc = archive_read_data_block(run->disk, &buf, &n, &offset);
        if (rc == ARCHIVE_EOF)
            break;
        if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
            problem = archive_error_string(run->disk);
            break;
        }
        if ((uint64_t) offset >= size)
            continue;  /* the file grew since its header was written */
        if ((uint64_t) offset > pos && s_write_zeros(run, (uint64_t) offset - pos) != 0)
            return s_out_error(run, err, "cannot write the archive");
        if ((uint64_t) offset < pos) {
            problem = "data blocks out of order";
            break;
        }
        if (n > size - (uint64_t) offset)
            n = (size_t) (size - (uint64_t) offset);
        if (archive_write_data(run->out, buf, n) < 0 || run->sink_failed)
            return s_out_error(run, err, "cannot write the archive");
        tf_checksum_update(run->sum, buf, n);
        pos = (uint64_t) offset + n;
        run->bytes_done += n;
        if (run->opts->progress)
            run->opts->progress(run->opts->arg, run->bytes_done, run->entries_done);
        if (run->opts->stop && run->opts->stop(run->opts->arg))
            return tf_err_set(err, TF_ERR_INTERRUPTED, "stopped while archiving %s", path);
    }
    if (problem || pos < size) {
        /* A trailing hole ends without a block; anything else is a read problem or a file that
           shrank. The header promised size bytes: pad with zeros. */
        struct stat st;
        bool trailing_hole = !problem && lstat(path, &st) == 0 && (uint64_t) st.st_size == size;
        if (!trailing_hole)
            s_warn(run, false, path, "%s while archiving; the rest is stored as zeros",
                   problem ? problem : "file shrank");
        if (s_write_zeros(run, size - pos) != 0)
            return s_out_error(run, err, "cannot write the archive");
    }
    return TF_OK;
}

/* An entry the disk reader could not open: skipped, in words an operator acts on (libarchive
   says "<path>: Cannot stat"). */
static void
s_skip(run_t *run, const char *path, bool eof)
{
    int e = archive_errno(run->disk);
    if (eof || e == ENOENT || e == ENOTDIR)
        s_warn(run, true, path, "skipped: vanished since the scan (or not visible on this compressor's host)");
    else if (e == EACCES || e == EPERM)
        s_warn(run, true, path, "skipped: cannot be read: %s", strerror(e));
    else
        s_warn(run, true, path, "skipped: %s", archive_error_string(run->disk));
}

/* Relative stored path: leading '/' removed ("/" itself becomes "."). */
static const char *
s_relative(const char *path)
{
    while (*path == '/')
        path++;
    return *path ? path : ".";
}

static int
s_entry(run_t *run, const char *path, struct archive_entry *entry, tf_err_t *err)
{
    archive_entry_clear(entry);
    if (archive_read_disk_open(run->disk, path) != ARCHIVE_OK) {
        s_skip(run, path, false);
        return TF_OK;
    }
    int rc = archive_read_next_header2(run->disk, entry);
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
        s_skip(run, path, rc == ARCHIVE_EOF);
        archive_read_close(run->disk);
        return TF_OK;
    }
    archive_entry_set_pathname(entry, s_relative(path));
    /* Only mtime is kept (to the nanosecond): atime and ctime change by reading the tree and
       would give every entry an extended header; a restore sets atime to mtime. */
    archive_entry_unset_atime(entry);
    archive_entry_unset_ctime(entry);
    archive_entry_unset_birthtime(entry);
    struct archive_entry *e = entry, *spare = NULL;
    if (archive_entry_filetype(entry) != AE_IFDIR) {
        archive_entry_linkify(run->links, &e, &spare);
        if (!e) {  /* not the tar strategy's behaviour, but never write a NULL entry */
            archive_read_close(run->disk);
            return TF_OK;
        }
    }
    bool hardlink = archive_entry_hardlink(e) != NULL;
    if (hardlink)
        archive_entry_set_size(e, 0);
    if (archive_write_finish_entry(run->out) < ARCHIVE_WARN || run->sink_failed)
        return s_out_error(run, err, "cannot write the archive");
    uint64_t offset = (uint64_t) archive_filter_bytes(run->out, 0);
    rc = archive_write_header(run->out, e);
    if (rc == ARCHIVE_FATAL || run->sink_failed) {
        archive_read_close(run->disk);
        return s_out_error(run, err, "cannot write the archive");
    }
    if (rc == ARCHIVE_FAILED) {
        s_warn(run, true, path, "skipped: %s", archive_error_string(run->out));
        archive_read_close(run->disk);
        return TF_OK;
    }
    tf_checksum_reset(run->sum);
    bool regular = archive_entry_filetype(e) == AE_IFREG && !hardlink;
    uint64_t size = regular ? (uint64_t) archive_entry_size(e) : 0;
    if (regular && size > 0 && (rc = s_copy_data(run, path, size, err)) != TF_OK) {
        archive_read_close(run->disk);
        return rc;
    }
    archive_read_close(run->disk);

    char digest[TF_CHECKSUM_STRLEN];
    const char *user = archive_entry_uname(e), *group = archive_entry_gname(e);
    const char *link = hardlink ? archive_entry_hardlink(e) : archive_entry_symlink(e);
    tf_msg_file_row_t row = {
        .path = (char *) s_relative(path),  /* the pax writer adds a '/' to folders' names */
        .type = (char *) s_type(e),
        .size = size,
        .mtime = (int64_t) archive_entry_mtime(e),
        .mtime_nsec = (uint64_t) archive_entry_mtime_nsec(e),
        .mode = (uint64_t) (archive_entry_mode(e) & 07777),
        .uid = (uint64_t) archive_entry_uid(e),
        .gid = (uint64_t) archive_entry_gid(e),
        .user = user && strlen(user) <= TF_MSG_MAX_ID ? (char *) user : NULL,
        .group = group && strlen(group) <= TF_MSG_MAX_ID ? (char *) group : NULL,
        .checksum = regular ? (char *) tf_checksum_format(run->sum, digest) : NULL,
        .offset = offset,
        .link = (char *) link,
    };
    rc = file_rows_add(run->rows, &row, err);
    if (rc != TF_OK)
        return rc;
    run->stats->files++;
    run->stats->bytes += size;
    run->entries_done++;
    return TF_OK;
}

int
archiver_run(const archiver_opts_t *opts, const tf_msg_file_group_t *group, file_rows_t *rows,
             archiver_stats_t *stats, tf_err_t *err)
{
    memset(stats, 0, sizeof *stats);
    if (!archiver_compression_valid(opts->compression))
        return tf_err_set(err, TF_ERR_INVALID, "unknown compression '%s' (zstd, gzip or none)",
                          opts->compression ? opts->compression : "");
    run_t run = {.opts = opts, .rows = rows, .stats = stats};
    run.out = archive_write_new();
    run.disk = archive_read_disk_new();
    run.links = archive_entry_linkresolver_new();
    run.sum = tf_checksum_new();
    struct archive_entry *entry = archive_entry_new();
    int rc = TF_OK;
    if (!run.out || !run.disk || !run.links || !run.sum || !entry)
        rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory starting an archive");
    if (rc == TF_OK) {
        archive_entry_linkresolver_set_strategy(run.links, ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE);
        if (archive_read_disk_set_symlink_physical(run.disk) != ARCHIVE_OK
            || archive_read_disk_set_standard_lookup(run.disk) != ARCHIVE_OK)
            rc = tf_err_set(err, TF_ERR_IO, "cannot set up file reading: %s", archive_error_string(run.disk));
    }
    bool opened = false;
    if (rc == TF_OK && (rc = s_open_output(&run, err)) == TF_OK)
        opened = true;
    for (size_t i = 0; rc == TF_OK && i < group->entries_count; i++) {
        if (opts->stop && opts->stop(opts->arg))
            rc = tf_err_set(err, TF_ERR_INTERRUPTED, "stopped");
        else
            rc = s_entry(&run, group->entries[i].path, entry, err);
    }
    if (opened) {
        if (rc == TF_OK) {
            if (archive_write_close(run.out) != ARCHIVE_OK || run.sink_failed)
                rc = s_out_error(&run, err, "cannot finish the archive");
        }
    }
    archive_entry_free(entry);
    tf_checksum_destroy(&run.sum);
    if (run.links)
        archive_entry_linkresolver_free(run.links);
    if (run.disk)
        archive_read_free(run.disk);
    if (run.out) {
        /* A broken archive is closed regularly (so libarchive frees its buffers) with its last
           bytes swallowed, never flushed into the sink. */
        run.discard = rc != TF_OK;
        archive_write_free(run.out);
    }
    return rc;
}

uint64_t
archiver_size_bound(const tf_msg_file_group_t *group, const char *compression)
{
    /* Per entry: a ustar header, a pax extended header (its own header plus records holding
       the path, times and names twice over), the content padded to 512 bytes. An entry without
       content (folder, symbolic link, device, a further name of a hard-linked file) may carry a
       link target of up to PATH_MAX, twice (ustar linkname and pax linkpath), and attributes:
       it gets S_NO_CONTENT_ALLOWANCE. A regular file's bytes count once per group (the scanner
       gives further names of a hard-linked file size 0). */
    uint64_t bound = 2 * 10240;  /* end-of-archive blocks and the last record's padding */
    for (size_t i = 0; i < group->entries_count; i++) {
        uint64_t path = group->entries[i].path ? strlen(group->entries[i].path) : 0;
        uint64_t size = group->entries[i].size;
        bound += 3 * 512 + 2 * ((path + 511) / 512 * 512)
                 + (size ? (size + 511) / 512 * 512 : S_NO_CONTENT_ALLOWANCE);
    }
    if (compression && strcmp(compression, "none") != 0)
        bound += bound / 128 + 65536;  /* zstd/gzip framing of data that does not compress */
    return bound;
}
