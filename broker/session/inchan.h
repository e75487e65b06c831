/* Incoming channels: channels the server opens toward us (an agent's, a remote forward's,
 * X11's), each joined to a socket of ours and pumped by the loop without blocking. A channel
 * whose far end is on the client's side (a remote forward's target, a display) is connected
 * by the session's client, in its own context (network namespace, working directory, name
 * resolution), as ssh would: the broker asks with INCOMING and the client answers with the
 * connected fd (INCOMING_REPLY). Any incoming channel kind uses inchan_ask for that. */
#ifndef MUXSHIM_INCHAN_H
#define MUXSHIM_INCHAN_H

#include <stddef.h>
#include <stdint.h>

#include "objects.h"

/* Join ch (a channel the server opened on c) to fd, a non-blocking socket of ours (owned; -1:
 * nothing to join, the channel is closed), pumped in writes of at most chunk bytes. 0, or
 * -1 when memory is short (fd closed, ch left to libssh2). */
int inchan_add(struct sshconn *c, LIBSSH2_CHANNEL *ch, int fd, size_t chunk);
/* ch, opened by the server on s's connection for s, is to be joined to what s's client
 * connects: INCOMING {kind, host, port, origin} to the client (INC_SOCKS: with one end of a
 * socket pair, the channel's pump on the other). The channel is pumped from the client's
 * answer (inchan_reply) on, and closed when s ends or the client cannot connect. */
void inchan_ask(struct session *s, LIBSSH2_CHANNEL *ch, uint32_t kind, const char *host, int port,
                const char *origin, size_t chunk);
/* ch, opened by the server on c for a forward the connection holds (-O forward -R): no client
 * to ask, so the broker resolves and connects host:port (a socket path when port is -2) in a
 * worker thread, as an OpenSSH master connects in its own process; then it is pumped, or
 * closed when the target cannot be reached. */
void inchan_connect(struct sshconn *c, LIBSSH2_CHANNEL *ch, const char *host, int port,
                    size_t chunk);
/* ch, opened by the server on c for a dynamic forward the connection holds (-O forward -R
 * PORT): the broker is the SOCKS server, as an OpenSSH master is. The request is read from
 * the channel, its target checked against permit (PermitRemoteOpen) and connected as
 * inchan_connect does; the reply goes back only once it is connected (else the channel
 * closes unanswered, as ssh's). */
void inchan_socks(struct sshconn *c, LIBSSH2_CHANNEL *ch, const char *permit, size_t chunk);
/* ch, an x11 channel the server opened on c: read until its X client's first packet tells
 * whose it is (x11fwd_first), then asked of that session's client as inchan_ask does. */
void inchan_x11(struct sshconn *c, LIBSSH2_CHANNEL *ch, size_t chunk);
/* The client's INCOMING_REPLY for s: err 0 with fd (owned) connected, else the channel
 * closes. An id s does not wait for is ignored (fd closed). */
void inchan_reply(struct session *s, uint32_t id, int err, int fd);
/* s leaves its connection: the channels its client connected close (their connections with
 * them), as ssh's end with it. */
void inchan_session_gone(struct session *s);
/* Pump c's incoming channels (the one with a half-sent packet first); nonzero on progress. */
int inchan_step(struct sshconn *c);
/* The i-th incoming channel's socket and the poll events it waits for (0: none), or NULL
 * past the last. */
struct endpoint *inchan_endpoint(struct sshconn *c, int i, short *events);
/* Whether c has incoming channels (their data comes on the connection's socket). */
int inchan_reads(const struct sshconn *c);
/* Forget c's incoming channels: close our sockets (libssh2 frees the channels with the
 * session). */
void inchan_drop(struct sshconn *c);

#endif
