/*  tf_units - sizes as people read and write them: "1.5 GiB" out, "512M" / "1G" in. */
#ifndef TF_UNITS_H_INCLUDED
#define TF_UNITS_H_INCLUDED
#include <stddef.h>
#include <stdint.h>

/* "512 B", "1.5 KiB", "3.2 MiB", "1.0 GiB", ... (binary units) into buf; returns buf. */
const char *tf_units_bytes(uint64_t bytes, char *buf, size_t size);

/* Parses "65536", "512K", "512M", "1G", "2T" (powers of 1024; "KiB"/"KB"/"B" suffixes
   accepted) into *bytes. Returns 0, or -1 when the text is not a size. */
int tf_units_parse_size(const char *text, uint64_t *bytes);

/* A whole number in [min, max]: optional '-', decimal digits, nothing else (no spaces, no
   suffix, no "" ). Returns 0, or -1 when the text is not one or out of range. */
int tf_units_parse_int(const char *text, int64_t min, int64_t max, int64_t *value);

/* Seconds as people type them ("10", "0.5") into ms, in [min_ms, max_ms]. Returns 0 or -1. */
int tf_units_parse_seconds(const char *text, int64_t min_ms, int64_t max_ms, int64_t *ms);

#endif
