/*  The test-support layer itself (tests/support/tf_teststack, tf_testevents): its checks must
    be able to fail. A stop finds a sanitizer report in what the program's run wrote (and not in
    an earlier run's part of the log) and an exit other than 0 at SIGTERM; an event wait finds
    the topic and text it is given and gives up after its timeout. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_publisher.h"
#include "tf_teststack.h"

static void
s_append(const char *path, const char *line)
{
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs(line, f);
    fclose(f);
}

static void
test_stop_checks_exit_and_sanitizer(void **state)
{
    (void) state;
    const char *programs[] = {"bus", "broker", NULL};
    tf_teststack_opts_t opts = {.programs = programs};
    tf_teststack_t *stack = tf_teststack_new("tfsup", &opts);
    assert_non_null(stack);
    char why[PATH_MAX + 1024], log[PATH_MAX + 80];
    /* A report in the bus's log: the stop fails and says where. */
    s_append(tf_teststack_log(stack, "bus", log, sizeof log),
             "==4242==ERROR: AddressSanitizer: heap-use-after-free on address 0x1\n");
    assert_int_equal(tf_teststack_stop(stack, "bus", why, sizeof why), -1);
    assert_non_null(strstr(why, "holds a sanitizer report: ==4242==ERROR: AddressSanitizer"));
    /* Started again: that run wrote no report, so its stop is clean. */
    assert_int_equal(tf_teststack_start(stack, "bus"), 0);
    assert_int_equal(tf_teststack_stop(stack, "bus", why, sizeof why), 0);
    /* A program that did not exit 0 at SIGTERM. */
    assert_int_equal(tf_teststack_kill(stack, "broker", SIGKILL), 0);
    assert_false(tf_teststack_alive(stack, "broker"));
    assert_int_equal(tf_teststack_stop(stack, "broker", why, sizeof why), -1);
    assert_non_null(strstr(why, "broker was killed by signal 9"));
    /* down checks the logs of everything that ran: the old report is there. */
    assert_int_equal(tf_teststack_start(stack, "broker"), 0);
    assert_int_equal(tf_teststack_down(stack, why, sizeof why), -1);
    assert_non_null(strstr(why, "AddressSanitizer"));
    tf_teststack_destroy(&stack);
}

static void
test_events_wait_for_topic_and_text(void **state)
{
    (void) state;
    const char *programs[] = {"bus", NULL};
    tf_teststack_opts_t opts = {.programs = programs};
    tf_teststack_t *stack = tf_teststack_new("tfsup", &opts);
    assert_non_null(stack);
    /* The publisher first: it is connected by the time the subscription is live (a PUB
       socket drops what it sends before its connection is made). */
    tf_err_t err = {0};
    tf_publisher_t *pub = tf_publisher_new(NULL, tf_teststack_bus_in(stack), "test", 1000, &err);
    assert_non_null(pub);
    const char *topics[] = {"tftest.x.", NULL};
    tf_testevents_t *events = tf_teststack_events(stack, topics);
    assert_non_null(events);
    assert_int_equal(tf_publisher_say(pub, "tftest.x.one", "info", "first"), 0);
    assert_int_equal(tf_publisher_say(pub, "tftest.y.one", "info", "not subscribed"), 0);
    assert_int_equal(tf_publisher_say(pub, "tftest.x.two", "warn", "hello %d", 2), 0);
    tf_msg_t ev;
    assert_true(tf_testevents_wait(events, "tftest.x.", "hello", 5000, &ev));
    assert_string_equal(ev.event.topic, "tftest.x.two");
    assert_string_equal(ev.event.level, "warn");
    tf_msg_clear(&ev);
    /* nothing more of it: the wait gives up */
    assert_false(tf_testevents_wait(events, "tftest.x.", "hello", 300, NULL));
    const char *text = tf_testevents_text(events, 100);
    assert_non_null(strstr(text, "tftest.x.one: first\n"));
    assert_non_null(strstr(text, "tftest.x.two: hello 2\n"));
    assert_null(strstr(text, "tftest.y."));
    assert_null(strstr(text, "warm up"));
    tf_publisher_destroy(&pub);
    tf_testevents_destroy(&events);
    assert_int_equal(tf_teststack_finish(&stack), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_checks_exit_and_sanitizer),
        cmocka_unit_test(test_events_wait_for_topic_and_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
