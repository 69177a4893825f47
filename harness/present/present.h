/*
 * present.h — what is shown from the database: the plots, the HTML report
 * and the regression gate.  Reads the store; measures nothing.
 */
#ifndef MB_PRESENT_H
#define MB_PRESENT_H

#include "args.h"
#include "clock.h"

extern const mb_command mb_command_gate;
extern const mb_command mb_command_plot;
extern const mb_command mb_command_report;

#endif
