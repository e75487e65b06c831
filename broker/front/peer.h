/* Connected muxssh clients: accept, SO_PEERCRED, framing, dispatch, replies. */
#ifndef MUXSHIM_PEER_H
#define MUXSHIM_PEER_H

#include "buf.h"
#include "objects.h"
#include "proto.h"
#include "reap.h"

/* One client on the broker socket: a muxssh (a session, -O, a HANDED notice, `muxrun doctor`)
 * or the shim asking for a routed connect(). */
struct peer {
    int fd;
    pid_t pid;
    struct buf in;  /* bytes received, not yet a whole frame */
    struct buf out; /* frames queued for sending */
    int fds[8];     /* fds received, not yet claimed by an OPEN */
    int nfds;
    int hello;              /* HELLO exchanged */
    int notice;             /* HELLO_NOTICE: a HANDED only, no replies */
    int closing;            /* close once out is flushed */
    struct reap_node reap;  /* released: freed (and off the list) at the end of the turn */
    struct job *prompt_job; /* the job whose question this client is answering (prompt.c) */
    uint32_t prompt_id;     /* ... and the PROMPT frame it was asked in */
    struct session *sess;
    int waits; /* answers it waits for (an -O forward -R's): kept open until then */
    struct peer *next;
};

/* Accept every pending connection on the listening socket listen_fd. */
void peer_accept(int listen_fd);
/* A new client on fd, of process pid, in the list of clients; NULL when memory is short (fd
 * stays the caller's). */
struct peer *peer_add(int fd, pid_t pid);
/* The first client of the list (then p->next), or NULL when none is connected. */
struct peer *peer_first(void);
/* Read what the client sent and act on each whole frame. */
void peer_on_readable(struct peer *p);
/* Flush queued frames. */
void peer_on_writable(struct peer *p);
/* Finish frame b, queue it for p and try to send; frees b. */
void peer_queue(struct peer *p, struct proto_buf *b);
/* Queue EXIT {kind, code, message}. */
void peer_send_exit(struct peer *p, int kind, int code, const char *msg);
/* Queue ERROR {code, message}. */
void peer_send_error(struct peer *p, int code, const char *msg);
/* Queue CONTROL_REPLY {status, text}. */
void peer_send_ctl_reply(struct peer *p, int status, const char *text);
/* Queue CONTROL_OUT {text} (for the client's stdout, before CONTROL_REPLY). */
void peer_send_ctl_out(struct peer *p, const char *text);
/* Queue MESSAGE {text}. */
void peer_send_message(struct peer *p, const char *text);
/* Queue STARTED {flags} and try to send it now; nonzero once it has left the broker. */
int peer_send_started(struct peer *p, uint32_t flags);
/* p owns s (its one request): s tells p what happens to it (session.h). */
void peer_own(struct peer *p, struct session *s);
/* Mark the peer finished: close once its replies are flushed. */
void peer_finish(struct peer *p);

#endif
