/* muxbroker's event loop: one poll over clients, connections and the clients' fds. */
#ifndef MUXSHIM_LOOP_H
#define MUXSHIM_LOOP_H

/* Run until the broker holds nothing (or is told to stop); returns the exit code. */
int loop_run(void);
/* The end of a loop turn, the one point where clients, sessions and connections released
 * during it are freed (each module releases them to base/reap.h; nothing frees earlier);
 * also the broker's exit, after pool_shutdown. */
void loop_reap(void);
/* Ask the loop to stop (signal-safe). */
void loop_stop(int sig);

#endif
