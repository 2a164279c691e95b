/*  echo - the test actor's logic. */
#include "echo.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tf_clock.h"

static int
s_record(const echo_t *echo, const tf_msg_work_t *work, tf_err_t *err)
{
    if (!echo->record_path || !*echo->record_path)
        return TF_OK;
    char line[256];
    int n = snprintf(line, sizeof line, "%s %" PRIu64 " %d\n", work->item_id, work->attempt, (int) getpid());
    int fd = open(echo->record_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot open record file %s", echo->record_path);
    ssize_t w = write(fd, line, (size_t) n);
    close(fd);
    if (w != n)
        return tf_err_set(err, TF_ERR_IO, "cannot append to %s", echo->record_path);
    return TF_OK;
}

/* The payload is a text script, not a message: the route is opaque. */
static int
s_on_script(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload, void *arg, tf_err_t *err)
{
    const echo_t *echo = arg;
    char script[1024];
    size_t len = work->payload.size < sizeof script - 1 ? work->payload.size : sizeof script - 1;
    if (len)
        memcpy(script, work->payload.data, len);
    script[len] = '\0';

    const char *result = script;
    if (strncmp(script, "fail:", 5) == 0)
        return tf_err_set(err, TF_ERR_INVALID, "%s", script + 5);
    if (strncmp(script, "retry:", 6) == 0)
        return tf_err_set(err, TF_ERR_IO, "%s", script + 6);
    if (strcmp(script, "crash") == 0)
        abort();
    if (strncmp(script, "sleep:", 6) == 0) {
        char *end = NULL;
        long ms = strtol(script + 6, &end, 10);
        if (end == script + 6 || *end != ':' || ms < 0)
            return tf_err_set(err, TF_ERR_INVALID, "bad sleep script '%s' (expected sleep:MS:TEXT)", script);
        result = end + 1;
        for (long slept = 0; slept < ms; slept += 50) {
            if (tf_actor_interrupted(actor))
                return tf_err_set(err, TF_ERR_INTERRUPTED, "stopped after %ld of %ld ms", slept, ms);
            tf_clock_sleep_ms(ms - slept < 50 ? ms - slept : 50);
            tf_actor_progress(actor, work, (uint64_t) slept, (uint64_t) ms, "sleeping");
        }
    }
    int rc = s_record(echo, work, err);
    if (rc != TF_OK)
        return rc;
    return tf_actor_set_result(actor, result, strlen(result));
}

const tf_actor_route_t echo_routes[] = {
    {TF_ACTOR_OPAQUE, s_on_script},
    TF_ACTOR_ROUTES_END
};
