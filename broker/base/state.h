/* The broker-wide state: the listening socket, the worker pipe, the lists of clients and
 * connections. One instance, B (state.c); only the modules that walk those lists include
 * this. */
#ifndef MUXSHIM_STATE_H
#define MUXSHIM_STATE_H

#include <time.h>

struct peer;
struct session;
struct sshconn;

/* Broker-wide state. */
struct broker {
    int job_rd, job_wr; /* worker completion pipe */
    int njobs;
    int quit;
    int freed;            /* sessions freed since the heap was last trimmed */
    struct session *reap; /* sessions released this loop turn, freed at its end */
};

extern struct broker B;

#endif
