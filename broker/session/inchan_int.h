/* Inside incoming channels (inchan.c) and their held forwards' half (inheld.c): one channel
 * and its socket, and the steps both files take on it. Not for other modules. */
#ifndef MUXSHIM_INCHAN_INT_H
#define MUXSHIM_INCHAN_INT_H

#include <stddef.h>
#include <stdint.h>

#include "session_int.h"

enum in_op { IOP_NONE = 0, IOP_READ, IOP_WRITE, IOP_EOF, IOP_CLOSE };

struct connect_job;
struct held_socks;

/* One server-opened channel and our socket. */
struct inchan {
    LIBSSH2_CHANNEL *ch;
    struct endpoint ep;    /* our socket, non-blocking (-1: none yet, or none at all) */
    struct buf to_fd;      /* from the channel, not yet written to the socket */
    struct buf to_ch;      /* to the channel: from the socket, or a SOCKS reply of ours */
    size_t chunk;          /* largest write to the channel */
    int ch_eof, fd_eof;    /* each side's end of input */
    int eof_sent;          /* our EOF went to the server */
    int fd_shut;           /* the channel's EOF was passed on (shutdown SHUT_WR) */
    int closing;           /* close the channel and free */
    struct session *owner; /* whose client connects it (NULL: none, or it left) */
    uint32_t id;           /* INCOMING's id (0: not asked) */
    uint32_t kind;         /* INC_* when asked */
    int unsent;            /* INCOMING with its fd could not leave yet: tried again */
    int theirs;            /* INC_SOCKS: the client's end, until INCOMING takes it */
    char *host, *origin;   /* INCOMING's fields, until it left */
    int port;
    enum in_op blocked_op;    /* the call that left a packet half sent */
    int x11;                  /* an x11 channel whose session its first bytes tell (x11fwd.h) */
    struct connect_job *job;  /* the broker connects its target (inheld.c) */
    struct held_socks *socks; /* a held dynamic forward's SOCKS request being read (inheld.c) */
    struct inchan *next;
};

/* A new channel of c joined to fd (-1: none yet), at the end of c's list; NULL when memory
 * is short. */
struct inchan *inchan_append(struct sshconn *c, LIBSSH2_CHANNEL *ch, int fd, size_t chunk);
/* Whether rc is EAGAIN (1), marking a as the channel with a half-sent packet when it is (op:
 * the call to repeat first); 0 for any other rc. */
int inchan_again(struct sshconn *c, struct inchan *a, long rc, enum in_op op);
/* Read what the channel has into a->to_fd: the bytes read (>0), 0 at its end (ch_eof set),
 * -1 when nothing more comes now. */
long inchan_fill(struct sshconn *c, struct inchan *a);
/* Write a->to_ch to the channel as far as the window lets; nonzero on progress (a->closing
 * set when the channel broke). */
int inchan_flush(struct sshconn *c, struct inchan *a);
/* A held dynamic forward's channel still reading its SOCKS request: read, answer the SOCKS 5
 * greeting, and once the request is whole connect its target (or close a); nonzero on
 * progress. */
int inheld_socks_step(struct sshconn *c, struct inchan *a);
/* a is freed: its worker's result, when it comes, is closed; its SOCKS state freed. */
void inheld_forget(struct inchan *a);

#endif
