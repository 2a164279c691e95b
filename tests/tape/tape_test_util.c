/*  tape_test_util - see tape_test_util.h. */
#include "tape_test_util.h"

#include <archive.h>
#include <archive_entry.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>


void
tt_checksum(const void *data, size_t size, char out[40])
{
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, XXH3_128bits(data, size));
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "xxh128:", 7);
    for (int i = 0; i < 16; i++) {
        out[7 + 2 * i] = hex[canon.digest[i] >> 4];
        out[8 + 2 * i] = hex[canon.digest[i] & 15];
    }
    out[39] = '\0';
}

uint8_t *
tt_random(size_t size, uint32_t seed)
{
    uint8_t *buf = malloc(size ? size : 1);
    uint32_t x = seed ? seed : 1;
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t) x;
    }
    return buf;
}

void
tt_write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
}

uint8_t *
tt_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t) n + 1);
    if (n > 0 && fread(buf, 1, (size_t) n, f) != (size_t) n)
        abort();
    fclose(f);
    buf[n] = 0;
    *size = (size_t) n;
    return buf;
}

typedef struct {
    uint8_t *data;
    size_t size;
    size_t alloc;
} s_membuf_t;

static la_ssize_t
s_mem_write(struct archive *a, void *arg, const void *buf, size_t len)
{
    (void) a;
    s_membuf_t *m = arg;
    if (m->size + len > m->alloc) {
        m->alloc = (m->size + len) * 2;
        m->data = realloc(m->data, m->alloc);
    }
    memcpy(m->data + m->size, buf, len);
    m->size += len;
    return (la_ssize_t) len;
}

uint8_t *
tt_archive_tree(const char *root, const char *const *names, bool compress, size_t *size)
{
    s_membuf_t m = {0};
    struct archive *out = archive_write_new();
    archive_write_set_format_pax_restricted(out);
    if (compress)
        archive_write_add_filter_zstd(out);
    /* No zero padding after the compressed stream: zstd readers (libarchive's, zstd -d)
       reject bytes after the last frame. */
    archive_write_set_bytes_in_last_block(out, 1);
    if (archive_write_open(out, &m, NULL, s_mem_write, NULL) != ARCHIVE_OK) {
        fprintf(stderr, "archive_write_open: %s\n", archive_error_string(out));
        abort();
    }
    struct archive *disk = archive_read_disk_new();
    archive_read_disk_set_standard_lookup(disk);
    archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS);
    struct archive_entry_linkresolver *lr = archive_entry_linkresolver_new();
    archive_entry_linkresolver_set_strategy(lr, archive_format(out));
    for (const char *const *n = names; *n; n++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", root, *n);
        struct archive_entry *e = archive_entry_new();
        archive_entry_copy_sourcepath(e, full);
        if (archive_read_disk_entry_from_file(disk, e, -1, NULL) < ARCHIVE_WARN) {
            fprintf(stderr, "%s: %s\n", full, archive_error_string(disk));
            abort();
        }
        archive_entry_copy_pathname(e, *n);
        struct archive_entry *sparse = NULL;
        archive_entry_linkify(lr, &e, &sparse);
        if (!e)
            continue;
        if (archive_write_header(out, e) < ARCHIVE_WARN) {
            fprintf(stderr, "%s: %s\n", full, archive_error_string(out));
            abort();
        }
        if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0) {
            size_t n2 = 0;
            uint8_t *content = tt_read_file(full, &n2);
            if (archive_write_data(out, content, n2) < 0)
                abort();
            free(content);
        }
        archive_entry_free(e);
    }
    archive_entry_linkresolver_free(lr);
    archive_read_free(disk);
    archive_write_close(out);
    archive_write_free(out);
    *size = m.size;
    return m.data;
}

long
tt_sim_record_offset(const char *image, size_t index, uint32_t *length)
{
    FILE *f = fopen(image, "rb");
    if (!f)
        return -1;
    long off = 64;
    for (size_t i = 0;; i++) {
        uint8_t h[8];
        if (fseek(f, off, SEEK_SET) != 0 || fread(h, 1, 8, f) != 8) {
            fclose(f);
            return -1;
        }
        uint32_t len = (uint32_t) h[4] | (uint32_t) h[5] << 8 | (uint32_t) h[6] << 16 | (uint32_t) h[7] << 24;
        if (i == index) {
            fclose(f);
            if (length)
                *length = len;
            return off + 8;
        }
        off += 8 + (long) len;
    }
}
