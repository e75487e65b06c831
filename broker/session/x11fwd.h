/* X11 forwarding (-X, -Y, ForwardX11): the client gets its display's cookie with xauth
 * (X11_AUTH, as ssh's client_x11_get_proto), the session's x11-req carries a fake cookie of
 * its own, and each x11 channel the server opens is given to the session whose fake cookie
 * its X client's first packet carries: the real cookie goes in instead, and that session's
 * client connects the channel to its display (an incoming channel, inchan.h). */
#ifndef MUXSHIM_X11FWD_H
#define MUXSHIM_X11FWD_H

#include "buf.h"
#include "objects.h"
#include "proto.h"

/* Take the server's x11 channels on c (libssh2's LIBSSH2_CALLBACK_X11). */
void x11fwd_init(struct sshconn *c);
/* Whether the session waits for its client's X11_AUTH_REPLY (asking for it, X11_AUTH, the
 * first time): 1 while it does, 0 when it need not or has it. */
int x11fwd_pending(struct session *s);
/* The client's X11_AUTH_REPLY (m): keep the real cookie, make the fake one. */
void x11fwd_reply(struct session *s, const struct proto_msg *m);
/* The session's x11-req, once, ahead of the other requests as ssh sends it; a refusal is
 * said as ssh says it. 1 when done, 0 to come back. */
int x11fwd_request(struct session *s);
/* The first bytes (*first) of an x11 channel on c: 0 while the X client's first packet is
 * incomplete; 1 when it carries a session's fake cookie: the real one is put in its place,
 * *owner is that session and where (wlen bytes) and *port its display (a socket path, port
 * 0, or a host and port) for its client to connect; -1 to refuse the channel. */
int x11fwd_first(struct sshconn *c, struct buf *first, struct session **owner, char *where,
                 size_t wlen, int *port);
/* Wipe and free the session's cookies. */
void x11fwd_free(struct session *s);

#endif
