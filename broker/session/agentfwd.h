/* Agent forwarding (-A, ForwardAgent): the auth-agent request on a session's channel, and the
 * server's auth-agent@openssh.com channels, each joined to a connection of its own to the
 * agent socket its SSH connection forwards (conn_facts.fwd_agent: every session on it
 * forwards that one, accept.h), pumped by the loop without blocking; the server's x11
 * channels are pumped alike, each joined to its session's display (x11fwd.h). */
#ifndef MUXSHIM_AGENTFWD_H
#define MUXSHIM_AGENTFWD_H

#include "objects.h"

/* Take a channel the server opened on c (from a libssh2 callback: no libssh2 calls): an
 * auth-agent one joined to c's forwarded agent at once, an x11 one (x11 set) to its
 * session's display once its first packet shows whose it is (x11fwd_first). */
void agentfwd_adopt(struct sshconn *c, LIBSSH2_CHANNEL *ch, int x11);
/* Take the server's auth-agent channels on c (libssh2's LIBSSH2_CALLBACK_AUTHAGENT; with a
 * libssh2 older than 1.11 nothing: such sessions went to the real ssh). */
void agentfwd_init(struct sshconn *c);
/* The session's auth-agent request, once, when its connection forwards an agent; a refusal
 * is ignored as ssh does (sshd takes one per connection). 1 when done, 0 to come back. */
int agentfwd_request(struct session *s);
/* Pump c's agent channels (the blocked one first); nonzero on progress. */
int agentfwd_step(struct sshconn *c);
/* The i-th agent channel's agent socket and the poll events it waits for (0: none), or NULL
 * past the last. */
struct endpoint *agentfwd_endpoint(struct sshconn *c, int i, short *events);
/* Whether c has agent channels (their data comes on the connection's socket). */
int agentfwd_reads(const struct sshconn *c);
/* Forget c's agent channels: close our agent sockets (libssh2 frees the channels with the
 * session). */
void agentfwd_drop(struct sshconn *c);

#endif
