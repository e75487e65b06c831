/* A session's local (-L, LocalForward) and dynamic (-D, DynamicForward) forwards: muxssh
 * binds them, as ssh keeps them in its own process, and each accepted connection becomes a
 * direct-tcpip (or direct-streamlocal) channel the broker opens on the shared connection. */
#ifndef MUXSHIM_FORWARD_H
#define MUXSHIM_FORWARD_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

/* What a forward's connection needs to ask the broker for its channel. */
struct fwd_session {
    const char *dir, *real_ssh, *cwd, *dest;
    char *const *opts;
    int no_session; /* -N: no session channel after the listeners (ssh's channel numbers) */
    int verbose;
};

/* Bind the forwards of a FORWARDS message (flags FWD_*, with the log level in bits 8-15),
 * printing ssh's words for each failure. 0, or -1 when ExitOnForwardFailure says exit 255
 * (its fatal line printed). */
int fwd_setup(const struct fwd_session *fs, uint32_t flags, uint32_t mask, const char *specs,
              size_t len);
/* Put the listeners in p (room for max); returns how many. */
int fwd_pollfds(struct pollfd *p, int max);
/* Accept on the listeners p says are ready (n entries, from fwd_pollfds); each connection
 * is served by a child process of its own. */
void fwd_accept(const struct pollfd *p, int n);
/* Reap the connections that ended, without waiting. */
void fwd_reap(void);
/* The session ended: close the listeners and wait for the open connections, as ssh waits
 * for its forwarded channels before it exits. */
void fwd_finish(void);

#endif
