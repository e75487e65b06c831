/* What is left of the broker-wide state B (state.c) while issue 23's helpers move each field
 * to its owner (the lists of clients and connections are peer.c's and pool.c's, the loop's
 * counts loop.c's, the listening socket main's, the turn's deadline an argument of
 * pool_pump); to be removed once these fields have gone too. */
#ifndef MUXSHIM_STATE_H
#define MUXSHIM_STATE_H

struct session;

/* Broker-wide state. */
struct broker {
    /* The worker completion pipe: made by jobs_init, a finished job's pointer written to
     * job_wr by its worker thread (jobs.c), read by jobs_take when the loop polls job_rd. */
    int job_rd, job_wr;
    /* Jobs started and not yet taken back (jobs_start counts, jobs_take uncounts): the loop
     * does not end while one is out. */
    int njobs;
    /* The loop has ended (set by loop_run as it returns): the broker is stopping, so
     * pool_attach sends new sessions to the real ssh, jobs_close and jobs_learn do their work
     * on the calling thread instead of a worker's, kex.c makes no KEM key pair ahead. */
    int quit;
    /* Sessions freed since the heap was last trimmed: session.c counts them, the loop's tick
     * trims the heap and clears it once no client is left. */
    int freed;
    /* Sessions released this loop turn (linked by reap_next), freed at its end: session.c
     * links them when released and frees them in session_reap (loop_reap). */
    struct session *reap;
};

extern struct broker B;

#endif
