/* LocalCommand: ssh runs it with the user's shell after the connection is up, before the
 * session's command runs (ssh.c ssh_session2, sshconnect.c ssh_local_cmd). The broker
 * expands it and holds the session until the client has run it with its own stdio. */
#include "localcmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "percent.h"
#include "proto.h"
#include "rfwd.h"
#include "session_int.h"
#include "x11fwd.h"

const char *localcmd_prepare(struct session *s)
{
    char cmd[4 * HC_STR];
    if (!s->cfg->localcommand[0])
        return NULL;
    if (s->mode == MODE_TCPIP)
        return "LocalCommand with -W";
    if (percent_local_command(s->cfg, cmd, sizeof cmd) < 0)
        return "LocalCommand that ssh cannot expand";
    s->localcmd = strdup(cmd);
    return s->localcmd ? NULL : "out of memory";
}

/* The client binds the session's local and dynamic forwards once the connection is up, as
 * ssh's ssh_init_forwarding does, before LocalCommand: 1 while it has not said it did. */
static int forwards_pending(struct session *s)
{
    if (!s->cfg || !s->cfg->forwards[0] || (s->flags & OPEN_FWD_CHANNEL) || s->fwd_state == 2 ||
        !session_client(s))
        return 0;
    if (s->fwd_state == 0) {
        const struct hostcfg *c = s->cfg;
        uint32_t fl = (c->gatewayports ? FWD_GATEWAY_PORTS : 0) |
                      (c->exitonforwardfailure ? FWD_EXIT_ON_FAILURE : 0) |
                      (c->streamlocalbindunlink ? FWD_BIND_UNLINK : 0) |
                      ((uint32_t)(c->loglevel & 255) << 8);
        sess_tell(s, &(struct session_note){.ev = SEV_FORWARDS,
                                            .code = (int)fl,
                                            .kind = c->streamlocalbindmask,
                                            .text = c->forwards});
        s->fwd_state = 1;
    }
    return 1;
}

void localcmd_forwards_done(struct session *s)
{
    if (s->fwd_state != 1)
        return;
    s->fwd_state = 2;
    if (s->conn)
        s->conn->dirty = 1;
}

int localcmd_pending(struct session *s)
{
    /* ssh_init_forwarding: local forwards, then remote ones; LocalCommand after */
    if (forwards_pending(s) || rfwd_pending(s))
        return 1;
    if (!s->localcmd || s->localcmd_state == 2 || !session_client(s))
        return x11fwd_pending(s); /* after LocalCommand, as ssh's ssh_session2_setup */
    if (s->localcmd_state == 0) {
        sess_tell(s, &(struct session_note){.ev = SEV_LOCAL_COMMAND, .text = s->localcmd});
        s->localcmd_state = 1;
    }
    return 1;
}

void localcmd_done(struct session *s)
{
    if (s->localcmd_state != 1)
        return;
    s->localcmd_state = 2;
    if (s->conn)
        s->conn->dirty = 1;
}
