/*  tf_testevents - see tf_testevents.h. */
#include "tf_testevents.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_clock.h"
#include "tf_publisher.h"
#include "tf_wire.h"

#define S_WARMUP_TOPIC "tftest.warmup"
#define S_WARMUP_MS 10000

struct _tf_testevents_t {
    zsock_t *sub;
    char *text;    /* "topic: message\n" of every event received */
    size_t used, cap;
};

static void
s_remember(tf_testevents_t *self, const tf_msg_event_t *e)
{
    size_t need = strlen(e->topic) + (e->message ? strlen(e->message) : 0) + 4;
    if (self->used + need >= self->cap) {
        size_t cap = (self->cap + need) * 2;
        char *bigger = realloc(self->text, cap);
        if (!bigger)
            return;  /* the text is for messages only */
        self->text = bigger;
        self->cap = cap;
    }
    self->used += (size_t) snprintf(self->text + self->used, self->cap - self->used, "%s: %s\n", e->topic,
                                    e->message ? e->message : "");
}

tf_testevents_t *
tf_testevents_new(const char *bus_in, const char *bus_out, const char *const prefixes[], char *why,
                  size_t why_size)
{
    tf_testevents_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    self->text = calloc(1, 1);
    self->cap = 1;
    self->sub = zsock_new_sub(bus_out, S_WARMUP_TOPIC);
    if (!self->text || !self->sub) {
        snprintf(why, why_size, "cannot subscribe to the bus at %s", bus_out);
        tf_testevents_destroy(&self);
        return NULL;
    }
    for (size_t i = 0; prefixes && prefixes[i]; i++)
        zsock_set_subscribe(self->sub, prefixes[i]);
    tf_err_t err = {0};
    tf_publisher_t *pub = tf_publisher_new(NULL, bus_in, "tftest", 1000, &err);
    if (!pub) {
        snprintf(why, why_size, "cannot publish on the bus at %s: %s", bus_in, err.message);
        tf_testevents_destroy(&self);
        return NULL;
    }
    /* A subscription takes effect some time after the connect: publish until one comes back. */
    bool warm = false;
    int64_t deadline = tf_clock_mono_ms() + S_WARMUP_MS;
    zsock_set_rcvtimeo(self->sub, 100);
    while (!warm && tf_clock_mono_ms() < deadline) {
        tf_publisher_say(pub, S_WARMUP_TOPIC, "info", "warm up");
        tf_msg_t ev;
        while (!warm && tf_wire_recv_event(self->sub, &ev, NULL) == TF_OK) {
            warm = strcmp(ev.event.topic, S_WARMUP_TOPIC) == 0;
            tf_msg_clear(&ev);
        }
    }
    tf_publisher_destroy(&pub);
    if (!warm) {
        snprintf(why, why_size, "no event came back from the bus (%s -> %s) within %d s", bus_in, bus_out,
                 S_WARMUP_MS / 1000);
        tf_testevents_destroy(&self);
        return NULL;
    }
    return self;
}

void
tf_testevents_destroy(tf_testevents_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tf_testevents_t *self = *self_p;
    zsock_destroy(&self->sub);
    free(self->text);
    free(self);
    *self_p = NULL;
}

bool
tf_testevents_next(tf_testevents_t *self, int timeout_ms, tf_msg_t *ev)
{
    int64_t deadline = tf_clock_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - tf_clock_mono_ms();
        zsock_set_rcvtimeo(self->sub, left > 0 ? (int) left : 0);
        if (tf_wire_recv_event(self->sub, ev, NULL) != TF_OK)
            return false;
        if (strcmp(ev->event.topic, S_WARMUP_TOPIC) == 0) {
            tf_msg_clear(ev);  /* a late copy of the warm-up */
            continue;
        }
        s_remember(self, &ev->event);
        return true;
    }
}

bool
tf_testevents_wait(tf_testevents_t *self, const char *topic, const char *text, int timeout_ms, tf_msg_t *ev)
{
    int64_t deadline = tf_clock_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - tf_clock_mono_ms();
        tf_msg_t got;
        if (left < 0 || !tf_testevents_next(self, (int) left, &got))
            return false;
        const tf_msg_event_t *e = &got.event;
        bool match = (!topic || strncmp(e->topic, topic, strlen(topic)) == 0)
                     && (!text || (e->message && strstr(e->message, text)));
        if (match && ev)
            *ev = got;
        else
            tf_msg_clear(&got);
        if (match)
            return true;
    }
}

const char *
tf_testevents_text(tf_testevents_t *self, int quiet_ms)
{
    tf_msg_t ev;
    while (tf_testevents_next(self, quiet_ms, &ev))
        tf_msg_clear(&ev);
    return self->text;
}
