/* One muxssh session: from OPEN to EXIT, and the channel pump in between. */
#ifndef MUXSHIM_SESSION_H
#define MUXSHIM_SESSION_H

#include "objects.h"
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

/* What a session tells its owner: its client (front/peer.c), or the connection a jump
 * host's tunnel carries (pool/pool.c). Besides these notes the session only tests whether
 * it still has a client (s->peer), and session_free clears the client's pointer to it
 * (peer->sess). */
enum session_event {
    SEV_MESSAGE,       /* text: a line for the user's stderr */
    SEV_LOCAL_COMMAND, /* text: LocalCommand for the client to run now */
    SEV_STARTED,       /* code: STARTED_* flags; returns nonzero once it has left */
    SEV_PENDING,       /* returns nonzero while earlier replies wait to be sent */
    SEV_RESOLVED,      /* a CONTROL request's host is resolved: the owner answers it */
    SEV_ROUTE_REPLY,   /* code: errno or 0, fd: the program's end; returns 0 or -1 */
    SEV_ERROR,         /* code: ERR_*, text: the session cannot be served */
    SEV_EXIT,          /* kind, code, text: the session ended */
    SEV_RELEASE,       /* the session goes on, or ends, without its owner from here on */
};

/* One event and its arguments (unused ones zero). */
struct session_note {
    enum session_event ev;
    int kind, code, fd;
    const char *text;
};

/* An owner's side of the interface. */
struct session_owner_ops {
    /* Act on note n about session s, which owner owns; the result as the event says, else
     * 0. Must not free s or anything it holds (release marks, the loop's reap frees). */
    int (*tell)(void *owner, struct session *s, const struct session_note *n);
};

/* ctl_op of a HANDED notice: resolved only to count a hand-over under its host. */
#define SESSION_HANDED 100

/* Build a session from a decoded OPEN (or CONTROL when ctl_op; HANDED when ctl_op is
 * SESSION_HANDED: no client, the reason in command) and start its ssh -G job.
 * fds (3 for OPEN) are owned by the session from here on, even on failure. Returns it,
 * or NULL with err set. */
struct session *session_new(struct peer *p, const struct proto_msg *m, const int *fds, int ctl_op,
                            char *err, size_t errlen);
/* Make ops (with owner) the one the session tells what happens to it. */
void session_set_owner(struct session *s, const struct session_owner_ops *ops, void *owner);
/* A jump host's tunnel: a session with no client that resolves dest with opts (owned),
 * opens a direct-tcpip channel to host:port on dest's connection and pumps it to fd (a
 * socketpair end, owned), for the connection carries, its owner through ops; env, ssh and
 * cwd come from origin. Returns it, or NULL with err. */
struct session *session_new_tunnel(const struct session *origin, char **opts, const char *dest,
                                   const char *host, int port, int fd, struct sshconn *carries,
                                   const struct session_owner_ops *ops, char *err, size_t errlen);
/* A routed connect() (ROUTE): a direct-tcpip channel to host:port through the route's
 * host, answered with ROUTE_REPLY. Returns it, or NULL with err. */
struct session *session_new_route(struct peer *p, const struct proto_msg *m, char *err,
                                  size_t errlen);
/* The session cannot be served: ERROR to its client (or the failure to the connection its
 * tunnel was for), then release it. */
void session_reject(struct session *s, int code, const char *msg);
/* ERROR {code, msg} to its owner as it is (nothing counted), then release it. */
void session_refuse(struct session *s, int code, const char *msg);
/* A line for the user's stderr, through its owner (nothing without one). */
void session_say(struct session *s, const char *text);
/* Tell the owner the command may run (STARTED_* flags); nonzero once the client has it. */
int session_tell_started(struct session *s, uint32_t flags);
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
/* Tell the client the outcome (EXIT / ERROR) and release the session. */
void session_finish(struct session *s);
/* Release without telling anybody: off its client and connection now, marked dead and freed
 * (fds restored and closed) by session_reap at the end of the loop turn. Idempotent. */
void session_free(struct session *s);
/* Free the sessions released since the last call (the loop's end of turn); how many. */
int session_reap(void);

#endif
