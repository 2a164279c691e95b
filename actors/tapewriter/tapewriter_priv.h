/*  tapewriter_priv - what the tape writer's files share: its settings, the volume in the drive
    and the item in hand. Which file does what: docs/architecture.md, "The tape writer's files".
*/
#ifndef TAPEWRITER_PRIV_H_INCLUDED
#define TAPEWRITER_PRIV_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "tapewriter.h"
#include "tf_stage_fetch.h"
#include "tf_client.h"
#include "tf_drive.h"
#include "tf_label.h"

struct _tapewriter_t {
    tf_config_t *cfg;
    char drive_name[128];
    tf_client_t *client;
    uint32_t block_size;
    bool verify;
    tf_stage_fetch_opts_t fetch;
    int ready_timeout_ms;
    int busy_wait_ms;
    int catalog_timeout_ms;
    char changer_url[1024];    /* the changer whose drive element holds this drive ("": none) */
    char changer_name[129];    /* its configured name */
    int labeller_timeout_ms;   /* wait for the labeller's answer (it may move the robot) */
    int changer_drive;         /* that drive element */
    int mount_wait_ms;         /* without changer: how long to wait for the next volume (0: no spanning) */
    int64_t retry_backoff_ms;  /* before handing a failed archive back: this, doubled per attempt */
    int64_t retry_backoff_max_ms;
    int64_t max_attempts;      /* broker/max_attempts: the last attempt needs no back-off */
};

/* The volume in the drive while an item writes to it (docs/operations.md, "Volumes, pools
   and retention"): what the catalog or the tape says about it, and what happened this time. */
typedef struct {
    bool known;                /* the label was read and the volume checked */
    tf_label_t label;          /* as on the tape (after a recycle: the new label) */
    int64_t created_ms;        /* the label's generation */
    int64_t label_expires_ms;  /* the label's own expires (operator floor) */
    int64_t retention_ms;
    uint64_t bytes_used;       /* before this item */
    uint64_t write_errors;
    uint64_t read_errors;
    bool recycled;
    bool in_error;             /* the catalog has the cartridge in state error (tape clear ends it) */
    bool write_error;          /* a medium error while writing (not a hardware error: the drive's) */
    bool read_error;           /* verify read back something else */
    bool hit_end;              /* end of medium: the volume is full */
} volume_state_t;

/* One item in hand (item.h). */
typedef struct {
    tapewriter_t *tw;
    tf_actor_t *actor;         /* NULL when called without the runtime (tests) */
    const tf_msg_work_t *work;
    bool permanent;            /* a refusal: do not deliver again */
    bool cancelled;            /* the job was cancelled meanwhile: no back-off before handing back */
    volume_state_t vol;
    tf_drive_t *rdrive;        /* restore: the drive on the volume being read */
    const char *restore_job;   /* restore: the job restored (the item itself carries no job id) */
    void *remote;              /* restore to another host: its stream (restore_item.c) */
} item_t;

#endif
