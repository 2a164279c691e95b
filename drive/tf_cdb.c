/*  tf_cdb - SSC/SPC command descriptor blocks. */
#include "tf_cdb.h"

#include <string.h>

#include "tf_err.h"

void
tf_cdb_put_be(uint8_t *p, uint64_t value, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) {
        p[i] = (uint8_t) (value & 0xFF);
        value >>= 8;
    }
}

uint64_t
tf_cdb_get_be(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = (v << 8) | p[i];
    return v;
}

int32_t
tf_cdb_get_be24_signed(const uint8_t *p)
{
    uint32_t v = (uint32_t) tf_cdb_get_be(p, 3);
    if (v & 0x800000)
        v |= 0xFF000000u;
    return (int32_t) v;
}

static int
s_six(uint8_t *cdb, uint8_t op)
{
    memset(cdb, 0, TF_CDB_MAX);
    cdb[0] = op;
    return 6;
}

int
tf_cdb_test_unit_ready(uint8_t *cdb)
{
    return s_six(cdb, TF_OP_TEST_UNIT_READY);
}

int
tf_cdb_rewind(uint8_t *cdb, bool immed)
{
    s_six(cdb, TF_OP_REWIND);
    cdb[1] = immed ? 1 : 0;
    return 6;
}

int
tf_cdb_request_sense(uint8_t *cdb, uint8_t alloc)
{
    s_six(cdb, TF_OP_REQUEST_SENSE);
    cdb[4] = alloc;
    return 6;
}

int
tf_cdb_read_block_limits(uint8_t *cdb)
{
    return s_six(cdb, TF_OP_READ_BLOCK_LIMITS);
}

int
tf_cdb_read6(uint8_t *cdb, uint32_t length, bool sili)
{
    if (length == 0 || length > TF_CDB_MAX_BLOCK)
        return TF_ERR_TOOBIG;
    s_six(cdb, TF_OP_READ6);
    cdb[1] = sili ? 0x02 : 0x00; /* FIXED=0: variable block */
    tf_cdb_put_be(cdb + 2, length, 3);
    return 6;
}

int
tf_cdb_write6(uint8_t *cdb, uint32_t length)
{
    if (length == 0 || length > TF_CDB_MAX_BLOCK)
        return TF_ERR_TOOBIG;
    s_six(cdb, TF_OP_WRITE6);
    tf_cdb_put_be(cdb + 2, length, 3);
    return 6;
}

int
tf_cdb_write_filemarks6(uint8_t *cdb, uint32_t count, bool immed)
{
    if (count > TF_CDB_MAX_BLOCK)
        return TF_ERR_TOOBIG;
    s_six(cdb, TF_OP_WRITE_FILEMARKS6);
    cdb[1] = immed ? 1 : 0;
    tf_cdb_put_be(cdb + 2, count, 3);
    return 6;
}

int
tf_cdb_space6(uint8_t *cdb, int code, int32_t count)
{
    if (count > TF_CDB_MAX_COUNT6 || count < -TF_CDB_MAX_COUNT6 - 1)
        return TF_ERR_TOOBIG;
    if (code != TF_SPACE_CODE_BLOCKS && code != TF_SPACE_CODE_FILEMARKS
        && code != TF_SPACE_CODE_EOD)
        return TF_ERR_INVALID;
    s_six(cdb, TF_OP_SPACE6);
    cdb[1] = (uint8_t) code;
    tf_cdb_put_be(cdb + 2, (uint32_t) count & 0xFFFFFF, 3);
    return 6;
}

int
tf_cdb_space16(uint8_t *cdb, int code, int64_t count)
{
    if (code != TF_SPACE_CODE_BLOCKS && code != TF_SPACE_CODE_FILEMARKS
        && code != TF_SPACE_CODE_EOD)
        return TF_ERR_INVALID;
    memset(cdb, 0, TF_CDB_MAX);
    cdb[0] = TF_OP_SPACE16;
    cdb[1] = (uint8_t) code;
    tf_cdb_put_be(cdb + 4, (uint64_t) count, 8);
    return 16;
}

int
tf_cdb_inquiry(uint8_t *cdb, bool evpd, uint8_t page, uint16_t alloc)
{
    s_six(cdb, TF_OP_INQUIRY);
    cdb[1] = evpd ? 1 : 0;
    cdb[2] = evpd ? page : 0;
    tf_cdb_put_be(cdb + 3, alloc, 2);
    return 6;
}

int
tf_cdb_mode_sense6(uint8_t *cdb, bool dbd, uint8_t page, uint8_t alloc)
{
    s_six(cdb, TF_OP_MODE_SENSE6);
    cdb[1] = dbd ? 0x08 : 0x00;
    cdb[2] = page & 0x3F; /* PC=00b: current values */
    cdb[4] = alloc;
    return 6;
}

int
tf_cdb_mode_select6(uint8_t *cdb, bool pf, uint8_t length)
{
    s_six(cdb, TF_OP_MODE_SELECT6);
    cdb[1] = pf ? 0x10 : 0x00;
    cdb[4] = length;
    return 6;
}

int
tf_cdb_erase(uint8_t *cdb, bool long_erase, bool immed)
{
    s_six(cdb, TF_OP_ERASE6);
    cdb[1] = (uint8_t) ((long_erase ? 0x01 : 0x00) | (immed ? 0x02 : 0x00));
    return 6;
}

int
tf_cdb_load_unload(uint8_t *cdb, bool load, bool immed)
{
    s_six(cdb, TF_OP_LOAD_UNLOAD);
    cdb[1] = immed ? 1 : 0;
    cdb[4] = load ? 0x01 : 0x00;
    return 6;
}

int
tf_cdb_prevent_allow(uint8_t *cdb, bool prevent)
{
    s_six(cdb, TF_OP_PREVENT_ALLOW);
    cdb[4] = prevent ? 1 : 0;
    return 6;
}

int
tf_cdb_read_position(uint8_t *cdb, uint8_t service_action, uint16_t alloc)
{
    memset(cdb, 0, TF_CDB_MAX);
    cdb[0] = TF_OP_READ_POSITION;
    cdb[1] = service_action & 0x1F;
    /* The short forms have a fixed 20-byte answer and want allocation length 0. */
    if (service_action == TF_READPOS_LONG)
        tf_cdb_put_be(cdb + 7, alloc, 2);
    return 10;
}

int
tf_cdb_locate16(uint8_t *cdb, int dest_type, uint64_t identifier, bool immed)
{
    if (dest_type != TF_LOCATE_OBJECT && dest_type != TF_LOCATE_FILE && dest_type != TF_LOCATE_EOD)
        return TF_ERR_INVALID;
    memset(cdb, 0, TF_CDB_MAX);
    cdb[0] = TF_OP_LOCATE16;
    cdb[1] = (uint8_t) (((dest_type & 0x07) << 3) | (immed ? 0x01 : 0x00));
    tf_cdb_put_be(cdb + 4, identifier, 8);
    return 16;
}

int
tf_cdb_log_sense(uint8_t *cdb, uint8_t page, uint16_t alloc)
{
    memset(cdb, 0, TF_CDB_MAX);
    cdb[0] = TF_OP_LOG_SENSE;
    cdb[2] = (uint8_t) (0x40 | (page & 0x3F));
    tf_cdb_put_be(cdb + 7, alloc, 2);
    return 10;
}
