/* The TCP connection to a host as ssh makes it (ssh_connect_direct, ssh_create_socket). */
#include "tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* connect() bounded by timeout_ms (-1 = none); returns 0 or -1 with errno. */
static int timed_connect(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    int rc = connect(fd, sa, len);
    if (rc < 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        do
            rc = poll(&p, 1, timeout_ms);
        while (rc < 0 && errno == EINTR);
        if (rc == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (rc < 0)
            return -1;
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
            return -1;
        if (soerr) {
            errno = soerr;
            return -1;
        }
        rc = 0;
    }
    if (rc < 0)
        return -1;
    return fcntl(fd, F_SETFL, fl);
}

/* The address of interface name to bind to for family, as ssh's BindInterface picks it: the
 * first one that is neither loopback nor link-local, else the first at all. 0 or -1. */
static int iface_addr(const char *name, int family, struct sockaddr_storage *out, socklen_t *len)
{
    struct ifaddrs *all = NULL;
    if (getifaddrs(&all) != 0)
        return -1;
    int found = -1;
    for (int allow_local = 0; allow_local < 2 && found < 0; allow_local++) {
        for (struct ifaddrs *ifa = all; ifa && found < 0; ifa = ifa->ifa_next) {
            if (!ifa->ifa_addr || !ifa->ifa_name || !(ifa->ifa_flags & IFF_UP) ||
                ifa->ifa_addr->sa_family != family || strcmp(ifa->ifa_name, name) != 0)
                continue;
            if (family == AF_INET) {
                const struct sockaddr_in *a = (const struct sockaddr_in *)ifa->ifa_addr;
                if (!allow_local && a->sin_addr.s_addr == htonl(INADDR_LOOPBACK))
                    continue;
                *len = sizeof *a;
            } else {
                const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ifa->ifa_addr;
                if (!allow_local &&
                    (IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr) || IN6_IS_ADDR_LOOPBACK(&a->sin6_addr)))
                    continue;
                *len = sizeof *a;
            }
            memcpy(out, ifa->ifa_addr, *len);
            found = 0;
        }
    }
    freeifaddrs(all);
    return found;
}

/* Bind fd to BindAddress, else to BindInterface's address, as ssh_create_socket does;
 * -1 with what ssh logs in why ("" if it logs nothing). */
static int bind_local(int fd, const struct hostcfg *cfg, int family, char *why, size_t whylen)
{
    why[0] = '\0';
    if (!cfg->bindaddress[0]) {
        struct sockaddr_storage ss;
        socklen_t len = 0;
        if (iface_addr(cfg->bindinterface, family, &ss, &len) < 0) {
            snprintf(why, whylen, "getifaddrs: %.64s: no suitable addresses\r\n",
                     cfg->bindinterface);
            return -1;
        }
        return bind(fd, (struct sockaddr *)&ss, len);
    }
    struct addrinfo hints = {.ai_family = family,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST},
                    *res = NULL;
    if (getaddrinfo(cfg->bindaddress, NULL, &hints, &res) != 0)
        return -1;
    int rc = bind(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return rc;
}

int tcp_connect(const struct hostcfg *cfg, char *err, size_t errlen)
{
    char port[16], ebuf[128];
    snprintf(port, sizeof port, "%d", cfg->port > 0 ? cfg->port : 22);
    struct addrinfo hints = {.ai_family = cfg->addressfamily, .ai_socktype = SOCK_STREAM}, *res;
    int gai = getaddrinfo(cfg->hostname, port, &hints, &res);
    if (gai != 0) {
        const char *why =
            gai == EAI_SYSTEM ? strerror_r(errno, ebuf, sizeof ebuf) : gai_strerror(gai);
        snprintf(err, errlen, "ssh: Could not resolve hostname %.100s: %s", cfg->hostname, why);
        return -1;
    }
    int fd = -1, saved = 0;
    char said[256] = ""; /* what ssh would have logged before its final error */
    int timeout_ms = cfg->connecttimeout > 0 ? cfg->connecttimeout * 1000 : -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) {
            saved = EAFNOSUPPORT;
            continue;
        }
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        char why[128] = "";
        if (fd < 0 || ((cfg->bindaddress[0] || cfg->bindinterface[0]) &&
                       bind_local(fd, cfg, ai->ai_family, why, sizeof why) < 0)) {
            saved = 0;
            if (strlen(said) + strlen(why) < sizeof said)
                strcat(said, why);
            if (fd >= 0)
                close(fd);
            fd = -1;
            continue;
        }
        if (timed_connect(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "%sssh: connect to host %.300s port %s: %s", said, cfg->hostname,
                 port, saved ? strerror_r(saved, ebuf, sizeof ebuf) : "failure");
        return -1;
    }
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on); /* TCPKeepAlive yes */
    return fd;
}
