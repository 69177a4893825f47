/*
 * run.h — `mapbench run`: plan a run, start the probe children, collect
 * their records and hand them to the store.
 */
#ifndef MB_RUN_H
#define MB_RUN_H

#include "args.h"

extern const mb_command mb_command_run;
extern const mb_command mb_command_plan; /* units.c: the run's units, for any runner */

#endif
