/* `muxrun doctor`: would a session be served by the broker, and on which connection? */
#ifndef MUXSHIM_DOCTOR_H
#define MUXSHIM_DOCTOR_H

#include <stddef.h>

#include "objects.h"

/* Describe, for the resolved CONTROL request s, who it logs in as, its route, and whether
 * the broker would serve it (on which open connection, or a new one, and why the open ones
 * do not take it) or hand it to the real ssh (and why). Returns 1 if served, 0 if not.
 * With CTL_JSON in its ctl_op: the same as one JSON object (docs/status-json.md). */
int doctor_report(const struct session *s, char *text, size_t len);

#endif
