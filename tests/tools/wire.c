/* wire: a raw client of broker.sock for the fault tests. Sends stdin as it is (optionally
 * with three fds attached), then prints one line per frame the broker answers:
 * `HELLO`, `ERROR <code> <text>`, or `type <n>`, then `eof` (the broker closed) or `open`
 * (still open after the wait). Stdin is sent as it arrives, the fds with its first bytes. It
 * decodes on its own, independent of broker/proto/proto.c.
 *
 *   wire [-f] [-w MS] SOCKET < bytes     -f: attach stdin/stdout/stderr as SCM_RIGHTS
 *                                        -w: how long to wait for answers (default 3000)
 *   wire -l MS SOCKET < bytes            for MS, every 20 ms: connect, send, wait for the
 *                                        first answer; prints `max N` (ms): how long the
 *                                        broker's loop kept a new client waiting at most */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int send_all(int fd, const unsigned char *p, size_t n, int with_fds)
{
    while (n > 0 || with_fds) {
        struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        char cbuf[CMSG_SPACE(3 * sizeof(int))];
        if (with_fds) {
            int fds[3] = {0, 1, 2};
            memset(cbuf, 0, sizeof cbuf);
            mh.msg_control = cbuf;
            mh.msg_controllen = sizeof cbuf;
            struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof fds);
            memcpy(CMSG_DATA(c), fds, sizeof fds);
            if (n == 0) { /* fds need at least one byte of data */
                fprintf(stderr, "wire: -f needs some bytes to send\n");
                return -1;
            }
        }
        ssize_t k = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            printf("send failed: %s\n", strerror(errno));
            return -1;
        }
        p += k;
        n -= (size_t)k;
        with_fds = 0;
    }
    return 0;
}

/* Print the frames in buf[0..*len) and keep an incomplete tail. */
static void print_frames(unsigned char *buf, size_t *len)
{
    size_t off = 0;
    while (*len - off >= 5) {
        uint32_t n = be32(buf + off);
        if (n < 1 || n > (1u << 20)) {
            printf("bad frame length %u\n", n);
            off = *len;
            break;
        }
        if (*len - off < 4 + (size_t)n)
            break;
        const unsigned char *b = buf + off + 4;
        if (b[0] == 1) {
            printf("HELLO\n");
        } else if (b[0] == 11 && n >= 9) {
            uint32_t code = be32(b + 1), sl = be32(b + 5);
            if (sl > n - 9)
                sl = n - 9;
            printf("ERROR %u %.*s\n", code, (int)sl, (const char *)b + 9);
        } else {
            printf("type %u\n", b[0]);
        }
        off += 4 + n;
    }
    memmove(buf, buf + off, *len - off);
    *len -= off;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* -l: the slowest first answer to bytes over ms of tries; 0, or 1 if one failed. */
static int latency(const struct sockaddr_un *sa, int ms)
{
    static unsigned char in[65536];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof in && (r = read(0, in + n, sizeof in - n)) > 0)
        n += (size_t)r;
    long long end = now_ms() + ms, worst = 0;
    while (now_ms() < end) {
        long long t = now_ms();
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        unsigned char b;
        if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof *sa) < 0 ||
            send_all(fd, in, n, 0) < 0 || read(fd, &b, 1) != 1) {
            printf("no answer: %s\n", strerror(errno));
            return 1;
        }
        close(fd);
        if (now_ms() - t > worst)
            worst = now_ms() - t;
        usleep(20000);
    }
    printf("max %lld\n", worst);
    return 0;
}

int main(int argc, char **argv)
{
    int with_fds = 0, wait_ms = 3000, lat_ms = 0, opt;
    while ((opt = getopt(argc, argv, "fw:l:")) != -1) {
        if (opt == 'f')
            with_fds = 1;
        else if (opt == 'w')
            wait_ms = atoi(optarg);
        else if (opt == 'l')
            lat_ms = atoi(optarg);
        else
            return 2;
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "usage: wire [-f] [-w MS] [-l MS] SOCKET < bytes\n");
        return 2;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", argv[optind]);
    if (lat_ms > 0)
        return latency(&sa, lat_ms);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        printf("connect failed: %s\n", strerror(errno));
        return 1;
    }
    /* Stream stdin as it comes: a test can hold a partial frame open for a while. If the
     * broker closes early, stop sending and still report what it said. */
    static unsigned char in[65536];
    ssize_t r;
    while ((r = read(0, in, sizeof in)) > 0) {
        if (send_all(fd, in, (size_t)r, with_fds) < 0)
            break;
        with_fds = 0;
    }
    static unsigned char out[1 << 21];
    size_t outlen = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, wait_ms);
        if (n == 0) {
            print_frames(out, &outlen);
            printf("open\n");
            return 0;
        }
        if (n < 0 && errno == EINTR)
            continue;
        ssize_t k = read(fd, out + outlen, sizeof out - outlen);
        if (k <= 0) {
            print_frames(out, &outlen);
            if (outlen)
                printf("partial frame of %zu bytes\n", outlen);
            printf("eof\n");
            return 0;
        }
        outlen += (size_t)k;
        print_frames(out, &outlen);
        if (outlen == sizeof out)
            outlen = 0;
    }
}
