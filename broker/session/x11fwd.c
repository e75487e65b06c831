/* X11 forwarding: the cookies of a session (the client's real one, our fake one), its
 * x11-req, and the server's x11 channels given to their sessions by the fake cookie, as
 * OpenSSH's x11_request_forwarding_with_spoofing and x11_open_helper do per connection. */
#include "x11fwd.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "envreq.h"
#include "fatal.h"
#include "inchan.h"
#include "log.h"
#include "session_int.h"

#define X11_COOKIE_MAX 256 /* bytes of a cookie (ssh reads 511 hex digits at most) */
/* sshd takes packets of 16 KB at most on x11 channels (CHAN_X11_PACKET_DEFAULT), and libssh2
 * 1.11 records the window and packet size of a channel the server opened swapped: writes
 * stay within one small packet (as the agent's, agentfwd.c). */
#define X11_CHUNK 16384

/* What a session forwards: the protocol, the real and fake cookies, its display. */
struct x11auth {
    char proto[128];
    unsigned char real[X11_COOKIE_MAX], fake[X11_COOKIE_MAX];
    size_t len;
    long long refuse_ms; /* ForwardX11Timeout: CLOCK_MONOTONIC ms from which none is taken */
    char where[256];     /* the display's socket path, or its host (with port) */
    int port;
    int screen;
    const LIBSSH2_CHANNEL *sent_on; /* the channel its x11-req went on */
};

enum { X11_NONE = 0, X11_ASKED, X11_ANSWERED, X11_DONE };

/* libssh2 confirmed a server's x11 channel open, from inside whatever call read the packet:
 * only note it (no libssh2 calls); whose it is shows in its first bytes. */
static void on_x11_open(LIBSSH2_SESSION *ssh, LIBSSH2_CHANNEL *ch, char *shost, int sport,
                        void **abstract)
{
    (void)ssh, (void)shost, (void)sport;
    inchan_x11(*abstract, ch, X11_CHUNK);
}

void x11fwd_init(struct sshconn *c)
{
#if LIBSSH2_VERSION_NUM >= 0x010b01
    libssh2_session_callback_set2(c->ssh, LIBSSH2_CALLBACK_X11, (libssh2_cb_generic *)on_x11_open);
#else
    libssh2_session_callback_set(c->ssh, LIBSSH2_CALLBACK_X11, (void *)on_x11_open);
#endif
}

/* The session's DISPLAY, or NULL. */
static const char *display_of(const struct session *s)
{
    for (char **e = s->env; e && *e; e++)
        if (!strncmp(*e, "DISPLAY=", 8))
            return *e + 8;
    return NULL;
}

int x11fwd_pending(struct session *s)
{
    if (!s->cfg || !s->cfg->forwardx11 || s->x11_state >= X11_ANSWERED || !session_client(s) ||
        (s->mode != MODE_EXEC && s->mode != MODE_SHELL && s->mode != MODE_SUBSYSTEM))
        return 0;
    if (s->x11_state == X11_NONE) {
        uint32_t fl = (s->cfg->forwardx11trusted ? X11_TRUSTED : 0) |
                      ((uint32_t)(s->cfg->loglevel & 255) << 8);
        sess_tell(s, &(struct session_note){.ev = SEV_X11_AUTH,
                                            .code = (int)fl,
                                            .kind = s->cfg->forwardx11timeout,
                                            .text = s->cfg->xauthlocation});
        s->x11_state = X11_ASKED;
    }
    return 1;
}

static int hexval(char h)
{
    return h >= '0' && h <= '9'   ? h - '0'
           : h >= 'a' && h <= 'f' ? h - 'a' + 10
           : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                  : -1;
}

/* Where the display is, as ssh's x11_connect_display reads DISPLAY: the socket
 * /tmp/.X11-unix/XN for unix:N and :N, else HOST port 6000 + N; -1 when it cannot say. */
static int display_where(const char *d, struct x11auth *x)
{
    unsigned n;
    const char *colon = strrchr(d, ':');
    if (!strncmp(d, "unix:", 5) || d[0] == ':') {
        if (sscanf(colon + 1, "%u", &n) != 1)
            return -1;
        snprintf(x->where, sizeof x->where, "/tmp/.X11-unix/X%u", n);
        return 0;
    }
    colon = strchr(d, ':');
    if (!colon || (size_t)(colon - d) >= sizeof x->where || sscanf(colon + 1, "%u", &n) != 1 ||
        n > 65535 - 6000)
        return -1;
    snprintf(x->where, sizeof x->where, "%.*s", (int)(colon - d), d);
    x->port = 6000 + (int)n;
    return 0;
}

void x11fwd_reply(struct session *s, const struct proto_msg *m)
{
    if (s->x11_state != X11_ASKED)
        return;
    s->x11_state = X11_ANSWERED;
    if (s->conn)
        s->conn->dirty = 1;
    const struct pstr *hex = &m->s[1];
    if (!m->u[0] || hex->n < 2 || hex->n % 2 || hex->n / 2 > X11_COOKIE_MAX)
        return; /* no forwarding, as ssh when client_x11_get_proto fails */
    const char *d = display_of(s);
    struct x11auth *x = calloc(1, sizeof *x);
    if (!x || !d || proto_str_copy(&m->s[0], x->proto, sizeof x->proto) < 0 ||
        display_where(d, x) < 0) {
        free(x);
        blog("X11 forwarding for %s: out of memory, or a DISPLAY it cannot read", s->cfg->hostname);
        return;
    }
    x->len = hex->n / 2;
    for (size_t i = 0; i < x->len; i++) {
        int hi = hexval(hex->p[2 * i]), lo = hexval(hex->p[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            s->x11 = x;
            x11fwd_free(s);
            return;
        }
        x->real[i] = (unsigned char)(hi << 4 | lo);
    }
    if (getrandom(x->fake, x->len, 0) != (ssize_t)x->len) {
        s->x11 = x;
        x11fwd_free(s);
        return;
    }
    /* ssh: an untrusted cookie's refusal time, monotime() + 1 + ForwardX11Timeout */
    if (!s->cfg->forwardx11trusted && s->cfg->forwardx11timeout > 0)
        x->refuse_ms = clock_ms(CLOCK_MONOTONIC) + (s->cfg->forwardx11timeout + 1) * 1000LL;
    /* the screen number after the display's '.', as ssh sends it */
    const char *colon = strchr(d, ':'), *dot = colon ? strchr(colon, '.') : NULL;
    x->screen = dot ? atoi(dot + 1) : 0;
    if (x->screen < 0 || x->screen > 400)
        x->screen = 0;
    s->x11 = x;
}

int x11fwd_request(struct session *s)
{
    struct x11auth *x = s->x11;
    if (s->x11_state == X11_DONE && x && x->sent_on != s->ch)
        s->x11_state = X11_ANSWERED; /* moved to another connection before it started */
    if (s->x11_state != X11_ANSWERED || !x) {
        if (s->x11_state == X11_ANSWERED)
            s->x11_state = X11_DONE;
        return 1;
    }
    char hex[2 * X11_COOKIE_MAX + 1];
    for (size_t i = 0; i < x->len; i++)
        snprintf(hex + 2 * i, 3, "%02x", x->fake[i]);
    int rc = envreq_hold(s->conn, s->ch, s->blocked_op != OP_X11);
    if (rc == 0)
        rc = libssh2_channel_x11_req_ex(s->ch, 0, x->proto, hex, x->screen);
    envreq_release(s->conn);
    if (sess_again(s, rc, OP_X11))
        return 0;
    if (rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED || rc == LIBSSH2_ERROR_CHANNEL_FAILURE) {
        if (s->cfg->loglevel >= 2) /* ssh's error() from client_status_confirm */
            session_say(s, "X11 forwarding request failed on channel 0\r\n");
        x11fwd_free(s); /* no x11 channel can be ours */
    } else if (rc < 0 && !fatal_channel_only(rc)) {
        sess_fail(s, rc, "x11 request");
        return 1;
    }
    s->x11_state = X11_DONE;
    if (s->x11)
        s->x11->sent_on = s->ch;
    return 1;
}

/* Constant-time comparison of n bytes (ssh's timingsafe_bcmp): 0 when equal. */
static int differ(const unsigned char *a, const unsigned char *b, size_t n)
{
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= a[i] ^ b[i];
    return d != 0;
}

/* The one session on c whose X11 forwarding is on, or NULL when none or several. */
static struct session *only_x11(struct sshconn *c)
{
    struct session *one = NULL;
    for (struct session *s = c->sessions; s; s = s->next) {
        if (!s->x11 || s->x11_state != X11_DONE)
            continue;
        if (one)
            return NULL;
        one = s;
    }
    return one;
}

/* An X client refused for its first packet: ssh's logit() from channel_pre_x11_open, or
 * only its verbose() once ForwardX11Timeout expired (ssh then refuses the channel's open).
 * Told to the session whose X client it is when the connection has one X11 session; with
 * several nobody can say whose (the server's x11 channel does not tell), so the log has it. */
static int refused(struct sshconn *c)
{
    struct session *s = only_x11(c);
    if (!s)
        blog("X11 connection rejected because of wrong authentication on %s", c->cfg.hostname);
    else if (s->x11->refuse_ms && clock_ms(CLOCK_MONOTONIC) >= s->x11->refuse_ms) {
        if (s->cfg->loglevel >= 4)
            session_say(s, "Rejected X11 connection after ForwardX11Timeout expired\r\n");
    } else if (s->cfg->loglevel >= 3)
        session_say(s, "X11 connection rejected because of wrong authentication.\r\n");
    return -1;
}

int x11fwd_first(struct sshconn *c, struct buf *first, struct session **owner, char *where,
                 size_t wlen, int *port)
{
    size_t have = buf_used(first);
    unsigned char *p = first->p + first->off;
    if (have < 12)
        return 0;
    unsigned plen, dlen;
    if (p[0] == 0x42) { /* the X client's byte order: MSB first */
        plen = 256u * p[6] + p[7];
        dlen = 256u * p[8] + p[9];
    } else if (p[0] == 0x6c) {
        plen = p[6] + 256u * p[7];
        dlen = p[8] + 256u * p[9];
    } else {
        blog("x11 channel on %s: bad byte order byte 0x%x", c->cfg.hostname, p[0]);
        return refused(c);
    }
    if (have < 12 + ((plen + 3) & ~3u) + ((dlen + 3) & ~3u))
        return 0;
    unsigned char *data = p + 12 + ((plen + 3) & ~3u);
    for (struct session *s = c->sessions; s; s = s->next) {
        struct x11auth *x = s->x11;
        if (!x || s->x11_state != X11_DONE || plen != strlen(x->proto) ||
            memcmp(p + 12, x->proto, plen) || dlen != x->len || differ(data, x->fake, x->len))
            continue;
        if (x->refuse_ms && clock_ms(CLOCK_MONOTONIC) >= x->refuse_ms) {
            if (s->cfg->loglevel >= 4) /* ssh's verbose() */
                session_say(s, "Rejected X11 connection after ForwardX11Timeout expired\r\n");
            return -1;
        }
        memcpy(data, x->real, x->len);
        snprintf(where, wlen, "%s", x->where);
        *port = x->port;
        *owner = s;
        return 1;
    }
    return refused(c); /* this X client knows no session's cookie here */
}

void x11fwd_free(struct session *s)
{
    struct x11auth *x = s->x11;
    if (!x)
        return;
    explicit_bzero(x, sizeof *x);
    free(x);
    s->x11 = NULL;
}
