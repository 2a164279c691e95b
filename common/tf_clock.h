/*  tf_clock - the two clocks tapeflow uses: monotonic for timeouts, wall for records. */
#ifndef TF_CLOCK_H_INCLUDED
#define TF_CLOCK_H_INCLUDED
#include <stdint.h>

/* Milliseconds on a monotonic clock: for heartbeats, expiry and back-off. */
int64_t tf_clock_mono_ms(void);
/* Milliseconds since the Unix epoch: for journal rows, events and anything shown to people. */
int64_t tf_clock_wall_ms(void);
/* Formats wall-clock ms as ISO 8601 UTC ("2026-11-21T10:50:11.123Z") into buf. */
const char *tf_clock_format(int64_t wall_ms, char *buf, unsigned long size);
/* Sleeps, returning early only if interrupted by a signal. */
void tf_clock_sleep_ms(int64_t ms);

#endif
