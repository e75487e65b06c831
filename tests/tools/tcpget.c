/* A TCP client for the route tests: connect (blocking, or with -n non-blocking and poll),
 * print what getpeername and TCP_NODELAY say, then send stdin and print what comes back.
 *   tcpget [-n] ADDR PORT     exit 0; 1 with "connect: <strerror>" when connect fails */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int nb = argc > 1 && !strcmp(argv[1], "-n");
    if (argc != 3 + nb) {
        fprintf(stderr, "usage: tcpget [-n] ADDR PORT\n");
        return 2;
    }
    const char *addr = argv[1 + nb];
    int port = atoi(argv[2 + nb]);
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((unsigned short)port);
        sl = sizeof *in;
    } else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((unsigned short)port);
        sl = sizeof *in6;
    } else {
        fprintf(stderr, "bad address %s\n", addr);
        return 2;
    }
    int s = socket(ss.ss_family, SOCK_STREAM, 0);
    int on = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on); /* before connect */
    if (nb)
        fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
    int rc = connect(s, (struct sockaddr *)&ss, sl);
    if (rc < 0 && nb && errno == EINPROGRESS) {
        struct pollfd p = {.fd = s, .events = POLLOUT};
        poll(&p, 1, 30000);
        int e = 0;
        socklen_t el = sizeof e;
        getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el);
        if (e) {
            errno = e;
            rc = -1;
        } else {
            rc = 0;
        }
        printf("inprogress\n");
    }
    if (rc < 0) {
        printf("connect: %s\n", strerror(errno));
        return 1;
    }
    if (nb)
        fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK);
    struct sockaddr_storage peer;
    socklen_t pl = sizeof peer;
    char text[INET6_ADDRSTRLEN] = "?";
    int pport = -1;
    if (getpeername(s, (struct sockaddr *)&peer, &pl) == 0) {
        if (peer.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr, text, sizeof text);
            pport = ntohs(((struct sockaddr_in *)&peer)->sin_port);
        } else if (peer.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&peer)->sin6_addr, text, sizeof text);
            pport = ntohs(((struct sockaddr_in6 *)&peer)->sin6_port);
        }
    }
    int nd = 0;
    socklen_t ndl = sizeof nd;
    getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &nd, &ndl);
    printf("peer %s %d\nnodelay %d\n", text, pport, nd != 0);
    fflush(stdout);
    char buf[65536];
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0)
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(s, buf + off, (size_t)(n - off));
            if (w <= 0)
                return 1;
            off += w;
        }
    shutdown(s, SHUT_WR);
    while ((n = read(s, buf, sizeof buf)) > 0)
        if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
            return 1;
    return 0;
}
