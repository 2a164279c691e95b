/*  tf_cdb - builds SSC/SPC command descriptor blocks.

    Each builder fills cdb (at least TF_CDB_MAX bytes) and returns the CDB length, or a negative
    tf_status_t when an argument does not fit the command (e.g. a block over 16 MiB for WRITE(6)).
*/
#ifndef TF_CDB_H_INCLUDED
#define TF_CDB_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#define TF_CDB_MAX 16

/* Operation codes. */
enum {
    TF_OP_TEST_UNIT_READY = 0x00,
    TF_OP_REWIND = 0x01,
    TF_OP_REQUEST_SENSE = 0x03,
    TF_OP_READ_BLOCK_LIMITS = 0x05,
    TF_OP_READ6 = 0x08,
    TF_OP_WRITE6 = 0x0A,
    TF_OP_WRITE_FILEMARKS6 = 0x10,
    TF_OP_SPACE6 = 0x11,
    TF_OP_INQUIRY = 0x12,
    TF_OP_MODE_SELECT6 = 0x15,
    TF_OP_ERASE6 = 0x19,
    TF_OP_MODE_SENSE6 = 0x1A,
    TF_OP_LOAD_UNLOAD = 0x1B,
    TF_OP_PREVENT_ALLOW = 0x1E,
    TF_OP_READ_POSITION = 0x34,
    TF_OP_LOG_SENSE = 0x4D,
    TF_OP_SPACE16 = 0x91,
    TF_OP_LOCATE16 = 0x92
};

/* SPACE codes. */
enum { TF_SPACE_CODE_BLOCKS = 0, TF_SPACE_CODE_FILEMARKS = 1, TF_SPACE_CODE_EOD = 3 };

/* LOCATE(16) destination types. */
enum { TF_LOCATE_OBJECT = 0, TF_LOCATE_FILE = 1, TF_LOCATE_EOD = 3 };

/* READ POSITION service actions. */
enum { TF_READPOS_SHORT = 0x00, TF_READPOS_LONG = 0x06 };

#define TF_CDB_MAX_BLOCK 0xFFFFFF       /* 24-bit transfer length of READ(6)/WRITE(6) */
#define TF_CDB_MAX_COUNT6 0x7FFFFF      /* largest signed 24-bit SPACE(6) count */

int tf_cdb_test_unit_ready(uint8_t *cdb);
int tf_cdb_rewind(uint8_t *cdb, bool immed);
int tf_cdb_request_sense(uint8_t *cdb, uint8_t alloc);
int tf_cdb_read_block_limits(uint8_t *cdb);
/* Variable-block READ(6) of up to length bytes; sili suppresses ILI on short blocks. */
int tf_cdb_read6(uint8_t *cdb, uint32_t length, bool sili);
/* Variable-block WRITE(6) of one block. */
int tf_cdb_write6(uint8_t *cdb, uint32_t length);
int tf_cdb_write_filemarks6(uint8_t *cdb, uint32_t count, bool immed);
/* SPACE(6): signed 24-bit count (-8388608 .. 8388607). */
int tf_cdb_space6(uint8_t *cdb, int code, int32_t count);
int tf_cdb_space16(uint8_t *cdb, int code, int64_t count);
int tf_cdb_inquiry(uint8_t *cdb, bool evpd, uint8_t page, uint16_t alloc);
int tf_cdb_mode_sense6(uint8_t *cdb, bool dbd, uint8_t page, uint8_t alloc);
int tf_cdb_mode_select6(uint8_t *cdb, bool pf, uint8_t length);
int tf_cdb_erase(uint8_t *cdb, bool long_erase, bool immed);
int tf_cdb_load_unload(uint8_t *cdb, bool load, bool immed);
int tf_cdb_prevent_allow(uint8_t *cdb, bool prevent);
int tf_cdb_read_position(uint8_t *cdb, uint8_t service_action, uint16_t alloc);
int tf_cdb_locate16(uint8_t *cdb, int dest_type, uint64_t identifier, bool immed);
/* LOG SENSE, current cumulative values (PC=01b). */
int tf_cdb_log_sense(uint8_t *cdb, uint8_t page, uint16_t alloc);

/* Big-endian helpers shared by the drive layer and the simulator. */
void tf_cdb_put_be(uint8_t *p, uint64_t value, int bytes);
uint64_t tf_cdb_get_be(const uint8_t *p, int bytes);
/* Sign-extends a 24-bit big-endian field. */
int32_t tf_cdb_get_be24_signed(const uint8_t *p);

#endif
