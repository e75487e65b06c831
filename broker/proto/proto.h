/* Wire protocol between muxssh and muxbroker (see docs/protocol.md).
 *
 * A frame is a 4-byte big-endian length N, then N bytes: one type byte and
 * the payload. Payload fields are u32 (big-endian), str (u32 length + bytes,
 * no NUL inside) and strlist (u32 count + that many str). File descriptors
 * travel only with OPEN, as SCM_RIGHTS on the frame's first byte. */
#ifndef MUXSHIM_PROTO_H
#define MUXSHIM_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROTO_VERSION 9
#define PROTO_MAX_FRAME (256u * 1024u) /* type byte + payload */
#define PROTO_MAX_LIST 8192u           /* items in one strlist */
#define PROTO_HDR 4u

enum proto_type {
    MSG_HELLO = 1,           /* u32 version, u32 pid, u32 flags (HELLO_*) */
    MSG_OPEN = 2,            /* str real_ssh, str cwd, strlist opts, str dest, str command,
                                strlist env, u32 flags (OPEN_*); + 3 fds */
    MSG_PROMPT = 3,          /* u32 id, u32 echo, str text */
    MSG_PROMPT_REPLY = 4,    /* u32 id, u32 ok, str answer */
    MSG_MESSAGE = 5,         /* str text: a line for the client's stderr */
    MSG_WINDOW_CHANGE = 6,   /* u32 cols, u32 rows, u32 xpixel, u32 ypixel */
    MSG_SIGNAL = 7,          /* str name (without "SIG") */
    MSG_EXIT = 8,            /* u32 kind (EXIT_*), u32 code, str message */
    MSG_CONTROL = 9,         /* u32 op (CTL_*), str real_ssh, str cwd, strlist opts, str dest,
                                strlist env */
    MSG_CONTROL_REPLY = 10,  /* u32 status (CTLR_*), str text */
    MSG_ERROR = 11,          /* u32 code (ERR_*), str message */
    MSG_STARTED = 12,        /* u32 flags (STARTED_*): the request that runs the command goes
                                out next */
    MSG_ROUTE = 13,          /* str real_ssh, str cwd, str via, str host, u32 port, u32 family,
                                strlist env, strlist opts, u32 from_port, str to_addr,
                                u32 to_port: the shim's connect() to host:port through via
                                (resolved with ssh -G opts via); from_port nonzero: connect
                                the channel's end from loopback port from_port to the
                                program's socket at to_addr:to_port (a non-blocking connect) */
    MSG_ROUTE_REPLY = 14,    /* u32 errno (0: connected; + 1 fd, the program's end of a
                                loopback TCP pair carried by the channel, unless from_port) */
    MSG_HANDED = 15,         /* str real_ssh, str cwd, strlist opts, str dest, str reason,
                                strlist env: muxssh ran the real ssh itself for this session
                                (counted per host; no reply) */
    MSG_LOCAL_COMMAND = 16,  /* str command: run `$SHELL -c command` with the client's own stdio,
                                wait for it, then send LOCAL_DONE (LocalCommand) */
    MSG_LOCAL_DONE = 17,     /* u32 exit status of the local command (ssh ignores it) */
    MSG_FORWARDS = 18,       /* u32 flags (FWD_*), u32 StreamLocalBindMask, str the session's
                                local and dynamic forwards, one a line ("L LISTEN TARGET" or
                                "D LISTEN", as ssh -G prints them): the client binds them now,
                                then sends FORWARDS_DONE */
    MSG_FORWARDS_DONE = 19,  /* u32 0: the client's forwards are set up, the session may go on */
    MSG_INCOMING = 20,       /* u32 id, u32 kind (INC_*), u32 flags (bits 8-15 the LogLevel),
                                str host (or a socket path, or the PermitRemoteOpen list for
                                INC_SOCKS), u32 port, str origin: the server opened a channel
                                the client must connect to this target (+ 1 fd: INC_SOCKS) */
    MSG_INCOMING_REPLY = 21, /* u32 id, u32 errno (0: connected; + 1 fd, the connection) */
    MSG_X11_AUTH = 22,       /* u32 flags (X11_*, bits 8-15 the LogLevel), u32 ForwardX11Timeout,
                                str XAuthLocation: the client gets its display's cookie as ssh's
                                client_x11_get_proto does, then sends X11_AUTH_REPLY */
    MSG_X11_AUTH_REPLY = 23, /* u32 ok, str protocol, str cookie (hex, a secret); the display
                                is reached with INCOMING (INC_CONNECT) */
    MSG_CONTROL_OUT = 35,    /* str text: for the client's stdout, before CONTROL_REPLY (the
                                ports ssh -O forward -R 0:... prints) */
    MSG_TYPE_MAX = 35
};

enum proto_hello_flags {
    HELLO_NOTICE = 1u << 0, /* client to broker: no HELLO reply; one HANDED follows, then the
                               client closes without reading anything */
};

enum proto_open_flags {
    OPEN_STDIN_TTY = 1u << 0,
    OPEN_STDOUT_TTY = 1u << 1,
    OPEN_STDERR_TTY = 1u << 2,
    OPEN_STDIN_NULL = 1u << 3,  /* muxssh replaced stdin by /dev/null (-n) */
    OPEN_STDIO_FWD = 1u << 4,   /* -W: command is the HOST:PORT to forward stdio to */
    OPEN_LOG_FILE = 1u << 5,    /* -E: what ssh itself says goes in MESSAGE frames only (the
                                   client writes them to its log file), never into fd 2 */
    OPEN_FWD_LOCAL = 1u << 6,   /* the client binds the session's LocalForward and DynamicForward
                                   itself (FORWARDS): the broker need not hand them over */
    OPEN_FWD_CHANNEL = 1u << 7, /* one connection of a client's forward, with OPEN_STDIO_FWD:
                                   the session's forwards and host key lines are not repeated */
    OPEN_FWD_PATH = 1u << 8,    /* with OPEN_STDIO_FWD: command is a path on the server, reached
                                   through direct-streamlocal@openssh.com */
    OPEN_FWD_SOCKS = 1u << 11,  /* with OPEN_FWD_CHANNEL: command is "V TARGET", V the SOCKS
                                   version (4 or 5) the client read the request of; the broker
                                   sends ssh's granted reply on fd 1 once the channel is open */
};

enum proto_fwd_flags {
    FWD_GATEWAY_PORTS = 1u << 0,   /* GatewayPorts yes */
    FWD_EXIT_ON_FAILURE = 1u << 1, /* ExitOnForwardFailure yes */
    FWD_BIND_UNLINK = 1u << 2,     /* StreamLocalBindUnlink yes */
};

/* What the client does with an incoming channel (INCOMING). */
enum proto_incoming_kind {
    INC_CONNECT = 1, /* connect to host:port (a socket path when host starts with '/'), as ssh's
                        connect_to does, and answer INCOMING_REPLY with the connection */
    INC_SOCKS = 2,   /* the channel comes as the fd: act as a SOCKS server on it (a dynamic
                        remote forward), under PermitRemoteOpen (host); no reply */
};

enum proto_x11_flags {
    X11_TRUSTED = 1u << 0, /* ForwardX11Trusted: the display's own cookie (xauth list), else an
                              untrusted one generated for the session */
};

enum proto_started_flags {
    STARTED_PTY = 1u << 0,  /* the session has a pty: the client puts its terminal in raw mode */
    STARTED_FORK = 1u << 1, /* -f / ForkAfterAuthentication: the client goes to the background
                               now (its parent exits 0, as ssh's does) */
};

enum proto_exit_kind {
    EXIT_STATUS = 0, /* remote exit-status in code */
    EXIT_SIGNAL = 1, /* remote killed by a signal: client exits 255 */
    EXIT_LOST = 2,   /* connection lost: client exits 255 */
};

/* CTL_FORWARD, CTL_CANCEL: ssh -O forward / -O cancel, the forwards those of opts (ssh -G) */
enum proto_ctl_op {
    CTL_CHECK = 1,
    CTL_STOP = 2,
    CTL_EXIT = 3,
    CTL_LIST = 4,
    CTL_DOCTOR = 5,
    CTL_FORWARD = 6,
    CTL_CANCEL = 7
};
/* Or'd into CTL_LIST or CTL_DOCTOR: the reply's text is one JSON object, not the table
 * (`muxrun status --json`, `muxrun doctor --json`; docs/status-json.md). */
#define CTL_JSON 0x100u
enum proto_ctl_status { CTLR_OK = 0, CTLR_NOT_FOUND = 1, CTLR_ERROR = 2 };

enum proto_err {
    ERR_FALLBACK = 1, /* the broker cannot serve this: run the real ssh */
    ERR_FATAL = 2,    /* print the message, exit 255 (as ssh would) */
    ERR_PROTO = 3,    /* malformed or unexpected message */
};

/* A string inside a received frame: not NUL-terminated, never contains NUL. */
struct pstr {
    const char *p;
    uint32_t n;
};

/* A list of strings inside a received frame, already validated. */
struct pstrlist {
    const uint8_t *p; /* first item's length prefix */
    uint32_t count;
    uint32_t bytes; /* size of the items region */
};

/* One decoded message; which members are set depends on type. */
struct proto_msg {
    uint8_t type;
    uint32_t u[4];        /* the message's u32 fields, in order */
    struct pstr s[5];     /* the message's str fields, in order (ROUTE has five) */
    struct pstrlist l[2]; /* the message's strlist fields, in order */
};

/* A big-endian u32 at p (frames, SSH key blobs). */
static inline uint32_t proto_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Store v big-endian at p. */
static inline void proto_set_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Encoder, growable on the heap (proto_begin) or in the caller's buffer (proto_begin_into);
 * all put_* calls are no-ops once an error occurred. */
struct proto_buf {
    uint8_t *data;
    size_t len, cap;
    int err; /* nonzero: out of memory, out of room or over PROTO_MAX_FRAME */
    /* Makes room for need bytes (0) or fails (-1); NULL: the caller's buffer, never grown. */
    int (*grow)(struct proto_buf *b, size_t need);
};

/* Entry points marked "heap-free" (proto.c) use no heap, no stdio and no locks: the shim
 * calls them from its hooks, children of vfork among them. The others are proto_heap.c. */

/* Start a frame of the given type in b (allocates; free with proto_buf_free). */
void proto_begin(struct proto_buf *b, uint8_t type);
/* Heap-free: start a frame of the given type in buf (cap bytes); a frame that does not fit
 * sets err. Nothing to free (wipe buf when it held a secret). */
void proto_begin_into(struct proto_buf *b, uint8_t type, uint8_t *buf, size_t cap);
/* Append a big-endian u32 (this and the put_* below are heap-free on a proto_begin_into
 * frame). */
void proto_put_u32(struct proto_buf *b, uint32_t v);
/* Append a string of n bytes (n == (size_t)-1: use strlen). */
void proto_put_str(struct proto_buf *b, const char *s, size_t n);
/* Append a NULL-terminated (or count-limited, count >= 0) string array. */
void proto_put_strlist(struct proto_buf *b, char *const *v, int count);
/* Heap-free: finish the frame (writes the length); returns 0 or -1 if the frame is invalid. */
int proto_end(struct proto_buf *b);
/* Wipe and release the encoder's memory (a proto_begin_into buffer is only wiped). */
void proto_buf_free(struct proto_buf *b);

/* Heap-free: length of the first frame in buf if complete (header included), 0 if more bytes are
 * needed, -1 if the header announces an invalid size. */
long proto_frame_len(const uint8_t *buf, size_t len);
/* Heap-free: decode one frame body (type byte + payload, header excluded) with full bounds
 * checks. Returns 0, or -1 with a one-line reason in err. */
int proto_decode(const uint8_t *body, size_t len, struct proto_msg *m, char *err, size_t errlen);
/* Heap-free: iterate a strlist: set *it = NULL first; returns 0 and the next item, -1 at the end.
 */
int proto_strlist_next(const struct pstrlist *l, const uint8_t **it, struct pstr *out);
/* Copy a strlist into a heap NULL-terminated array of C strings (free with proto_strv_free). */
char **proto_strlist_dup(const struct pstrlist *l);
/* Copy a NULL-terminated string array (NULL on allocation failure). */
char **proto_strv_dup(char *const *v);
/* Free an array from proto_strlist_dup or proto_strv_dup. */
void proto_strv_free(char **v);
/* Heap-free: copy a pstr into a NUL-terminated buffer; returns -1 if it does not fit. */
int proto_str_copy(const struct pstr *s, char *out, size_t outlen);
/* Heap-free: the fields of a message type, in order: 'u' u32, 's' str, 'l' strlist ("" if unknown).
 */
const char *proto_schema(unsigned type);
/* Heap-free: name of a message type for diagnostics ("?" if unknown). */
const char *proto_type_name(unsigned type);

/* Heap-free: blocking send of a finished frame with optional fds (SCM_RIGHTS). Returns 0 or
 * -1/errno. */
int proto_send(int sock, const struct proto_buf *b, const int *fds, int nfds);
/* Heap-free: blocking send of len bytes on a socket (no SIGPIPE). Returns 0 or -1/errno. */
int proto_write_all(int sock, const void *data, size_t len);
/* Blocking receive of one frame into *body (heap, caller frees), with up to maxfds fds
 * (received count in *nfds; extra fds closed). Returns frame body length, 0 on EOF,
 * -1 on error with err set. */
long proto_recv(int sock, uint8_t **body, int *fds, int maxfds, int *nfds, char *err,
                size_t errlen);
/* Heap-free: blocking receive of one frame body into buf (cap bytes), with up to maxfds fds
 * as proto_recv. Returns the body length, 0 on EOF before a frame, -1 on error (a frame
 * over cap or PROTO_MAX_FRAME is EMSGSIZE, and its body is not read). */
long proto_recv_into(int sock, uint8_t *buf, size_t cap, int *fds, int maxfds, int *nfds);
/* Heap-free: one recvmsg of up to len bytes into buf (flags as recvmsg's; fds arrive
 * close-on-exec), appending the fds that come with them to fds (counted in *nfds, up to
 * maxfds; extra fds closed). Returns recvmsg's result. */
ssize_t proto_recvmsg(int sock, void *buf, size_t len, int flags, int *fds, int maxfds, int *nfds);
/* Heap-free: read exactly n bytes, collecting up to maxfds fds that arrive (counted in *nfds,
 * extra fds closed); returns n, 0 on EOF before the first byte, -1 on error or a short read. */
long proto_recv_exact(int sock, uint8_t *buf, size_t n, int *fds, int maxfds, int *nfds);

#endif
