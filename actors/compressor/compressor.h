/*  compressor - the `compress` service: one file_group item -> one archive staged on the
    stager (stage protocol with credit, its file rows with it as the sidecar the tape writer
    indexes from) -> its catalog rows as cat_files items.

    compressor_stage does the archive part without the broker (testable in-process);
    compressor_routes is the actor's route table around it (its file_group handler).
    Settings: compressor/compression (used when the group names none), compressor/level,
    compressor/threads, compressor/chunk, compressor/stager_timeout (how long the stager may be
    silent), stager/endpoint, broker/endpoint, broker/max_message; their defaults are in the
    key table (common/tf_config.c).
*/
#ifndef COMPRESSOR_H_INCLUDED
#define COMPRESSOR_H_INCLUDED

#include "archiver.h"
#include "file_rows.h"
#include "tf_actor.h"
#include "tf_config.h"

typedef struct _compressor_t compressor_t;

compressor_t *compressor_new(tf_config_t *cfg, tf_err_t *err);
void compressor_destroy(compressor_t **self_p);

/* Archives group's entries and streams the archive, then its file rows (stage_rows), to the
   stager until it answers "staged" (or "already staged": then the archive is built again only
   for its rows, sending nothing).
   actor/work may be NULL (tests): then no progress or warning events are sent. *rows is new
   on success (caller destroys). */
int compressor_stage(compressor_t *self, const tf_msg_file_group_t *group, tf_actor_t *actor,
                     const tf_msg_work_t *work, file_rows_t **rows, archiver_stats_t *stats, tf_err_t *err);

/* Submits rows as cat_files items "<archive>-files-<part>" to the catalog service. */
int compressor_submit_rows(compressor_t *self, const tf_msg_file_group_t *group, file_rows_t *rows,
                           tf_err_t *err);

/* Times the last archive had to wait for the stager's credit (back-pressure; for tests). */
uint64_t compressor_credit_waits(compressor_t *self);
/* The last archive's stage client: credit grants received and most credit held at once. */
uint64_t compressor_credit_grants(compressor_t *self);
uint64_t compressor_credit_max_held(compressor_t *self);

/* The routes tapeflow-compressor serves (arg: the compressor_t): file_group. */
extern const tf_actor_route_t compressor_routes[];

#endif
