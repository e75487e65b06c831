/* The caller's own ControlPath (Ansible's, a user's ssh_config): the broker is the master
 * unless an OpenSSH master already listens there, as mux.c's muxclient() would find it. */
#include "ctlpath.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int ctlpath_live_master(const struct hostcfg *cfg)
{
    if (!cfg->has_own_controlpath || !cfg->controlmaster_client || !cfg->controlpath[0])
        return 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(cfg->controlpath) >= sizeof sa.sun_path)
        return 0; /* ssh itself refuses it ("ControlPath too long"): nothing listens */
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", cfg->controlpath);
    /* Non-blocking: a unix connect() answers at once (ENOENT, ECONNREFUSED for a stale
     * socket, EAGAIN for a master whose backlog is full, which still is alive). */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int live = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 || errno == EAGAIN;
    close(fd);
    return live;
}
