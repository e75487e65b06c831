/* connect() routing: a TCP connect to an address the user routed (~/.config/muxshim/routes
 * or $MUXSHIM_ROUTES) is carried by a direct-tcpip channel on the broker's connection to the
 * route's host. On a blocking socket the hook waits (the route's ConnectTimeout at most for
 * each answer of the broker) and the broker answers with one end of a loopback TCP pair,
 * which takes the caller's fd number; a non-blocking one returns EINPROGRESS at once and its
 * own socket is connected later (route_async.c). getpeername on either reports the address
 * the program asked for.
 * Stack buffers and system calls only: no heap, no stdio, no locks. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "route.h"
#include "shim.h"

extern char **environ;

/* Carry over what the caller set on its socket before connect. */
static void carry_over(int from, int to)
{
    static const int opts[][2] = {{IPPROTO_TCP, TCP_NODELAY}, {SOL_SOCKET, SO_KEEPALIVE},
                                  {SOL_SOCKET, SO_RCVTIMEO},  {SOL_SOCKET, SO_SNDTIMEO},
                                  {SOL_SOCKET, SO_LINGER},    {SOL_SOCKET, SO_OOBINLINE}};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        unsigned char v[32];
        socklen_t l = sizeof v;
        if (getsockopt(from, opts[i][0], opts[i][1], v, &l) == 0)
            setsockopt(to, opts[i][0], opts[i][1], v, l);
    }
}

int shim_route_connect(int fd, const struct sockaddr *sa, socklen_t len, int *result)
{
    /* The address first: most connects (unix sockets, loopback) end here. */
    if (!sa)
        return 0;
    int family = sa->sa_family, type = 0;
    socklen_t tl = sizeof type;
    const unsigned char *addr;
    unsigned port;
    if (family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const void *)sa;
        addr = (const unsigned char *)&in->sin_addr;
        port = ntohs(in->sin_port);
        if (addr[0] == 127)
            return 0;
    } else if (family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        addr = (const unsigned char *)&in6->sin6_addr;
        port = ntohs(in6->sin6_port);
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) || IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            return 0;
    } else {
        return 0;
    }
    if (shim_inert(environ) || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
        type != SOCK_STREAM || route_known(fd))
        return 0;
    struct via via;
    struct route_ask ask = {.port = port, .family = family};
    if (!route_for(family, addr, port, &via) || !inet_ntop(family, addr, ask.host, sizeof ask.host))
        return 0;
    int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD), err = 0, got;
    if (fl >= 0 && (fl & O_NONBLOCK)) {
        got = route_connect_async(fd, family, &via, &ask, result);
        if (got >= 0) {
            if (got)
                route_remember(fd, sa, len);
            return got;
        }
    }
    got = route_ask_broker(&via, &ask, &err);
    if (got < 0 && !err)
        return 0; /* the broker cannot serve it: as without the shim */
    if (got < 0) {
        *result = -1;
        errno = err;
        return 1;
    }
    carry_over(fd, got);
    if (fl >= 0)
        fcntl(got, F_SETFL, fl);
    if (dup3(got, fd, (fdfl >= 0 && (fdfl & FD_CLOEXEC)) ? O_CLOEXEC : 0) < 0) {
        int e = errno;
        close(got);
        *result = -1;
        errno = e;
        return 1;
    }
    close(got);
    route_remember(fd, sa, len);
    *result = 0;
    return 1;
}
