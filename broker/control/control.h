/* -O check|stop|exit and the status table. */
#ifndef MUXSHIM_CONTROL_H
#define MUXSHIM_CONTROL_H

#include "broker.h"

/* A CONTROL request's host is resolved: answer it and free the request. */
void control_resolved(struct session *s);
/* Answer CTL_LIST at once with the status table. */
void control_list(struct peer *p);

#endif
