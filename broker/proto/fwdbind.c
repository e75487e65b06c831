/* Binding a forward's listener as ssh does (bind address rules, messages). */
#include "fwdbind.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto.h"

static void say(fwdbind_say_fn *fn, void *arg, const char *fmt, const char *a, const char *b)
{
    char line[2400];
    int n = snprintf(line, sizeof line, fmt, a, b);
    (void)n; /* a longer line is cut */
    fn(arg, 2, line);
}

/* channel_setup_fwd_listener_tcpip for the client. */
static int listen_tcp(const char *host, const char *port, int gateway, int *fds, int max,
                      fwdbind_say_fn *fn, void *arg)
{
    const char *addr = NULL;
    int wildcard = 0, n = 0;
    if (!host)
        wildcard = gateway;
    else if (!*host || !strcmp(host, "*"))
        wildcard = 1;
    else if (strcmp(host, "localhost"))
        addr = host;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = wildcard ? AI_PASSIVE : 0},
                    *top;
    int r = getaddrinfo(addr, port, &hints, &top);
    if (r) {
        say(fn, arg, "channel_setup_fwd_listener_tcpip: getaddrinfo(%.64s): %s", addr,
            gai_strerror(r));
        return 0;
    }
    for (struct addrinfo *ai = top; ai && n < max; ai = ai->ai_next) {
        char ntop[NI_MAXHOST], sport[NI_MAXSERV];
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            getnameinfo(ai->ai_addr, ai->ai_addrlen, ntop, sizeof ntop, sport, sizeof sport,
                        NI_NUMERICHOST | NI_NUMERICSERV))
            continue;
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol), on = 1;
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
            if (!ai->ai_next) { /* earlier ones only under -v, as ssh's verbose() */
                char where[NI_MAXHOST + NI_MAXSERV + 8];
                snprintf(where, sizeof where, "[%s]:%s", ntop, sport);
                say(fn, arg, "bind %s: %s", where, strerror(errno));
            }
            close(fd);
            continue;
        }
        fds[n++] = fd;
    }
    freeaddrinfo(top);
    if (!n)
        say(fn, arg, "channel_setup_fwd_listener_tcpip: cannot listen to port: %s%s", port, "");
    return n;
}

/* unix_listener, under StreamLocalBindMask and StreamLocalBindUnlink. */
static int listen_path(const char *path, uint32_t flags, uint32_t mask, int *fds,
                       fwdbind_say_fn *fn, void *arg)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        say(fn, arg, "unix_listener: path \"%s\" too long for Unix domain socket%s", path, "");
        return 0;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    if ((flags & FWD_BIND_UNLINK) && unlink(path) != 0 && errno != ENOENT)
        say(fn, arg, "unlink(%s): %s", path, strerror(errno));
    mode_t old = umask((mode_t)mask);
    int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (r < 0) {
        say(fn, arg, "unix_listener: cannot bind to path %s: %s", path, strerror(errno));
        close(fd);
        return 0;
    }
    if (listen(fd, 128) < 0) {
        say(fn, arg, "unix_listener: cannot listen on path %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return 0;
    }
    fds[0] = fd;
    return 1;
}

int fwdbind_listen(const char *listen, uint32_t flags, uint32_t mask, int *fds, int max,
                   fwdbind_say_fn *say, void *arg)
{
    char w[1100];
    if (max < 1 || snprintf(w, sizeof w, "%s", listen) >= (int)sizeof w)
        return 0;
    if (strchr(w, '/'))
        return listen_path(w, flags, mask, fds, say, arg);
    char *host = NULL, *port = w;
    if (w[0] == '[') { /* "[host]:port" */
        char *close = strstr(w, "]:");
        if (!close)
            return 0;
        *close = '\0';
        host = w + 1;
        port = close + 2;
    }
    return listen_tcp(host, port, (flags & FWD_GATEWAY_PORTS) != 0, fds, max, say, arg);
}
