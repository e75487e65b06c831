/* What broker/session's files share with each other and no other module (session.h is the
 * interface). */
#ifndef MUXSHIM_SESSION_INT_H
#define MUXSHIM_SESSION_INT_H

#include "jobs.h"
#include "session.h"

/* endpoint.c */
/* Take fd as the endpoint (owned), noting whether it is a terminal; flags untouched. */
void sess_endpoint_open(struct endpoint *e, int fd);
/* Make the endpoint's I/O non-blocking without changing a description the user shares. */
void sess_endpoint_nonblock(struct endpoint *e);
/* Restore the caller's flags (if they were changed) and close our copy. */
void sess_endpoint_close(struct endpoint *e);
/* read() that never waits: -1 with EAGAIN when the endpoint is not ready. */
ssize_t sess_endpoint_read(struct endpoint *e, void *p, size_t n);
/* write() that never waits: -1 with EAGAIN when the endpoint is not ready. */
ssize_t sess_endpoint_write(struct endpoint *e, const void *p, size_t n);

/* session.c */
/* Tell the session's owner n (session.h); 0 when it has none. */
int sess_tell(struct session *s, const struct session_note *n);
/* The session goes on, or ends, without its client, which closes once its replies are out. */
void sess_release_client(struct session *s);
/* A jump host's tunnel ends before it carried anything: the connection it was for fails. */
void sess_tunnel_fail(struct session *s, enum conn_status st, const char *msg);

/* policy.c */
/* A session's ssh -G job (session.c starts it; sess_resolved takes its result). */
struct resolve_job {
    struct job job;
    struct session *sess;       /* inputs read from it, untouched by the loop meanwhile */
    int rc;                     /* 0, or -1 with err */
    struct hostcfg *cfg;        /* the result (heap: taken, or freed with the job) */
    struct accept_files *known; /* the files conn_accepts reads (accept.h), likewise */
    char err[512];
};
/* The ssh -G job finished: choose the mode and hand the session to the pool (or answer). */
void sess_resolved(struct resolve_job *j);
/* Count a session the broker serves (once its command may run). */
void sess_count_served(const struct session *s);

/* requests.c */
/* Note an EAGAIN (1) that may have left a packet half sent by op; 0 for any other rc. */
int sess_again(struct session *s, int rc, int op);
/* The session's exit, unless one is already set. */
void sess_set_exit(struct session *s, int kind, int code, const char *msg);
/* A libssh2 error that is not EAGAIN: end the channel, or the whole connection. */
void sess_fail(struct session *s, int rc, const char *what);
/* What ssh prints when a terminal session ends (LogLevel INFO and up), into out. */
const char *sess_closed_line(const struct session *s, char *out, size_t outlen);

/* pump.c */
/* A running session: pump until nothing moves; nonzero on progress. */
int sess_step_running(struct session *s);

/* tcpip.c */
/* -W or a jump host's tunnel: open the direct-tcpip channel, and the session runs. */
int sess_step_opening(struct session *s);

#endif
