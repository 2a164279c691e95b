/*  tf_sim_image - the simulated drive's tape: an image file that persists across opens.

    Format (all integers little-endian):
        offset 0   8 bytes  magic "TFSIMTP1"
               8   4        format version (1)
              12   4        header size (64)
              16  32        cartridge serial, ASCII, NUL padded
              48   8        TapeAlert flags latched on this cartridge (bit n-1 = flag n)
              56   8        reserved, zero
        from 64: records, each an 8-byte header {u32 type, u32 length} followed by length
        bytes of data. type 1 = data block, type 2 = filemark (length 0).
    End of data is the end of the file: writing anywhere but at the end truncates the rest,
    as on a real tape. A torn last record (crash mid-write) is cut off on open.

    The image is locked (flock) while open: a second open of the same image is refused as busy,
    naming the process that holds it.
*/
#ifndef TF_SIM_IMAGE_H_INCLUDED
#define TF_SIM_IMAGE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "tf_err.h"

#define TF_SIMIMG_HEADER 64
#define TF_SIMIMG_RECORD_HEADER 8

typedef enum { TF_SIMIMG_DATA = 1, TF_SIMIMG_FILEMARK = 2 } tf_simimg_type_t;

typedef struct _tf_simimg_t tf_simimg_t;

/* Opens path, creating a blank cartridge when it does not exist (serial may be NULL: one is
   made up from the path and time). */
tf_simimg_t *tf_simimg_open(const char *path, const char *serial, tf_err_t *err);
void tf_simimg_destroy(tf_simimg_t **self_p);

/* Number of records (data blocks and filemarks) on the tape. */
size_t tf_simimg_count(tf_simimg_t *self);
tf_simimg_type_t tf_simimg_type(tf_simimg_t *self, size_t index);
uint32_t tf_simimg_length(tf_simimg_t *self, size_t index);
/* Bytes of tape used by records before index (index == count: all). */
uint64_t tf_simimg_used(tf_simimg_t *self, size_t index);
/* Reads up to size bytes of data record index into buf. */
int tf_simimg_read(tf_simimg_t *self, size_t index, void *buf, size_t size, tf_err_t *err);
/* Drops record index and everything after it. */
int tf_simimg_truncate(tf_simimg_t *self, size_t index, tf_err_t *err);
/* Appends a record at the end. */
int tf_simimg_append(tf_simimg_t *self, tf_simimg_type_t type, const void *data, uint32_t length,
                     tf_err_t *err);

const char *tf_simimg_serial(tf_simimg_t *self);
uint64_t tf_simimg_alerts(tf_simimg_t *self);
int tf_simimg_set_alerts(tf_simimg_t *self, uint64_t flags, tf_err_t *err);

#endif
