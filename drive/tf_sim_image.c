/*  tf_sim_image - record store for the simulated tape. */
#include "tf_sim_image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf_log.h"
#include "tf_proc_holders.h"

#define S_MAGIC "TFSIMTP1"
#define S_VERSION 1

typedef struct {
    uint64_t offset; /* of the record header */
    uint32_t length;
    uint8_t type;
} s_record_t;

struct _tf_simimg_t {
    int fd;
    char *path;
    char serial[33];
    uint64_t alerts;
    s_record_t *records;
    size_t count;
    size_t alloc;
    uint64_t end; /* file offset of end of data */
};

static void
s_put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        p[i] = (uint8_t) (v & 0xFF);
        v >>= 8;
    }
}

static uint64_t
s_get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int
s_pwrite_all(int fd, const void *buf, size_t len, uint64_t offset)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t) offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t) n;
        offset += (uint64_t) n;
    }
    return 0;
}

static int
s_pread_all(int fd, void *buf, size_t len, uint64_t offset)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t) offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t) n;
        offset += (uint64_t) n;
    }
    return 0;
}

static int
s_write_header(tf_simimg_t *self, tf_err_t *err)
{
    uint8_t h[TF_SIMIMG_HEADER];
    memset(h, 0, sizeof h);
    memcpy(h, S_MAGIC, 8);
    s_put_le(h + 8, S_VERSION, 4);
    s_put_le(h + 12, TF_SIMIMG_HEADER, 4);
    memcpy(h + 16, self->serial, strnlen(self->serial, 32));
    s_put_le(h + 48, self->alerts, 8);
    if (s_pwrite_all(self->fd, h, sizeof h, 0) != 0)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot write header of tape image %s",
                            self->path);
    return TF_OK;
}

static int
s_push(tf_simimg_t *self, uint8_t type, uint32_t length, uint64_t offset, tf_err_t *err)
{
    if (self->count == self->alloc) {
        size_t alloc = self->alloc ? self->alloc * 2 : 256;
        s_record_t *records = realloc(self->records, alloc * sizeof *records);
        if (!records)
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory indexing tape image %s",
                              self->path);
        self->records = records;
        self->alloc = alloc;
    }
    self->records[self->count].offset = offset;
    self->records[self->count].length = length;
    self->records[self->count].type = type;
    self->count++;
    return TF_OK;
}

/* Reads the header and indexes every record; cuts off a torn tail. */
static int
s_load(tf_simimg_t *self, uint64_t size, tf_err_t *err)
{
    uint8_t h[TF_SIMIMG_HEADER];
    if (size < TF_SIMIMG_HEADER || s_pread_all(self->fd, h, sizeof h, 0) != 0
        || memcmp(h, S_MAGIC, 8) != 0)
        return tf_err_set(err, TF_ERR_INVALID,
                          "%s is not a tapeflow simulated tape image (bad magic); remove it to "
                          "start with a blank tape, or point sim: at another file",
                          self->path);
    if (s_get_le(h + 8, 4) != S_VERSION || s_get_le(h + 12, 4) != TF_SIMIMG_HEADER)
        return tf_err_set(err, TF_ERR_INVALID,
                          "tape image %s has unsupported format version %u", self->path,
                          (unsigned) s_get_le(h + 8, 4));
    memcpy(self->serial, h + 16, 32);
    self->serial[32] = '\0';
    self->alerts = s_get_le(h + 48, 8);
    uint64_t at = TF_SIMIMG_HEADER;
    while (at + TF_SIMIMG_RECORD_HEADER <= size) {
        uint8_t r[TF_SIMIMG_RECORD_HEADER];
        if (s_pread_all(self->fd, r, sizeof r, at) != 0)
            return tf_err_errno(err, TF_ERR_IO, errno, "cannot read tape image %s", self->path);
        uint32_t type = (uint32_t) s_get_le(r, 4);
        uint32_t length = (uint32_t) s_get_le(r + 4, 4);
        if ((type != TF_SIMIMG_DATA && type != TF_SIMIMG_FILEMARK)
            || (type == TF_SIMIMG_FILEMARK && length != 0))
            return tf_err_set(err, TF_ERR_INVALID,
                              "tape image %s is corrupt at offset %llu (record type %u)",
                              self->path, (unsigned long long) at, type);
        if (at + TF_SIMIMG_RECORD_HEADER + length > size)
            break; /* torn write */
        int rc = s_push(self, (uint8_t) type, length, at, err);
        if (rc != TF_OK)
            return rc;
        at += TF_SIMIMG_RECORD_HEADER + length;
    }
    self->end = at;
    if (at != size) {
        tf_log_warn("tape image %s: cutting off a torn record at offset %llu", self->path,
                    (unsigned long long) at);
        if (ftruncate(self->fd, (off_t) at) != 0)
            return tf_err_errno(err, TF_ERR_IO, errno, "cannot repair tape image %s",
                                self->path);
    }
    return TF_OK;
}

tf_simimg_t *
tf_simimg_open(const char *path, const char *serial, tf_err_t *err)
{
    if (!path || !*path) {
        tf_err_set(err, TF_ERR_INVALID, "sim: needs an image path, e.g. sim:/var/tmp/tape.img");
        return NULL;
    }
    tf_simimg_t *self = calloc(1, sizeof *self);
    if (!self || !(self->path = strdup(path))) {
        free(self);
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (self->fd < 0) {
        int saved = errno;
        if (saved == ENOENT)
            tf_err_set(err, TF_ERR_NOTFOUND,
                       "cannot create tape image %s: its folder does not exist", path);
        else if (saved == EACCES || saved == EPERM)
            tf_err_set(err, TF_ERR_STATE,
                       "permission denied opening tape image %s: fix the file's owner or mode",
                       path);
        else
            tf_err_errno(err, TF_ERR_IO, saved, "cannot open tape image %s", path);
        tf_simimg_destroy(&self);
        return NULL;
    }
    if (flock(self->fd, LOCK_EX | LOCK_NB) != 0) {
        int saved = errno;
        if (saved == EWOULDBLOCK) {
            char holders[512];
            if (tf_proc_holders("/proc", path, holders, sizeof holders) > 0)
                tf_err_set(err, TF_ERR_BUSY,
                           "simulated drive %s is in use by %s: wait for that job to finish "
                           "or stop it, then retry",
                           path, holders);
            else
                tf_err_set(err, TF_ERR_BUSY,
                           "simulated drive %s is in use by another process", path);
        } else {
            tf_err_errno(err, TF_ERR_IO, saved, "cannot lock tape image %s", path);
        }
        tf_simimg_destroy(&self);
        return NULL;
    }
    struct stat st;
    if (fstat(self->fd, &st) != 0) {
        tf_err_errno(err, TF_ERR_IO, errno, "cannot stat tape image %s", path);
        tf_simimg_destroy(&self);
        return NULL;
    }
    int rc;
    if (st.st_size == 0) {
        if (serial && *serial)
            snprintf(self->serial, sizeof self->serial, "%s", serial);
        else {
            unsigned long hash = 5381;
            for (const char *p = path; *p; p++)
                hash = hash * 33 + (unsigned char) *p;
            snprintf(self->serial, sizeof self->serial, "SIM%08lX%04X",
                     hash & 0xFFFFFFFFul, (unsigned) (st.st_ino & 0xFFFF));
        }
        rc = s_write_header(self, err);
        self->end = TF_SIMIMG_HEADER;
    } else {
        rc = s_load(self, (uint64_t) st.st_size, err);
        if (rc == TF_OK && serial && *serial && strcmp(serial, self->serial) != 0) {
            snprintf(self->serial, sizeof self->serial, "%s", serial);
            rc = s_write_header(self, err);
        }
    }
    if (rc != TF_OK)
        tf_simimg_destroy(&self);
    return self;
}

void
tf_simimg_destroy(tf_simimg_t **self_p)
{
    if (self_p && *self_p) {
        tf_simimg_t *self = *self_p;
        if (self->fd >= 0)
            close(self->fd); /* releases the flock */
        free(self->records);
        free(self->path);
        free(self);
        *self_p = NULL;
    }
}

size_t
tf_simimg_count(tf_simimg_t *self)
{
    return self->count;
}

tf_simimg_type_t
tf_simimg_type(tf_simimg_t *self, size_t index)
{
    return index < self->count ? (tf_simimg_type_t) self->records[index].type : TF_SIMIMG_DATA;
}

uint32_t
tf_simimg_length(tf_simimg_t *self, size_t index)
{
    return index < self->count ? self->records[index].length : 0;
}

uint64_t
tf_simimg_used(tf_simimg_t *self, size_t index)
{
    if (index >= self->count)
        return self->end - TF_SIMIMG_HEADER;
    return self->records[index].offset - TF_SIMIMG_HEADER;
}

int
tf_simimg_read(tf_simimg_t *self, size_t index, void *buf, size_t size, tf_err_t *err)
{
    if (index >= self->count)
        return tf_err_set(err, TF_ERR_INVALID, "record %zu past end of data", index);
    size_t len = self->records[index].length;
    if (len > size)
        len = size;
    if (len && s_pread_all(self->fd, buf, len, self->records[index].offset
                                                   + TF_SIMIMG_RECORD_HEADER) != 0)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot read tape image %s", self->path);
    return TF_OK;
}

int
tf_simimg_truncate(tf_simimg_t *self, size_t index, tf_err_t *err)
{
    if (index >= self->count)
        return TF_OK;
    uint64_t end = self->records[index].offset;
    if (ftruncate(self->fd, (off_t) end) != 0)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot truncate tape image %s", self->path);
    self->count = index;
    self->end = end;
    return TF_OK;
}

int
tf_simimg_append(tf_simimg_t *self, tf_simimg_type_t type, const void *data, uint32_t length,
                 tf_err_t *err)
{
    uint8_t r[TF_SIMIMG_RECORD_HEADER];
    s_put_le(r, (uint64_t) type, 4);
    s_put_le(r + 4, length, 4);
    uint64_t at = self->end;
    if (s_pwrite_all(self->fd, r, sizeof r, at) != 0
        || (length && s_pwrite_all(self->fd, data, length, at + sizeof r) != 0)) {
        int saved = errno;
        if (ftruncate(self->fd, (off_t) at) != 0)
            tf_log_warn("cannot undo a failed write to %s", self->path);
        return tf_err_errno(err, TF_ERR_IO, saved, "cannot write tape image %s", self->path);
    }
    int rc = s_push(self, (uint8_t) type, length, at, err);
    if (rc != TF_OK)
        return rc;
    self->end = at + sizeof r + length;
    return TF_OK;
}

const char *
tf_simimg_serial(tf_simimg_t *self)
{
    return self->serial;
}

uint64_t
tf_simimg_alerts(tf_simimg_t *self)
{
    return self->alerts;
}

int
tf_simimg_set_alerts(tf_simimg_t *self, uint64_t flags, tf_err_t *err)
{
    if (flags == self->alerts)
        return TF_OK;
    self->alerts = flags;
    return s_write_header(self, err);
}
