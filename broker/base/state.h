/* What is left of the broker-wide state B (state.c) while issue 23 moves each field to its
 * owner (clients: peer.c; connections: pool.c; the loop's counts: loop.c; the listening
 * socket: main; the turn's deadline: an argument of pool_pump; the jobs' pipe, count and
 * stopping state: jobs.c); to be removed once these fields have gone too. */
#ifndef MUXSHIM_STATE_H
#define MUXSHIM_STATE_H

struct session;

/* Broker-wide state. */
struct broker {
    /* Sessions freed since the heap was last trimmed: session.c counts them, the loop's tick
     * trims the heap and clears it once no client is left. */
    int freed;
    /* Sessions released this loop turn (linked by reap_next), freed at its end: session.c
     * links them when released and frees them in session_reap (loop_reap). */
    struct session *reap;
};

extern struct broker B;

#endif
