/*  item - the item in hand: events, refusals, cancel check, back-off (see item.h). */
#include "item.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tf_clock.h"
#include "tf_log.h"

void
item_event(item_t *it, bool alert, const char *level, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char topic[200];
    snprintf(topic, sizeof topic, "%s.%s", alert ? "alert.tape" : "drive", it->tw->drive_name);
    tf_publisher_t *pub = it->actor ? tf_actor_events(it->actor) : NULL;
    if (pub)
        tf_publisher_say(pub, topic, level, "%s", text);
    if (strcmp(level, "info") == 0)
        tf_log_info("%s", text);
    else
        tf_log_warn("%s", text);
}

void
item_mount_alert(item_t *it, const char *text)
{
    char topic[200];
    snprintf(topic, sizeof topic, "alert.mount.%s", it->tw->drive_name);
    tf_publisher_t *pub = it->actor ? tf_actor_events(it->actor) : NULL;
    if (pub)
        tf_publisher_say(pub, topic, "warn", "%s", text);
    tf_log_warn("%s", text);
}

int
item_refuse(item_t *it, tf_err_t *err)
{
    it->permanent = true;
    item_event(it, true, "error", "%s", err->message);
    return TF_ERR_INVALID;
}

bool
item_interrupted(item_t *it)
{
    return it->actor && tf_actor_interrupted(it->actor);
}

bool
item_cancelled(item_t *it)
{
    if (!it->work || !it->work->item_id)
        return false;
    tf_msg_t info;
    if (tf_client_item(it->tw->client, it->work->item_id, &info, 2000, NULL) != TF_OK)
        return false;
    bool cancelled = strcmp(info.item_info.state, "cancelled") == 0;
    tf_msg_clear(&info);
    return cancelled;
}

int64_t
tapewriter_backoff_ms(int64_t base_ms, int64_t max_ms, uint64_t attempt)
{
    if (base_ms <= 0)
        return 0;
    int64_t ms = base_ms;
    for (uint64_t i = 1; i < attempt && ms < INT64_MAX / 2 && (max_ms <= 0 || ms < max_ms); i++)
        ms *= 2;
    return max_ms > 0 && ms > max_ms ? max_ms : ms;
}

bool
tapewriter_backoff_wanted(bool cancelled, bool hand_off)
{
    return !cancelled && !hand_off;
}

/* The broker delivers a handed-back item again at once: without a pause a drive or cartridge
   that just failed would fail every attempt within a fraction of a second. Interruptible. */
void
item_backoff(item_t *it, const char *reason)
{
    int64_t ms = tapewriter_backoff_ms(it->tw->retry_backoff_ms, it->tw->retry_backoff_max_ms,
                                       it->work->attempt);
    if (ms <= 0 || (it->tw->max_attempts > 0 && (int64_t) it->work->attempt >= it->tw->max_attempts))
        return;   /* the broker fails the item for good now: nothing to wait for */
    tf_log_warn("item %s failed on attempt %" PRIu64 " (%s): handing it back in %.1f s "
                "(tapewriter/retry_backoff, doubled per attempt)", it->work->item_id, it->work->attempt,
                reason, (double) ms / 1000.0);
    int64_t until = tf_clock_mono_ms() + ms;
    int64_t next_check = tf_clock_mono_ms() + 2000;
    while (tf_clock_mono_ms() < until && !item_interrupted(it)) {
        /* A cancelled job needs no retry: hand the item back now (the broker drops it), so
           restores queued behind it do not wait out the pause. */
        if (tf_clock_mono_ms() >= next_check) {
            next_check = tf_clock_mono_ms() + 2000;
            if (item_cancelled(it)) {
                tf_log_info("item %s: job cancelled, back-off ended", it->work->item_id);
                return;
            }
        }
        tf_clock_sleep_ms(until - tf_clock_mono_ms() < 100 ? until - tf_clock_mono_ms() : 100);
    }
}
