/* One muxssh session: from OPEN to EXIT, and the channel pump in between. */
#ifndef MUXSHIM_SESSION_H
#define MUXSHIM_SESSION_H

#include "broker.h"
#include "jobs.h"
#include "proto.h"

/* Operations that may leave a partially sent packet and must be retried first. */
enum session_op {
    OP_NONE = 0,
    OP_SETENV,
    OP_START,
    OP_WRITE,
    OP_EOF,
    OP_READ_OUT,
    OP_READ_ERR,
    OP_WAIT,
    OP_CLOSE,
    OP_PTY,
    OP_WINCH,
    OP_OPEN,
    OP_AGENT
};

/* ctl_op of a HANDED notice: resolved only to count a hand-over under its host. */
#define SESSION_HANDED 100

/* Build a session from a decoded OPEN (or CONTROL when ctl_op; HANDED when ctl_op is
 * SESSION_HANDED: no client, the reason in command) and start its ssh -G job.
 * fds (3 for OPEN) are owned by the session from here on, even on failure. Returns it,
 * or NULL with err set. */
struct session *session_new(struct peer *p, const struct proto_msg *m, const int *fds, int ctl_op,
                            char *err, size_t errlen);
/* A jump host's tunnel: a session with no client that resolves dest with opts (owned),
 * opens a direct-tcpip channel to host:port on dest's connection and pumps it to fd (a
 * socketpair end, owned), for the connection carries; env, ssh and cwd come from origin.
 * Returns it, or NULL with err. */
struct session *session_new_tunnel(const struct session *origin, char **opts, const char *dest,
                                   const char *host, int port, int fd, struct sshconn *carries,
                                   char *err, size_t errlen);
/* A routed connect() (ROUTE): a direct-tcpip channel to host:port through the route's
 * host, answered with ROUTE_REPLY. Returns it, or NULL with err. */
struct session *session_new_route(struct peer *p, const struct proto_msg *m, char *err,
                                  size_t errlen);
/* The session cannot be served: ERROR to its client (or the failure to the connection its
 * tunnel was for), then free it. */
void session_reject(struct session *s, int code, const char *msg);
/* The ssh -G job finished: choose the mode and hand the session to the pool (or answer). */
void session_resolved(struct job *j);
/* Advance the session as far as it can go without blocking; returns nonzero on progress. */
int session_step(struct session *s);
/* The muxssh behind the session went away. */
void session_client_gone(struct session *s);
/* The connection died: sessions that have not started go back to the pool; the others end
 * with EXIT_LOST and msg. */
void session_conn_lost(struct session *s, const char *msg);
/* Whether the session has consumed nothing from the client yet (it may still fall back). */
int session_unstarted(const struct session *s);
/* VisualHostKey: ssh's fingerprint line and picture for the session's connection, once, on
 * its client's stderr, when its host key is known to it (as ssh prints them at login). */
void session_show_hostkey(struct session *s);
/* The client's terminal changed size: send window-change (pty sessions only). */
void session_window_change(struct session *s, uint32_t cols, uint32_t rows, uint32_t xpixel,
                           uint32_t ypixel);
/* Poll interest: fills events for the session's endpoints (in, out, err). */
void session_poll_events(const struct session *s, short ev[3]);
/* Tell the client the outcome (EXIT / ERROR) and free the session. */
void session_finish(struct session *s);
/* Free without telling anybody; fds restored and closed. */
void session_free(struct session *s);

#endif
