/* Agent forwarding (-A, ForwardAgent): the auth-agent request on a session's channel, and the
 * server's auth-agent@openssh.com channels, each joined to a connection of its own to the
 * agent socket its SSH connection forwards (conn_facts.fwd_agent: every session on it
 * forwards that one, accept.h), pumped by the loop without blocking as incoming channels
 * (inchan.h). */
#ifndef MUXSHIM_AGENTFWD_H
#define MUXSHIM_AGENTFWD_H

#include "objects.h"

/* Take the server's auth-agent channels on c (libssh2's LIBSSH2_CALLBACK_AUTHAGENT; with a
 * libssh2 older than 1.11 nothing: such sessions went to the real ssh). */
void agentfwd_init(struct sshconn *c);
/* The session's auth-agent request, once, when its connection forwards an agent; a refusal
 * is ignored as ssh does (sshd takes one per connection). 1 when done, 0 to come back. */
int agentfwd_request(struct session *s);
#endif
