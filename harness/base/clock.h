/* clock.h — the clocks every room reads. */
#ifndef MB_CLOCK_H
#define MB_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in ns. */
uint64_t mb_now_ns(void);
/* Current UTC time as ISO 8601 with milliseconds into buf. */
void mb_now_iso(char *buf, size_t len);

#endif
