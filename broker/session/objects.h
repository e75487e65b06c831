/* The session and the connection it runs on, as sessions use them: a session is created and
 * ended by its owner (a client, front/peer.c, or a tunnel's connection), a connection by
 * pool/ (pool.h). */
#ifndef MUXSHIM_OBJECTS_H
#define MUXSHIM_OBJECTS_H

#include <libssh2.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "conn.h"
#include "reap.h"
#include "sshconfig.h"
#include "term.h"

struct session;
struct session_owner_ops;
struct session_pool_ops;
struct sshconn;
struct connect_job;
struct kem_job;
struct proxy;
struct inchan;
struct x11auth;
struct rfwd;
struct accept_files;
struct pool_fwd;

enum session_state {
    S_RESOLVING, /* ssh -G in a worker */
    S_WAITCONN,  /* waiting for a connection, or for its spare channel */
    S_OPENING,   /* opening a direct-tcpip channel (-W, or a jump host's tunnel) */
    S_SETENV,    /* sending env requests */
    S_START,     /* exec / subsystem / shell request */
    S_RUNNING,   /* pumping data */
    S_CLOSING,   /* remote finished or client gone: closing the channel */
    S_DONE,
};

/* MODE_TCPIP: a direct-tcpip channel to fwd_host:fwd_port (-W, or a jump host's tunnel). */
enum session_mode { MODE_EXEC, MODE_SHELL, MODE_SUBSYSTEM, MODE_NONE, MODE_TCPIP };

/* One side of the pump: a client fd (or the broker's own reopened description of it, see
 * broker/session/endpoint.c) and its saved flags. */
struct endpoint {
    int fd;
    int saved_flags; /* -1: flags were not changed */
    int tty;
    int ready; /* poll said readable/writable since the last attempt */
    int gated; /* blocking: touched only when ready, in small writes */
    int sock;  /* a socket: recv/send with MSG_DONTWAIT, its flags untouched */
};

/* One muxssh session: a channel on a connection, pumped to the client's fds. */
struct session {
    const struct session_owner_ops *owner_ops; /* how it tells its owner (session.h) */
    /* Its client, or the connection a tunnel carries (tunnel_for); NULL once it went away. */
    void *owner;
    const struct session_pool_ops *pool_ops; /* how it asks its pool (session.h) */
    struct reap_node reap; /* released (session_free): freed at the end of the loop turn */
    struct sshconn *conn;
    struct hostcfg *cfg;        /* owned */
    struct accept_files *known; /* owned: its files, read with cfg (accept.h) */
    enum session_state state;
    enum session_mode mode;
    char *command;       /* command line or subsystem name */
    char **env;          /* client environment */
    const char **envreq; /* NAME=VALUE requests still to send (SendEnv matches, SetEnv) */
    const char **envall; /* all of them, as ssh would send them (envreq.h) */
    int envreq_next;
    int spare_missed; /* found no spare ready for it (counted once) */
    uint32_t flags;   /* OPEN_* */
    char *real_ssh, *cwd, **opts, *dest;
    LIBSSH2_CHANNEL *ch;
    struct endpoint in, out, err;
    struct buf to_ch;  /* stdin bytes not yet written to the channel */
    struct buf to_out; /* channel stdout not yet written to the client */
    struct buf to_err; /* channel stderr not yet written to the client */
    int in_eof, eof_sent, out_eof, err_eof, out_dead;
    int blocked_op; /* the op that left a partial packet (OP_*), 0 if none */
    int started;    /* STARTED sent: from here on the command may run, no fallback */
    int exit_kind;  /* EXIT_* */
    int exit_code;
    char exit_msg[256];
    int pty;             /* a pty is requested (then ti holds what it needs) */
    int pty_sent;        /* the pty request is done */
    struct term_info ti; /* the client's terminal as it was at OPEN */
    struct escape esc;   /* escape sequences on the typed bytes (pty sessions) */
    int winch;           /* a window-change waits to be sent (size in ti) */
    int agent_sent;      /* the auth-agent request is done (agentfwd.h) */
    int x11_state;       /* X11 forwarding: its cookie asked for, answered, requested */
    struct x11auth *x11; /* ... its cookies and display (x11fwd.h), owned; NULL: none */
    char *fwd_host;      /* MODE_TCPIP: where the channel goes */
    int fwd_port;
    int socks; /* a -D connection: its SOCKS version (4, 5), whose granted reply the client gets
                  first once the channel is open (none when it is refused, as from ssh) */
    struct sshconn *tunnel_for; /* a jump host's tunnel (no client): the connection it carries */
    int route;      /* a routed connect(): the address family asked for (0: not a route) */
    int route_from; /* a non-blocking one: the loopback port to connect from (else 0) */
    char *route_to; /* ... and the program's socket's address and port */
    int route_to_port;
    int detached;         /* a routed channel handed to its program: runs on with no client */
    int out_shut;         /* a routed channel's EOF was passed on (shutdown SHUT_WR) */
    int ctl_op;           /* nonzero: this is a CONTROL request, not a session */
    int job;              /* a worker job points at this session */
    int made_conn;        /* its connection was made for it (it need not be asked again) */
    int retried;          /* its connection broke before it started: it went to another */
    int hk_known;         /* its connection's host key is known to it (ssh's HOST_OK) */
    int hk_shown;         /* VisualHostKey's lines were given to the client */
    char *localcmd;       /* expanded LocalCommand for the client to run first, or NULL */
    int localcmd_state;   /* 0 not sent, 1 LOCAL_COMMAND sent, 2 LOCAL_DONE came back */
    int fwd_state;        /* 0 not sent, 1 FORWARDS sent, 2 FORWARDS_DONE came back */
    int rfwd_next;        /* its remote forwards asked for and answered (rfwd.h) */
    int rfwd_done;        /* ... all of them */
    struct session *next; /* in conn->sessions or the pending list */
};

enum conn_state { C_CONNECTING, C_READY, C_DEAD };
enum spare_state { SPARE_NONE, SPARE_OPENING, SPARE_ENV, SPARE_READY, SPARE_CLOSING };

#define SPARE_MAX 6 /* spares per connection at most (within the server's MaxSessions) */

/* A session channel opened ahead, with the env requests the next session will most likely
 * send (spare.h). */
struct spare {
    LIBSSH2_CHANNEL *ch;
    enum spare_state state;
    char **env;   /* env requests sent on it, or being sent (owned; NULL: none) */
    int env_next; /* how many of them are answered */
};

/* What a connection keeps of its host's config once it is up: the whole hostcfg is about
 * 150 KB and is needed only while connecting (the connect job has its own copy). */
struct conncfg {
    char hostname[HC_STR];
    char user[HC_STR];
    int port;
    int serveraliveinterval; /* seconds, 0 = off */
    int serveralivecountmax;
};

/* One authenticated SSH connection, shared by the sessions of its authority (token) that
 * accept it (accept.h). */
struct sshconn {
    char token[65]; /* the authority */
    struct conncfg cfg;
    struct conn_facts facts; /* host key, login key, algorithms, family (once C_READY) */
    char agent_sock[256];
    enum conn_state state;
    int draining; /* -O stop: no new sessions */
    LIBSSH2_SESSION *ssh;
    int sock;
    int want_write;                  /* the last EAGAIN was on sending */
    struct session *blocked;         /* session whose op must be retried before any other */
    struct session *tunnel;          /* through a jump host: the session carrying our socket */
    struct connect_job *pending_job; /* via a jump host: the connect job, until the tunnel opens */
    struct proxy *proxy;             /* through a ProxyCommand: the command (proxy.h) */
    struct spare spares[SPARE_MAX];  /* session channels opened ahead for the next sessions */
    const void *opener;              /* who has a channel open in flight (a spare, or a session):
                                        libssh2 1.10 keeps one open state per connection, so
                                        opens go one at a time and each is driven to its end */
    int spare_blocked; /* 1 + index of the spare whose last call left a packet half sent */
    int spare_refused; /* the server takes no session channel at all */
    int spare_want;    /* spares to keep ready: grows when a session found none, shrinks idle */
    time_t spare_used; /* when a session last took (or looked for) a spare */
    char **env_hint;   /* the env requests of the last session: what new spares are sent */
    int rx_gate;       /* libssh2's reads get EAGAIN: a request call only sees queued replies */
    int suspect;       /* a probe went unanswered: no new sessions */
    struct session *sessions; /* attached sessions (all states from S_WAITCONN) */
    int nsessions;
    int max_sessions;            /* learned from a refused channel open; 0 = unknown */
    int opened_any;              /* a session channel has been opened on c */
    long long chan_freed_ms;     /* CLOCK_MONOTONIC ms when c last freed a session channel */
    int refused_soon;            /* refusals in a row right after a channel was freed */
    time_t idle_since;           /* when the last session left (0 while busy) */
    int persist;                 /* seconds; 0 = forever */
    int dead_link;               /* lost, timed out or suspect: close without a goodbye */
    int lost_rc;                 /* the libssh2 error it broke with (pool_broken), or 0 */
    unsigned long long rx_bytes; /* bytes libssh2 has read from the server socket */
    unsigned long long tx_bytes; /* bytes libssh2 has written to it */
    long long seen_in, seen_out; /* the link's counts at the last tick (alive.c) */
    int seen_queued;             /* and the bytes of ours the socket held then */
    int quickack;                /* the socket is TCP: ask for quick ACKs after each read */
    long long last_rx;           /* CLOCK_MONOTONIC ms of the last bytes from the server */
    long long last_rx_boot;      /* the same moment on CLOCK_BOOTTIME, which counts suspend */
    long long ka_first;          /* first keepalive due since then (sent or not), 0 if none */
    long long probe_at;          /* a probe before reuse is waiting since then, 0 if none */
    unsigned long long bytes_in, bytes_out;
    unsigned long total_sessions;
    int dirty;     /* pump again without waiting */
    int pump_from; /* the turn's budget ran out: the next pump starts at this session */
    /* The channels the server opened (an agent's, a remote forward's: inchan.h), and the
     * one whose last call left a packet half sent. */
    struct inchan *inchans, *inchan_blocked;
    /* The server's listeners for remote forwards (rfwd.h), the one whose last call left a
     * packet half sent, and the request in flight (libssh2 makes one at a time). */
    struct rfwd *rfwds, *rfwd_blocked, *rfwd_req;
    struct pool_fwd *held;   /* forwards it holds for ssh -O forward (pool/fwdheld.c) */
    struct reap_node reap;   /* released (C_DEAD): freed at the end of the loop turn */
    struct kem_job *kem_job; /* a KEM key pair being made for c's next key exchange (kex.c) */
    int kem_failed;          /* ... could not be made or given: the next rekey makes its own */
    unsigned long kem_given; /* key pairs given ahead */
    struct sshconn *next;
};

#endif
