/* Liveness of a shared connection (see alive.h).
 *
 * ssh sends keepalives only when ServerAliveInterval is set; a shared connection outlives
 * the sessions that would notice a dead link, so muxshim always watches: when sessions
 * wait on a server that has said nothing for an interval, it sends a keepalive that wants a
 * reply, and ends the connection when the server stays silent for the window. The window
 * runs from the moment a keepalive is due, whether or not it could be written: behind a
 * stalled server our own bytes fill the socket's queue and no keepalive can go out, and ssh
 * too counts the keepalives it queued, not the ones the network took. Silence is the
 * server's, not ours: bytes of its waiting unread in the socket, and bytes of ours that it
 * takes from the socket's queue, are signs of life (link_moved). A connection idle for
 * an interval of wall-clock time (suspend included) is probed before it takes a new
 * session, so the first command after a laptop wakes does not hang on a dead link. */
#include "alive.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <time.h>

#include "clock.h"
#include "engine.h"

#define DEFAULT_INTERVAL_S 5 /* when ServerAliveInterval is not set */
#define DEFAULT_COUNTMAX 3   /* a 15 s window */
#define PROBE_TIMEOUT_MS 3000
#define MIN_WINDOW_MS 3000 /* libssh2 sends at most one keepalive per 2 s */

static long long interval_ms(const struct sshconn *c)
{
    int s = c->cfg.serveraliveinterval > 0 ? c->cfg.serveraliveinterval : DEFAULT_INTERVAL_S;
    return s * 1000LL;
}

long long alive_window_ms(const struct sshconn *c)
{
    int count = c->cfg.serveraliveinterval > 0 ? c->cfg.serveralivecountmax : DEFAULT_COUNTMAX;
    long long w = interval_ms(c) * (count > 0 ? count : 1);
    return w < MIN_WINDOW_MS ? MIN_WINDOW_MS : w;
}

/* Bytes arrived from the server: it is alive, any probe is answered. */
static void alive_rx(struct sshconn *c)
{
    c->last_rx = clock_ms(CLOCK_MONOTONIC);
    c->last_rx_boot = clock_ms(CLOCK_BOOTTIME);
    c->ka_first = 0;
    c->probe_at = 0;
}

/* libssh2's reads of the server socket (its own recv, plus bookkeeping): every byte is a
 * sign of life, and the count tells the pump that packets may have come for any channel. */
static ssize_t counting_recv(libssh2_socket_t fd, void *buf, size_t len, int flags, void **abstract)
{
    struct sshconn *c = *abstract;
    if (c->rx_gate)
        return -EAGAIN; /* a request call: it takes its reply from the queue only (envreq.h) */
    ssize_t n = recv(fd, buf, len, flags);
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    if (n > 0) {
        c->rx_bytes += (unsigned long long)n;
        alive_rx(c);
        /* sshd leaves Nagle on for connections without a terminal, so when it writes a
         * channel's data and, a moment later, its EOF and CLOSE (a direct-tcpip target that
         * answered and hung up), the second write waits for our ACK, which Linux would delay
         * by 40 ms: acknowledge at once. The kernel turns quick ACKs off again by itself,
         * so this is repeated after every read. */
        if (c->quickack) {
            int one = 1;
            if (setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one) < 0)
                c->quickack = 0; /* not TCP (a jump host's tunnel) */
        }
    }
    return n;
}

/* libssh2's writes to the server socket, counted: written less what the socket still holds
 * is what the far end took (link_moved). */
static ssize_t counting_send(libssh2_socket_t fd, const void *buf, size_t len, int flags,
                             void **abstract)
{
    struct sshconn *c = *abstract;
    ssize_t n = send(fd, buf, len, flags);
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    c->tx_bytes += (unsigned long long)n;
    return n;
}

/* The bytes of the server's that reached our socket (read or not), the bytes of ours that
 * left it (taken by the far end), so far, and the bytes of ours it still holds. */
static void link_counts(const struct sshconn *c, long long *in, long long *out, int *queued)
{
    int unread = 0;
    if (ioctl(c->sock, SIOCINQ, &unread) < 0)
        unread = 0;
    if (ioctl(c->sock, SIOCOUTQ, queued) < 0)
        *queued = 0;
    *in = (long long)c->rx_bytes + unread;
    *out = (long long)c->tx_bytes - *queued;
}

void alive_init(struct sshconn *c)
{
    libssh2_keepalive_config(c->ssh, 1, 2);
    *libssh2_session_abstract(c->ssh) = c;
    engine_set_recv(c->ssh, counting_recv);
    engine_set_send(c->ssh, counting_send);
    c->quickack = 1;
    link_counts(c, &c->seen_in, &c->seen_out, &c->seen_queued);
    alive_rx(c);
}

int alive_fresh(const struct sshconn *c)
{
    return clock_ms(CLOCK_BOOTTIME) - c->last_rx_boot < interval_ms(c);
}

/* A keepalive is due: the window counts from now (unless it already does), and the
 * keepalive goes out unless a packet is half sent (libssh2 1.10 would then refuse every
 * later send) or the socket's queue is not empty (the keepalive could be cut in two); then
 * it is tried again at the next tick, and the window runs on meanwhile. */
static void keepalive_due(struct sshconn *c, long long now)
{
    int queued = 0, next = 0;
    if (!c->ka_first)
        c->ka_first = now;
    if (c->blocked || c->spare_blocked || c->want_write || ioctl(c->sock, SIOCOUTQ, &queued) < 0 ||
        queued > 0)
        return;
    libssh2_keepalive_send(c->ssh, &next);
}

void alive_probe(struct sshconn *c)
{
    if (c->probe_at)
        return;
    long long now = clock_ms(CLOCK_MONOTONIC);
    c->probe_at = now;
    keepalive_due(c, now);
}

int alive_probing(const struct sshconn *c)
{
    return c->probe_at != 0;
}

/* Since the last tick: bytes of the server's arrived that we have not read yet (while a
 * packet of ours is half sent the pump reads nothing, since libssh2 must finish that send
 * first, nor while no client takes its output: the server spoke all the same), or the far
 * end took bytes of ours that were waiting in the socket (so it reads: a slow server on a
 * loaded machine). A stalled link does neither once its buffers are full (they take at
 * most the channels' windows); what it takes while our queue was empty (a keepalive, the
 * last of a write) does not count. */
static void link_moved(struct sshconn *c)
{
    long long in, out;
    int queued;
    link_counts(c, &in, &out, &queued);
    if (in > c->seen_in && in > (long long)c->rx_bytes)
        alive_rx(c);
    else if (out > c->seen_out && c->seen_queued > 0)
        c->ka_first = 0; /* its silence counts from now */
    c->seen_in = in;
    c->seen_out = out;
    c->seen_queued = queued;
}

int alive_tick(struct sshconn *c)
{
    long long now = clock_ms(CLOCK_MONOTONIC), iv = interval_ms(c);
    link_moved(c);
    if (c->probe_at || (c->nsessions > 0 && now - c->last_rx >= iv))
        keepalive_due(c, now);
    /* Counted from the first keepalive due: silence of a whole window in all. */
    long long rest = alive_window_ms(c) - iv;
    if (rest < 1000)
        rest = 1000;
    if (c->ka_first && now - c->ka_first >= rest)
        return ALIVE_DEAD;
    if (c->probe_at && now - c->probe_at >= PROBE_TIMEOUT_MS)
        return ALIVE_SUSPECT;
    return ALIVE_OK;
}
