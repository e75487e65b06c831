/* LocalForward and DynamicForward as ssh -G prints them, kept as lines for the client that
 * binds them (the broker only carries them: see FORWARDS in docs/protocol.md). */
#include <stdio.h>
#include <string.h>

#include "sshconfig_int.h"

/* Append "KIND V\n" to the lines in buf (size bytes); -1 when it does not fit. */
static int add_line(char *buf, size_t size, char kind, const char *v)
{
    size_t used = strlen(buf);
    int n = snprintf(buf + used, size - used, "%c %s\n", kind, v);
    if (n < 0 || (size_t)n >= size - used) {
        buf[used] = '\0';
        return -1;
    }
    return 0;
}

int sshconfig_add_forward(struct hostcfg *c, char kind, const char *v)
{
    return add_line(c->forwards, sizeof c->forwards, kind, v);
}

int sshconfig_add_rforward(struct hostcfg *c, const char *v)
{
    return add_line(c->rforwards, sizeof c->rforwards, 'R', v);
}

/* Does a local forward to a socket path listen on listen (len bytes)? */
static int local_to_path(const char *all, const char *listen, size_t len)
{
    for (const char *l = all; *l; l = strchr(l, '\n') + 1) {
        if (l[0] == 'L' && !strncmp(l + 2, listen, len) && l[2 + len] == ' ' && l[3 + len] == '/')
            return 1;
    }
    return 0;
}

void sshconfig_forwards_done(struct hostcfg *c)
{
    char out[sizeof c->forwards];
    size_t n = 0;
    for (const char *l = c->forwards; *l;) {
        const char *nl = strchr(l, '\n');
        size_t len = (size_t)(nl - l) + 1;
        if (!(l[0] == 'D' && local_to_path(c->forwards, l + 2, len - 3))) {
            memcpy(out + n, l, len);
            n += len;
        }
        l = nl + 1;
    }
    out[n] = '\0';
    memcpy(c->forwards, out, n + 1);
}
