/* muxbroker's event loop: one poll over clients, connections and the clients' fds. */
#ifndef MUXSHIM_LOOP_H
#define MUXSHIM_LOOP_H

/* The caller's word once a second (muxbroker.c): LOOP_GO_ON, or LOOP_HAND_OVER once its
 * socket's path no longer leads to listen_fd (systemd's socket took the path). */
enum { LOOP_GO_ON, LOOP_HAND_OVER };
typedef int (*loop_tick_fn)(void);
/* Run until the broker holds nothing (or is told to stop), accepting clients on listen_fd
 * (the broker's socket, which stays the caller's) and asking tick (NULL: none) once a second;
 * after LOOP_HAND_OVER it accepts those already waiting, stops listening, closes each
 * connection once idle and returns as soon as it holds nothing. Returns the exit code. */
int loop_run(int listen_fd, loop_tick_fn tick);
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
