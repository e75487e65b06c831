/* One muxssh session: from OPEN to EXIT, and the channel pump in between. */
#ifndef MUXSHIM_SESSION_H
#define MUXSHIM_SESSION_H

#include "objects.h"
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
    OP_AGENT,
    OP_X11
};

/* What a session tells its owner: its client (front/peer.c), or the connection a jump
 * host's tunnel carries (pool/pool.c). The session reaches neither in any other way (its
 * client is an opaque owner: session_client); its connection's pool it asks through
 * session_pool_ops. */
enum session_event {
    SEV_MESSAGE,       /* text: a line for the user's stderr */
    SEV_LOCAL_COMMAND, /* text: LocalCommand for the client to run now */
    SEV_FORWARDS,      /* text: the forwards for the client to bind now; code: FWD_* flags
                          and the log level; kind: StreamLocalBindMask */
    SEV_X11_AUTH,      /* code: X11_* flags and the log level, kind: ForwardX11Timeout, text:
                          XAuthLocation: the client gets its display's cookie now */
    SEV_STARTED,       /* code: STARTED_* flags; returns nonzero once it has left */
    SEV_PENDING,       /* returns nonzero while earlier replies wait to be sent */
    SEV_RESOLVED,      /* a CONTROL request's host is resolved: the owner answers it (the
                          session is released after) */
    SEV_ROUTE_REPLY,   /* code: errno or 0, fd: the program's end; returns 0 or -1 */
    SEV_INCOMING,      /* a channel the server opened for the client to connect (inchan.h):
                          id, kind (INC_*), code (flags), text (host), port, origin, fd (-1,
                          or the client's end); returns 0, or -1 when it could not leave yet */
    SEV_ERROR,         /* code: ERR_*, text: the session cannot be served */
    SEV_EXIT,          /* kind, code, text: the session ended */
    SEV_RELEASE,       /* the session goes on, or ends, without its owner from here on */
};

/* One event and its arguments (unused ones zero). */
struct session_note {
    enum session_event ev;
    int kind, code, fd;
    const char *text;
    uint32_t id;        /* SEV_INCOMING's */
    int port;           /* SEV_INCOMING's */
    const char *origin; /* SEV_INCOMING's */
};

/* An owner's side of the interface. */
struct session_owner_ops {
    /* Act on note n about session s, which owner owns; the result as the event says, else
     * 0. Must not free s or anything it holds (release marks, the loop's reap frees). */
    int (*tell)(void *owner, struct session *s, const struct session_note *n);
};

/* What a session asks of the pool that holds its connections (pool.c gives it with the
 * session, pool.h): the session reaches pool/ in no other way. */
struct session_pool_ops {
    /* s is resolved: give it a connection of its authority (it may be rejected instead). */
    void (*attach)(struct session *s);
    /* Take s off its connection (s->conn). */
    void (*detach)(struct session *s);
    /* A libssh2 call on c failed with rc (not EAGAIN, not of one channel): c is unusable. */
    void (*broken)(struct sshconn *c, int rc);
    /* c has just freed a session channel. */
    void (*channel_freed)(struct sshconn *c);
};

/* ctl_op of a HANDED notice: resolved only to count a hand-over under its host. */
#define SESSION_HANDED 100

/* Build a session from a decoded OPEN (or CONTROL when ctl_op; HANDED when ctl_op is
 * SESSION_HANDED: no client, the reason in command), which asks pool for its connection,
 * and start its ssh -G job. fds (3 for OPEN) are owned by the session from here on, even on
 * failure. Returns it, or NULL with err set. */
struct session *session_new(const struct proto_msg *m, const int *fds, int ctl_op,
                            const struct session_pool_ops *pool, char *err, size_t errlen);
/* Make ops (with owner) the one the session tells what happens to it: its client's (the
 * client that sent OPEN, CONTROL or ROUTE), or a tunnel's (session_new_tunnel). */
void session_set_owner(struct session *s, const struct session_owner_ops *ops, void *owner);
/* The client that owns s, or NULL (it has none, it went away, or s is a tunnel). */
void *session_client(const struct session *s);
/* The client to ask what connection c's connect job asks: of the clients of the sessions
 * waiting on c, the first that came and that can_ask accepts; for a jump host's connection,
 * such a client of a connection its tunnel carries. NULL when there is none. */
void *session_asker(const struct sshconn *c, int (*can_ask)(void *client));
/* A jump host's tunnel: a session with no client that resolves dest with opts (owned),
 * opens a direct-tcpip channel to host:port on dest's connection and pumps it to fd (a
 * socketpair end, owned), for the connection carries, its owner through ops; env, ssh, cwd
 * and the pool come from origin. Returns it, or NULL with err. */
struct session *session_new_tunnel(const struct session *origin, char **opts, const char *dest,
                                   const char *host, int port, int fd, struct sshconn *carries,
                                   const struct session_owner_ops *ops, char *err, size_t errlen);
/* One connection of a forward c holds (-O forward, pool/fwdheld.c): a direct-tcpip channel
 * to host:port (port -2: direct-streamlocal to the path host) on c, pumped to fd (owned),
 * with no client; socks: the SOCKS version whose reply goes to fd once the channel is open
 * (0: none); early: nearly bytes already read from fd, for the channel. Returns it (c's pump
 * steps it), or NULL with err. */
struct session *session_new_fwd(struct sshconn *c, const struct session_pool_ops *pool, int fd,
                                const char *host, int port, int socks, const void *early,
                                size_t nearly, char *err, size_t errlen);
/* A routed connect() (ROUTE): a direct-tcpip channel to host:port through the route's
 * host, on a connection of pool, answered with ROUTE_REPLY. Returns it, or NULL with err. */
struct session *session_new_route(const struct proto_msg *m, const struct session_pool_ops *pool,
                                  char *err, size_t errlen);
/* The session cannot be served: ERROR to its client (or the failure to the connection its
 * tunnel was for), then release it. */
void session_reject(struct session *s, int code, const char *msg);
/* ERROR {code, msg} to its owner as it is (nothing counted), then release it. */
void session_refuse(struct session *s, int code, const char *msg);
/* A line for the user's stderr, through its owner (nothing without one). */
void session_say(struct session *s, const char *text);
/* Tell the owner the command may run (STARTED_* flags); nonzero once the client has it. */
int session_tell_started(struct session *s, uint32_t flags);
/* Advance the session as far as it can go without blocking; returns nonzero on progress. */
int session_step(struct session *s);
/* The muxssh behind the session went away. */
void session_client_gone(struct session *s);
/* Its client's replies have all left: a session waiting for its STARTED to leave goes on. */
void session_client_flushed(struct session *s);
/* The connection died: sessions that have not started go back to the pool; the others end
 * with EXIT_LOST and msg. */
void session_conn_lost(struct session *s, const char *msg);
/* Whether the session has consumed nothing from the client yet (it may still fall back). */
int session_unstarted(const struct session *s);
/* s joins c's session list (at the head); made: c is being made for s (then s need not be
 * asked whether it accepts c once c is up). */
void session_link(struct session *s, struct sshconn *c, int made);
/* s leaves its connection's session list (and c's op to retry first, if it is s's). */
void session_unlink(struct session *s);
/* Whether the host key of s's connection is known to s (ssh's HOST_OK: VisualHostKey shows
 * it). */
void session_hostkey_known(struct session *s, int known);
/* Its connection broke: a session of a client that has consumed nothing of it goes back to
 * waiting for a connection, once (nonzero; the pool attaches it again), else 0 (it stays). */
int session_retry(struct session *s);
/* The connection a tunnel carries goes: the tunnel tells it nothing more, and ends by itself
 * when the connection's end of its socket closes. */
void session_carried_gone(struct session *s);
/* s waits on its ready connection with its LocalCommand run: a -N session runs (STARTED:
 * -f forks), a direct-tcpip one opens its own channel; nonzero when it moved (pump c), 0
 * when it waits for a session channel (session_give_channel). */
int session_conn_ready(struct session *s);
/* The pool's answer to s waiting for a session channel: ch, a spare on which the env
 * requests rest (owned) are still to be sent, and s goes on with them; or NULL (missed:
 * s has been counted as finding none, spare.h). */
void session_give_channel(struct session *s, LIBSSH2_CHANNEL *ch, const char **rest, int missed);
/* VisualHostKey: ssh's fingerprint line and picture for the session's connection, once, on
 * its client's stderr, when its host key is known to it (as ssh prints them at login). */
void session_show_hostkey(struct session *s);
/* The client answered INCOMING id: err 0 and fd (owned) connected, else not (inchan.h). */
void session_incoming_reply(struct session *s, uint32_t id, int err, int fd);
/* The client's terminal changed size: send window-change (pty sessions only). */
void session_window_change(struct session *s, uint32_t cols, uint32_t rows, uint32_t xpixel,
                           uint32_t ypixel);
/* Poll found e (a session's or an agent channel's endpoint) ready for what it asked. */
void session_endpoint_ready(struct endpoint *e);
/* Poll interest: fills events for the session's endpoints (in, out, err). */
void session_poll_events(const struct session *s, short ev[3]);
/* Tell the client the outcome (EXIT / ERROR) and release the session. */
void session_finish(struct session *s);
/* Release without telling anybody more than that (a client still owning it is told
 * SEV_RELEASE): off its client and connection now, released (reap.h) and freed (fds
 * restored and closed) at the end of the loop turn. Idempotent. */
void session_free(struct session *s);
/* How many sessions were freed since the last call (what a heap trim may give back). */
int session_freed_take(void);

#endif
