/*  echo - the test actor: proves the runtime end to end and lets tests script failures.

    The payload is a small script:
      TEXT                  done at once, result TEXT
      sleep:MS:TEXT         works MS milliseconds (progress every 50 ms), result TEXT
      fail:REASON           fails for good with REASON
      retry:REASON          fails asking for another delivery
      crash                 abort()s the process mid-item (for crash tests)
    When actors/echo/record names a file, each completion appends "ITEM ATTEMPT PID" to it, so
    tests can count how often an item was really worked on.
*/
#ifndef ECHO_H_INCLUDED
#define ECHO_H_INCLUDED

#include "tf_actor.h"

typedef struct {
    const char *record_path;  /* may be NULL */
} echo_t;

/* The routes tapeflow-echo serves (arg: an echo_t): one opaque row, the script. */
extern const tf_actor_route_t echo_routes[];

#endif
