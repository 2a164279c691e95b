/*  broker - durable work dispatch: Majordomo (services, workers, heartbeats, one item per worker)
    with Titanic's durability (every item journalled before it is acknowledged or dispatched).

    The core never touches a socket or a clock: the process main feeds it decoded messages with
    the sender's routing id (hex) and the current time, and the core answers through the send
    and publish callbacks. That keeps every rule here testable without processes.

    Rules:
    - A worker holds one credit: it gets one item, and the next only after done/failed.
    - Any message from a worker proves it alive; silence for heartbeat x liveness ms kills it
      and its item is queued again (first in line), counted as redelivered.
    - Over tcp (a peer with a key) only the worker an item is or was in flight with in this run
      (or the holder of its abandoned delivery) may send its done, failed or progress; others
      are refused, logged, counted (broker_refused) and published as alert.security. A keyed
      worker's result for an item it got before a broker restart is refused the same way (the
      item runs again: work is idempotent). ipc peers are local and trusted.
    - An item is completed once. The first done wins; a done for an item that is already done
      (a late reply from a worker declared dead, or a repeat) is recognised and ignored.
    - After max_attempts deliveries whose workers all died, the item fails for good.
    - On start, queued and in-flight items are recovered from the journal and queued again.
    - When an item that belongs to a job fails for good, the broker queues a cat_job{failed}
      item for job_service (the catalog) itself, so the job's record gets the root cause even
      when the failing process is gone.
    - With a list of known services, a submit for any other service is refused with an error
      naming the known ones (it would wait forever). Known: the list, every service a worker
      registered for, and every service with items in the journal.
    - Refused messages (malformed, unknown service) are counted per peer (STATUS rejects) and
      logged one by one for the first reject_log of each peer, at most reject_log_minute a
      minute across all peers, then summarised once a minute (the 10 peers refused most, one
      line for the rest). A peer quiet for an hour leaves the table.
    - Hosts: a worker registers with its host (ready.host, tapeflow/host). An item submitted
      with a host (submit.host, journalled with it) goes only to a worker of its service from
      that host; items without a host go to any worker. An item for a host that has no live
      worker of its service is passed over (the items behind it are not held up) and, after
      host_wait_alert_ms, raises alert.worker.<service> naming the host, the count and the fix
      (at most once per that interval per service and host); each job with such items gets a
      cat_job note for job_service once ("waiting for host B: ..."), and another when a worker
      of the host is back.
    - Events: routine per-item chatter goes to item.<service>.<event> (dispatched, done,
      requeued, failed, progress of items without a job), worker.<service>.ready when a worker
      registers, alert.worker.<service> when one dies; job.<id>.progress relays progress.
    - job_op cancel (tapeflow job cancel): the job's queued items are journalled cancelled and
      dropped, its in-flight items abandoned (cancelled in the journal; the worker's late
      done/failed is ignored and only gives it its credit back), and new items of the job are
      inserted cancelled at submit (one statement: never queued first) - except items of the
      services the operator spares (bookkeeping: the job service, the stager's releases). On
      start, cancelled jobs are loaded before pending items, and a pending item of a cancelled
      job is marked cancelled instead of queued. job_op retry queues the job's failed and
      cancelled pipeline items again with fresh attempts: services scan, compress, catalog and replicate,
      and tape items whose id ends in "-tape" (a failed tape_restore or stage_purge of the job
      is not run again). An abandoned item whose old worker has not yet sent its done/failed
      (nor died) is skipped and counted in job_op_ok.finishing ("N items still finishing; retry
      again shortly"): queued now, two workers would run it. Items the journal cannot record
      the action for are counted in job_op_ok.unrecorded and explained in job_op_ok.note.
      Both queue cat_job{cancelled | retried} for job_service before anything else, so the
      catalog sees the action first; the catalog publishes job.<id>.cancelled|retried once it
      has applied it (the broker does not).
*/
#ifndef BROKER_H_INCLUDED
#define BROKER_H_INCLUDED

#include <stdint.h>

#include "journal.h"
#include "tf_msg.h"

typedef struct _broker_t broker_t;

typedef struct {
    int64_t heartbeat_ms;   /* heartbeat interval, both ways */
    int64_t liveness;       /* intervals of silence before a worker is dead */
    int64_t max_attempts;   /* deliveries before an item fails for good */
    int64_t keep_done_ms;   /* finished items stay queryable this long */
    const char *job_service; /* where a job's permanent failures are reported (cat_job failed);
                                NULL or "" for nowhere */
    const char *const *services; /* NULL-terminated known services; NULL: accept any service */
    int64_t reject_log;     /* refused messages logged one by one per peer; then summaries */
    int64_t reject_summary_ms; /* time between summaries of a peer's refused messages */
    int64_t reject_log_minute; /* refusals logged one by one per minute across all peers */
    int64_t host_wait_alert_ms; /* an item waiting this long for a host without a live worker
                                   of its service raises an alert (> 0; broker/host_wait_alert) */
} broker_opts_t;

/* Sends msg to a peer (hex routing id). Returns TF_ERR_NOTFOUND when the peer is gone. */
typedef int(broker_send_fn)(void *arg, const char *peer, const tf_msg_t *msg);
/* Publishes an event; the callback fills time, source and sequence. */
typedef void(broker_publish_fn)(void *arg, tf_msg_event_t *event);

broker_t *broker_new(journal_t *journal, const broker_opts_t *opts, broker_send_fn *send,
                     broker_publish_fn *publish, void *arg);
void broker_destroy(broker_t **self_p);

/* Queues every pending item found in the journal. Call once, before handling messages. */
int broker_recover(broker_t *self, int64_t now_mono, tf_err_t *err);

/* Handles one decoded message from peer. peer_key is the name of the trusted CURVE key the
   message came with (NULL over ipc); a worker registering records it. Never fails: problems are
   answered or logged. */
void broker_handle(broker_t *self, const char *peer, const char *peer_key, const tf_msg_t *msg,
                   int64_t now_mono, int64_t now_wall);

/* Answers a peer whose message could not be decoded, and counts it. */
void broker_reject(broker_t *self, const char *peer, const tf_err_t *why, int64_t now_mono,
                   int64_t now_wall);

/* Sends due heartbeats, expires silent workers, purges old items. Returns ms until the next
   call is due. */
int64_t broker_tick(broker_t *self, int64_t now_mono, int64_t now_wall);

/* Fills a STATUS message (heap-owned; tf_msg_clear it). */
int broker_status(broker_t *self, const char *rid, int64_t now_mono, int64_t now_wall,
                  tf_msg_t *status);

/* Counters, for tests and logs. */
uint64_t broker_completed(broker_t *self);
uint64_t broker_duplicates(broker_t *self);
/* Security refusals of the core: worker reports (done, failed, progress) from a keyed peer the
   item is not in flight with, and messages under a registered worker's routing id with
   another key. main adds them to status.security_refused. */
uint64_t broker_refused(broker_t *self);
/* Messages refused from peer so far (0 for a peer never refused). */
uint64_t broker_rejected(broker_t *self, const char *peer);

#endif
