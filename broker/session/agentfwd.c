/* Agent forwarding: the session's auth-agent request, and the server's agent channels
 * joined to the forwarded agent's socket. */
#include "agentfwd.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "engine.h"
#include "envreq.h"
#include "fatal.h"
#include "inchan.h"
#include "log.h"
#include "session_int.h"

/* sshd takes packets of 16 KB at most on agent channels (CHAN_X11_PACKET_DEFAULT), and
 * libssh2 1.11 records the window and packet size of a channel the server opened swapped
 * (it would send 32 KB packets into a 64 KB window): writes stay within one small packet. */
#define AGENT_CHUNK 16384

#if LIBSSH2_VERSION_NUM >= 0x010b00
/* A non-blocking connection to the agent at path, or -1. */
static int agent_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!path[0] || strlen(path) >= sizeof sa.sun_path)
        return -1;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        blog("cannot reach the forwarded agent %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* libssh2 confirmed a server's auth-agent channel open, from inside whatever call read the
 * packet: only note it here (no libssh2 calls); the pump joins it. */
static void on_agent_open(LIBSSH2_SESSION *ssh, LIBSSH2_CHANNEL *ch, void **abstract)
{
    (void)ssh;
    struct sshconn *c = *abstract;
    if (inchan_add(c, ch, c->facts.fwd_agent[0] ? agent_connect(c->facts.fwd_agent) : -1,
                   AGENT_CHUNK) < 0)
        blog("out of memory for an agent channel on %s", c->cfg.hostname);
    /* else freed with the session; the remote's agent client waits */
}
#endif

void agentfwd_init(struct sshconn *c)
{
#if LIBSSH2_VERSION_NUM >= 0x010b01
    libssh2_session_callback_set2(c->ssh, LIBSSH2_CALLBACK_AUTHAGENT,
                                  (libssh2_cb_generic *)on_agent_open);
#elif LIBSSH2_VERSION_NUM >= 0x010b00
    libssh2_session_callback_set(c->ssh, LIBSSH2_CALLBACK_AUTHAGENT, (void *)on_agent_open);
#else
    (void)c;
#endif
}

int agentfwd_request(struct session *s)
{
    struct sshconn *c = s->conn;
    if (s->agent_sent || !c->facts.fwd_agent[0])
        return 1;
#if LIBSSH2_VERSION_NUM >= 0x010b00
    int rc = envreq_hold(c, s->ch, s->blocked_op != OP_AGENT);
    if (rc == 0)
        rc = libssh2_channel_request_auth_agent(s->ch);
    envreq_release(c);
    if (sess_again(s, rc, OP_AGENT))
        return 0;
    if (rc < 0 && !fatal_channel_only(rc)) {
        sess_fail(s, rc, "auth-agent request");
        return 1;
    }
#endif
    s->agent_sent = 1;
    return 1;
}
