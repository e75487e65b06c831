/* muxbroker's event loop: one poll over clients, connections and the clients' fds. */
#ifndef MUXSHIM_LOOP_H
#define MUXSHIM_LOOP_H

/* Run until the broker holds nothing (or is told to stop), accepting clients on listen_fd
 * (the broker's socket, which stays the caller's); returns the exit code. */
int loop_run(int listen_fd);
/* The end of a loop turn, the one point where clients, sessions and connections released
 * during it are freed (each module releases them to base/reap.h; nothing frees earlier);
 * also the broker's exit, after pool_shutdown. */
void loop_reap(void);
/* Ask the loop to stop (signal-safe). */
void loop_stop(int sig);

#define LOOP_SLOW_US 20000 /* a turn longer than this is counted slow */
/* What the loop's turns took so far, each from poll's return to the next poll (the time
 * every other client waited): the status table's "loop:" line. */
struct loop_turns {
    unsigned long turns; /* turns run */
    long max_us;         /* the longest one */
    unsigned long slow;  /* those over LOOP_SLOW_US */
};
/* The counts so far. */
struct loop_turns loop_turns(void);

#endif
