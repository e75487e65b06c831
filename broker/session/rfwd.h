/* Remote forwards (-R, RemoteForward): the server listens for the session (tcpip-forward on
 * its connection, once the connection is up and before the command runs, as ssh's
 * ssh_init_forwarding asks), each forwarded-tcpip channel goes to the session's client to
 * connect (inchan_ask: its target, or SOCKS for a dynamic one), and the session's forwards
 * are cancelled when it ends. A session sees only its own listeners' channels: libssh2
 * files each channel under the listen address and port the server names. */
#ifndef MUXSHIM_RFWD_H
#define MUXSHIM_RFWD_H

#include "objects.h"

/* What the server answered to a held forward's request (rfwd_held_add). */
struct rfwd_answer {
    int bound;               /* the port it listens on, or -1: refused (or the connection ended) */
    int want_port;           /* the port asked for (0: the server picked bound; -2: a path) */
    const char *listen_path; /* the socket path asked for, when want_port is -2 */
    const char *shown;       /* the target's host or path, as ssh names it */
    int target_port;
};
/* Who waits for a held forward's answer: called once, on the loop. */
typedef void (*rfwd_done_fn)(void *arg, const struct rfwd_answer *a);

/* ssh's words for a remote forward the server refused ("remote port forwarding failed for
 * listen port N", or "... listen path P" when want_port is -2), into out. */
void rfwd_failed_words(int want_port, const char *path, char *out, size_t cap);
/* Whether s, waiting on its ready connection, must still have its remote forwards asked
 * for: makes the requests one at a time (ssh's words for an allocated port or a refusal on
 * its client's stderr; under ExitOnForwardFailure a refusal ends s with 255) and returns 1
 * until all are answered, then 0. */
int rfwd_pending(struct session *s);
/* s leaves its connection: its forwards are cancelled (by the pump, rfwd_step). */
void rfwd_session_gone(struct session *s);
/* Take the channels the server opened on c's listeners, go on with requests and cancels;
 * nonzero on progress. */
int rfwd_step(struct sshconn *c);
/* Whether c has listeners (the server may open channels on them: read its socket). */
int rfwd_reads(const struct sshconn *c);
/* -O forward -R: c holds the remote forward spec ("R LISTEN TARGET" as ssh -G prints it; a
 * relative socket path is the caller's, under cwd; permit is PermitRemoteOpen) until
 * rfwd_held_cancel or its end; each channel on it is connected by the broker (inchan_connect).
 * 1: asked, done(arg) is called with the answer; 0: c held it already, done was called; -1:
 * a line it cannot ask for (done not called). */
int rfwd_held_add(struct sshconn *c, const char *spec, const char *permit, const char *cwd,
                  rfwd_done_fn done, void *arg);
/* -O cancel -R: the server's listener for held spec is cancelled; 0, or -1 when c holds none
 * listening. */
int rfwd_held_cancel(struct sshconn *c, const char *spec);
/* One line per remote forward c holds, "SPEC\tconnection", into out (cap bytes),
 * NUL-terminated (empty when none); bytes written. */
size_t rfwd_held_list(const struct sshconn *c, char *out, size_t cap);
/* Does c hold a remote forward for ssh -O forward (listening or being asked for)? */
int rfwd_held_any(const struct sshconn *c);
/* Forget c's listeners (libssh2 frees them with the session); who waits for a held one's
 * answer hears it refused. */
void rfwd_drop(struct sshconn *c);

#endif
