/*  tape_test_util - helpers for the tape tests: temp trees, archives built with libarchive,
    records of a sim image. The fake stager and catalog are tests/support's tf_fakestager and
    tf_fakecatalog. */
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

/* Sim image: offset of the data of record `index` (0-based over blocks and filemarks), or -1. */
long tt_sim_record_offset(const char *image, size_t index, uint32_t *length);

#endif
