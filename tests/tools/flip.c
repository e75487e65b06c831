/* flip: a ProxyCommand that corrupts the server's stream, as a bad link would (after
 * OpenSSH's regress/integrity.sh, which puts modpipe behind nc).
 *
 *   flip [-x MASK] [-m MACLEN] [-l LOG] PORT WHERE
 *
 * Relays its stdin to 127.0.0.1:PORT and what comes back to its stdout, and XORs one byte
 * of the server's stream with MASK (default 0x04) on the way. WHERE picks the byte:
 *   N        the N-th byte of the stream (0: the first of the server's banner)
 *   enc+N    the N-th byte after the server's SSH_MSG_NEWKEYS (its first encrypted packet)
 *   pkt:K    the last byte (of the MAC or tag) of the K-th packet after NEWKEYS (0: the
 *            first); needs -m, the MAC's or tag's length, and a length sent in the clear
 *            (an -etm MAC, or AES-GCM)
 * With -l, one line goes to LOG when the byte is flipped ("flipped OFFSET"). Both sides'
 * EOFs are passed on; flip exits when the server's side has ended. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum phase { BANNER, PLAIN, ENC };

/* Where in the server's stream we are: its banner line, packets in the clear (to find
 * NEWKEYS), then encrypted packets (parsed only in pkt: mode). */
struct parser {
    enum phase ph;
    unsigned long long off; /* offset of the next byte */
    char line[8];           /* the first bytes of the current banner-phase line */
    size_t linelen;
    unsigned char hdr[6]; /* the current packet's length (and, in the clear, padlen, type) */
    size_t hdrlen;
    unsigned long long left; /* bytes of the current packet after its header */
    int newkeys;             /* the current packet in the clear is NEWKEYS */
    unsigned long long enc_start;
    long long pkt;                 /* index of the current encrypted packet */
    unsigned long long pkt_target; /* offset to flip in pkt: mode, 0 = not known yet */
};

static long long want_pkt = -1, want_off = -1, want_enc = -1;
static unsigned maclen;
static int flipped;

/* Feed one byte to the parser; whether it is the one to flip. */
static int step(struct parser *p, unsigned char b)
{
    unsigned long long o = p->off++;
    int hit = 0;
    if (want_off >= 0 && o == (unsigned long long)want_off)
        hit = 1;
    switch (p->ph) {
    case BANNER:
        if (p->linelen < sizeof p->line)
            p->line[p->linelen++] = (char)b;
        if (b == '\n') {
            if (p->linelen >= 4 && !memcmp(p->line, "SSH-", 4))
                p->ph = PLAIN;
            p->linelen = 0;
        }
        break;
    case PLAIN:
        if (p->hdrlen < 6) {
            p->hdr[p->hdrlen++] = b;
            if (p->hdrlen == 6) {
                unsigned long long len = ((unsigned long long)p->hdr[0] << 24) | (p->hdr[1] << 16) |
                                         (p->hdr[2] << 8) | p->hdr[3];
                p->newkeys = p->hdr[5] == 21;
                p->left = len > 2 ? len - 2 : 0;
            }
        } else if (p->left) {
            p->left--;
        }
        if (p->hdrlen == 6 && !p->left) {
            p->hdrlen = 0;
            if (p->newkeys) {
                p->ph = ENC;
                p->enc_start = p->off;
            }
        }
        break;
    case ENC:
        if (want_enc >= 0 && o == p->enc_start + (unsigned long long)want_enc)
            hit = 1;
        if (want_pkt < 0)
            break;
        if (p->hdrlen < 4) {
            p->hdr[p->hdrlen++] = b;
            if (p->hdrlen == 4) {
                unsigned long long len = ((unsigned long long)p->hdr[0] << 24) | (p->hdr[1] << 16) |
                                         (p->hdr[2] << 8) | p->hdr[3];
                p->left = len + maclen;
                if (p->pkt == want_pkt)
                    p->pkt_target = p->off + p->left - 1;
            }
        } else if (p->left) {
            if (p->pkt_target && o == p->pkt_target)
                hit = 1;
            p->left--;
        }
        if (p->hdrlen == 4 && !p->left) {
            p->hdrlen = 0;
            p->pkt++;
        }
        break;
    }
    return hit;
}

static int write_all(int fd, const unsigned char *b, size_t n)
{
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv)
{
    unsigned mask = 0x04;
    const char *log = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "x:m:l:")) != -1) {
        if (opt == 'x')
            mask = (unsigned)strtoul(optarg, NULL, 0);
        else if (opt == 'm')
            maclen = (unsigned)atoi(optarg);
        else if (opt == 'l')
            log = optarg;
        else
            return 2;
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: flip [-x MASK] [-m MACLEN] [-l LOG] PORT N|enc+N|pkt:K\n");
        return 2;
    }
    const char *w = argv[optind + 1];
    if (!strncmp(w, "enc+", 4))
        want_enc = atoll(w + 4);
    else if (!strncmp(w, "pkt:", 4) && maclen)
        want_pkt = atoll(w + 4);
    else if (w[0] >= '0' && w[0] <= '9')
        want_off = atoll(w);
    else {
        fprintf(stderr, "flip: bad WHERE %s\n", w);
        return 2;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[optind]))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        perror("flip: connect");
        return 1;
    }
    struct parser p = {0};
    int in_open = 1;
    unsigned char buf[65536];
    for (;;) {
        struct pollfd pf[2] = {{.fd = in_open ? 0 : -1, .events = POLLIN},
                               {.fd = s, .events = POLLIN}};
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (pf[0].revents) {
            ssize_t n = read(0, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0 || write_all(s, buf, (size_t)n) < 0) {
                in_open = 0;
                shutdown(s, SHUT_WR);
            }
        }
        if (pf[1].revents) {
            ssize_t n = read(s, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            for (ssize_t i = 0; i < n; i++) {
                if (step(&p, buf[i]) && !flipped) {
                    buf[i] ^= (unsigned char)mask;
                    flipped = 1;
                    FILE *f = log ? fopen(log, "a") : NULL;
                    if (f) {
                        fprintf(f, "flipped %llu\n", p.off - 1);
                        fclose(f);
                    }
                }
            }
            if (write_all(1, buf, (size_t)n) < 0)
                break;
        }
    }
    close(1);
    return 0;
}
