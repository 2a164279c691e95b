/*  api_suite - the drive API test suite, run against any drive URL (sim variants and tgt).
    Each function uses cmocka assertions; call them from cmocka tests. The tape is overwritten.
*/
#ifndef API_SUITE_H_INCLUDED
#define API_SUITE_H_INCLUDED

#include <stdbool.h>

typedef struct {
    const char *url;
    bool has_tapealert;     /* LOG SENSE TapeAlert works */
    bool reports_position;  /* READ POSITION gives real answers */
} api_suite_t;

/* Identification, readiness, block limits, variable mode, medium status. */
void api_suite_identity(const api_suite_t *suite);
/* Write three tape files, read them back, short/long blocks, filemarks, end of data. */
void api_suite_read_write(const api_suite_t *suite);
/* Locate, locate_file, space in every direction, read position, append at end of data. */
void api_suite_positioning(const api_suite_t *suite);
/* Erase, load/unload, TapeAlert. */
void api_suite_misc(const api_suite_t *suite);

#endif
