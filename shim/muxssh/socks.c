/* SOCKS for -D: the request read from the connection (blocking, a byte at a time, so that
 * nothing past it is taken from the channel's bytes) and parsed by socksparse.c, which the
 * broker shares; the reply is the broker's to send once the channel is open (OPEN_FWD_SOCKS). */
#include "socks.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "socksparse.h"

int socks_handshake(int fd, char *host, size_t hostlen, int *port)
{
    static struct socks_req r; /* a connection's child serves one request */
    uint8_t buf[4 + SOCKS_HOST_MAX + 1025];
    size_t len = 0;
    memset(&r, 0, sizeof r);
    for (;;) {
        int step = socks_parse(&r, buf, len);
        if (step == SOCKS_BAD)
            return -1;
        if (step == SOCKS_METHOD) {
            if (proto_write_all(fd, socks_method_reply, sizeof socks_method_reply) < 0)
                return -1;
            r.method_done = 1;
            len = 0;
            continue;
        }
        if (step == SOCKS_REQUEST)
            break;
        if (len == sizeof buf)
            return -1;
        ssize_t n = read(fd, buf + len, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        len++;
    }
    if (strlen(r.host) >= hostlen)
        return -1;
    strcpy(host, r.host);
    *port = r.port;
    return r.version;
}

int socks_send_reply(int fd, int version)
{
    uint8_t reply[16];
    return proto_write_all(fd, reply, socks_reply(version, reply));
}
