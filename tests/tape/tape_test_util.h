/*  tape_test_util - helpers for the tape tests: temp trees, archives built with libarchive,
    an in-test fake stager (ROUTER answering fetch, of the data and of the file rows sidecar)
    and an in-test fake catalog (a "catalog" worker answering cat_query and recording
    cat_written; it keeps no file rows). */
#ifndef TAPE_TEST_UTIL_H_INCLUDED
#define TAPE_TEST_UTIL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_config.h"
#include "tf_msg.h"

/* xxh128:<hex> of a buffer. */
void tt_checksum(const void *data, size_t size, char out[40]);
/* Writes size bytes of deterministic pseudo-random data (seed) into a new buffer. */
uint8_t *tt_random(size_t size, uint32_t seed);
/* Builds a pax archive (zstd when compress) of the tree under root, paths stored relative to
   root (root itself not included), into a heap buffer. */
uint8_t *tt_archive_tree(const char *root, const char *const *names, bool compress, size_t *size);
/* Writes a file with content. */
void tt_write_file(const char *path, const void *data, size_t size);
/* Reads a file; NULL when missing. */
uint8_t *tt_read_file(const char *path, size_t *size);

/* --- fake stager ------------------------------------------------------------------------ */
typedef struct _tt_stager_t tt_stager_t;
typedef void(tt_stager_hook_fn)(void *arg, const char *archive_id);
tt_stager_t *tt_stager_new(const char *endpoint);
void tt_stager_destroy(tt_stager_t **self_p);
/* Serves archive_id from data (copied). */
void tt_stager_add(tt_stager_t *self, const char *archive_id, const void *data, size_t size);
/* Serves data (copied) as the file rows sidecar of archive_id (added before); without one a
   fetch.rows is answered "no file rows sidecar". */
void tt_stager_add_rows(tt_stager_t *self, const char *archive_id, const void *data, size_t size);
/* fetch.rows requests answered. */
int tt_stager_rows_requests(tt_stager_t *self);
/* Every answer is delayed by ms. */
void tt_stager_set_delay(tt_stager_t *self, int ms);
/* Called (from the stager's thread) before the answer carrying the last byte of an archive. */
void tt_stager_set_last_hook(tt_stager_t *self, tt_stager_hook_fn *fn, void *arg);
int tt_stager_requests(tt_stager_t *self);

/* --- fake catalog ----------------------------------------------------------------------- */
typedef struct _tt_catalog_t tt_catalog_t;
tt_catalog_t *tt_catalog_new(tf_config_t *cfg);
void tt_catalog_destroy(tt_catalog_t **self_p);
/* Number of cat_written recorded; copies the i-th into *out (strings owned by the catalog). */
size_t tt_catalog_written(tt_catalog_t *self, size_t i, tf_msg_cat_written_t *out);
/* cat_query archive_files asked (each is failed: the fake catalog keeps no file rows). */
size_t tt_catalog_file_queries(tt_catalog_t *self);

/* Sim image: offset of the data of record `index` (0-based over blocks and filemarks), or -1. */
long tt_sim_record_offset(const char *image, size_t index, uint32_t *length);

#endif
