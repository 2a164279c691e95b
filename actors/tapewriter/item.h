/*  item - the item in hand (item_t, tapewriter_priv.h): its events, refusals, whether it was
    interrupted or cancelled, and the pause before a failed archive item is handed back.

    Events go to drive.<drive> (alert.tape.<drive> for alerts, alert.mount.<drive> when an
    operator has to put a tape in) and to the log.
*/
#ifndef ITEM_H_INCLUDED
#define ITEM_H_INCLUDED

#include <stdbool.h>

#include "tapewriter_priv.h"

/* An event on drive.<drive>, or with alert on alert.tape.<drive>; level "info" logs as info,
   anything else as a warning. */
void item_event(item_t *it, bool alert, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* An alert.mount.<drive> event: an operator has to put a tape in. */
void item_mount_alert(item_t *it, const char *text);

/* Fails the item for good with err's message (an alert); returns TF_ERR_INVALID. */
int item_refuse(item_t *it, tf_err_t *err);

/* Whether the runtime asks the actor to stop (never without a runtime). */
bool item_interrupted(item_t *it);

/* Whether the broker cancelled this item (tapeflow job cancel): then waiting for an operator
   to mount a tape, or before a retry, is pointless. */
bool item_cancelled(item_t *it);

/* Pauses before a failed archive item goes back to the broker (tapewriter_backoff_ms with
   tapewriter/retry_backoff and retry_backoff_max); none on the last attempt. Ends early when
   the actor is interrupted or the job is cancelled. reason: for the log. */
void item_backoff(item_t *it, const char *reason);

#endif
