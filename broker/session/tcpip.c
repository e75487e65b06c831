/* direct-tcpip sessions: -W, a jump host's tunnel and a routed connect(), whose program gets
 * one end of a loopback pair. */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fatal.h"
#include "log.h"
#include "route.h"
#include "engine.h"
#include "session_int.h"
#include "socksparse.h"
#include "stats.h"

/* A routed channel is open: the program gets one end of a loopback TCP pair, the session
 * pumps the other and runs on without a client. 0, or -1 (the program was told). */
static int hand_over(struct session *s)
{
    int mine, theirs, rc = -1;
    if (s->route_from) {
        /* A non-blocking connect: the program's own socket is connected to ours. */
        if (route_connect_to(s->route, s->route_from, s->route_to, s->route_to_port, &mine) < 0) {
            blog("cannot connect a routed channel to its program: %s", strerror(errno));
            sess_tell(
                s, &(struct session_note){.ev = SEV_ROUTE_REPLY, .code = ECONNREFUSED, .fd = -1});
        } else {
            /* The program's socket is connected now: the reply only lets the shim's helper
             * go, and the channel runs whether it arrives or not. */
            sess_tell(s, &(struct session_note){.ev = SEV_ROUTE_REPLY, .fd = -1});
            rc = 0;
        }
    } else if (route_pair(s->route, &mine, &theirs) < 0) {
        blog("no loopback pair for a routed connection: %s", strerror(errno));
        sess_tell(s, &(struct session_note){.ev = SEV_ROUTE_REPLY, .code = ECONNREFUSED, .fd = -1});
    } else {
        rc = sess_tell(s, &(struct session_note){.ev = SEV_ROUTE_REPLY, .fd = theirs});
        close(theirs);
        if (rc < 0)
            close(mine);
    }
    sess_release_client(s);
    if (rc < 0)
        return -1;
    sess_endpoint_open(&s->in, mine);
    sess_endpoint_open(&s->out, fcntl(mine, F_DUPFD_CLOEXEC, 3));
    s->detached = 1;
    return 0;
}

/* -W or a jump host's tunnel: open the direct-tcpip channel, and the session runs. */
int sess_step_opening(struct session *s)
{
    struct sshconn *c = s->conn;
    if (c->opener && c->opener != s)
        return 0; /* another channel open is in flight: ours waits its turn */
    c->opener = s;
    /* As ssh's stdio forward: the originator is 127.0.0.1 port 65535. */
    if (s->flags & OPEN_FWD_PATH) /* a forward to a socket path: as ssh, from 127.0.0.1 0 */
        s->ch = engine_direct_streamlocal(c->ssh, s->fwd_host);
    else
        s->ch =
            libssh2_channel_direct_tcpip_ex(c->ssh, s->fwd_host, s->fwd_port, "127.0.0.1", 65535);
    if (!s->ch) {
        int rc = libssh2_session_last_errno(c->ssh);
        if (sess_again(s, rc, OP_OPEN))
            return 0;
        c->opener = NULL;
        if (!fatal_channel_only(rc)) {
            sess_fail(s, rc, "direct-tcpip open");
            return 1;
        }
        char *m = NULL;
        libssh2_session_last_error(c->ssh, &m, NULL, 0);
        /* libssh2 1.10 keeps the reason code but not the server's words ("Connection
         * refused"), so the line ssh prints is shorter here. */
        int prohibited = m && strstr(m, "prohibited");
        char msg[128];
        snprintf(msg, sizeof msg, "channel 0: open failed: %s\r\nstdio forwarding failed",
                 m && strstr(m, "connect failed") ? "connect failed"
                 : prohibited                     ? "administratively prohibited"
                                                  : "open failed");
        blog("direct-tcpip to %s port %d via %s refused: %s", s->fwd_host, s->fwd_port,
             c->cfg.hostname, m ? m : "?");
        s->started = 1;
        sess_set_exit(s, EXIT_LOST, 255, msg);
        s->state = S_DONE;
        if (s->route && session_client(s)) {
            /* libssh2 1.10 keeps only the reason code: "connect failed" covers refused,
             * unreachable and timed out alike. */
            sess_tell(s, &(struct session_note){.ev = SEV_ROUTE_REPLY,
                                                .code = prohibited ? EACCES : ECONNREFUSED,
                                                .fd = -1});
            sess_release_client(s);
        }
        sess_tunnel_fail(s, CONN_FATAL, msg);
        return 1;
    }
    sess_again(s, 0, OP_OPEN);
    c->opener = NULL;
    if (!session_client(s) && !s->tunnel_for && !s->detached) {
        s->state = S_CLOSING; /* nobody wants it any more */
        return 1;
    }
    if (s->route && hand_over(s) < 0) {
        s->state = S_CLOSING;
        return 1;
    }
    if (s->socks) { /* ssh's SOCKS reply waits in the channel's output until it opens */
        uint8_t reply[10];
        if (buf_append(&s->to_out, reply, socks_reply(s->socks, reply)) < 0) {
            s->state = S_CLOSING;
            return 1;
        }
    }
    s->started = 1;
    if (!(s->flags & OPEN_FWD_CHANNEL)) /* a forward's connection: said once, by its session */
        session_show_hostkey(s);
    sess_count_served(s);
    if (s->detached && !s->route) /* a connection of a forward the connection holds */
        stats_served(c->cfg.hostname, c->cfg.port, c->cfg.user);
    if (session_client(s))
        session_tell_started(s, 0);
    sess_endpoint_nonblock(&s->in);
    sess_endpoint_nonblock(&s->out);
    s->state = S_RUNNING;
    c->total_sessions++;
    if (s->tunnel_for)
        session_tell_started(s, 0); /* the connection it carries goes on */
    return 1;
}
