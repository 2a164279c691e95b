/*  extractor - the `extract` worker: writes a restore to the host that asked for it.

    A restore whose destination is on another host than the tape writer's (tape_restore.dest_host)
    is read from tape by the tape writer, which streams the selected entries as one archive
    through the stager (stage_open.purpose "restore") and submits an `extract` item for this
    host (submit.host). The extractor fetches that stream from its own stager/endpoint
    (tf_stage_fetch, over tcp with CURVE), extracts it into extract.dest with the restore rules
    of a local restore (tf_extract.h: targets, strip/flat, overwrite, present, refusals,
    temporary names), checks the stream's size and checksum once read, reports progress, and
    answers extract_result with the counts. An item for another host is refused (retry: the
    broker routes it to that host's extractor). Delivered again, it simply runs again: what it
    wrote the first time is "already present".
*/
#ifndef EXTRACTOR_H_INCLUDED
#define EXTRACTOR_H_INCLUDED

#include "tf_actor.h"
#include "tf_config.h"
#include "tf_err.h"

typedef struct _extractor_t extractor_t;

extractor_t *extractor_new(tf_config_t *cfg, tf_err_t *err);
void extractor_destroy(extractor_t **self_p);

/* This host's name (tapeflow/host): the host extract items must name. */
const char *extractor_host(extractor_t *self);

extern const tf_actor_route_t extractor_routes[];

#endif
