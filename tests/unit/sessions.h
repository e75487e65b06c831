/* What the unit tests of broker/session and broker/pool share: an owner that records what
 * its sessions tell it (session.h's session_owner_ops), sessions made from real OPEN frames
 * and resolved by the real ssh -G in a worker, the loop's side of the jobs, the per host
 * counters. Static helpers, like check.h: include it once, after check.h. */
#ifndef MUXSHIM_TEST_SESSIONS_H
#define MUXSHIM_TEST_SESSIONS_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs.h"
#include "proto.h"
#include "session.h"
#include "stats.h"

#define SSH "/usr/bin/ssh"

/* An owner (a client) that records what its sessions tell it. */
struct note {
    enum session_event ev;
    int kind, code;
    char text[256];
};

struct client {
    struct note notes[16];
    int n;
    int askable; /* for session_asker */
};

static int owner_tell(void *owner, struct session *s, const struct session_note *n)
{
    struct client *cl = owner;
    (void)s;
    if (cl->n < 16) {
        struct note *o = &cl->notes[cl->n];
        o->ev = n->ev;
        o->kind = n->kind;
        o->code = n->code;
        snprintf(o->text, sizeof o->text, "%s", n->text ? n->text : "");
    }
    cl->n++;
    return n->ev == SEV_STARTED; /* STARTED has left at once; no reply is pending */
}

static const struct session_owner_ops owner_ops = {.tell = owner_tell};

/* The events cl was told, as letters: M message, L local command, S started, P pending,
 * R resolved, r route reply, E error, X exit, F release (let go). */
static const char *told(const struct client *cl)
{
    static char out[17];
    static const char letter[] = {
        [SEV_MESSAGE] = 'M', [SEV_LOCAL_COMMAND] = 'L', [SEV_STARTED] = 'S',
        [SEV_PENDING] = 'P', [SEV_RESOLVED] = 'R',      [SEV_ROUTE_REPLY] = 'r',
        [SEV_ERROR] = 'E',   [SEV_EXIT] = 'X',          [SEV_RELEASE] = 'F'};
    int i = 0;
    for (; i < cl->n && i < 16; i++)
        out[i] = letter[cl->notes[i].ev];
    out[i] = '\0';
    return out;
}

/* Encode a frame of type with its fields (fmt: u, s, l in order) and decode it into *m;
 * the frame's bytes are kept in *b (free with proto_buf_free). */
static int frame(struct proto_buf *b, struct proto_msg *m, uint8_t type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    proto_begin(b, type);
    for (const char *f = fmt; *f; f++) {
        if (*f == 'u')
            proto_put_u32(b, va_arg(ap, uint32_t));
        else if (*f == 's')
            proto_put_str(b, va_arg(ap, const char *), (size_t)-1);
        else
            proto_put_strlist(b, va_arg(ap, char *const *), -1);
    }
    va_end(ap);
    char err[128];
    if (proto_end(b) < 0 ||
        proto_decode(b->data + PROTO_HDR, b->len - PROTO_HDR, m, err, sizeof err) < 0) {
        printf("frame: %s\n", err);
        return -1;
    }
    return 0;
}

static char *env_plain[] = {"HOME=/root", "LANG=C.UTF-8", "USER=root", NULL};

/* Three fds for a session's stdin, stdout and stderr (/dev/null). */
static void three_fds(int fds[3])
{
    for (int i = 0; i < 3; i++)
        fds[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
}

/* OPEN of dest with opts and command, for pool, owned by cl; NULL with err. */
static struct session *open_for(const struct session_pool_ops *pool, struct client *cl, char **opts,
                                const char *dest, const char *command, uint32_t flags, char *err,
                                size_t errlen)
{
    struct proto_buf b = {0};
    struct proto_msg m;
    int fds[3];
    three_fds(fds);
    struct session *s = NULL;
    if (frame(&b, &m, MSG_OPEN, "sslsslu", SSH, "/", opts, dest, command, env_plain, flags) == 0)
        s = session_new(&m, fds, 0, pool, err, errlen);
    proto_buf_free(&b);
    if (s && cl)
        session_set_owner(s, &owner_ops, cl);
    return s;
}

/* A question from a job: none of the session's jobs asks one. */
static void no_answer(struct job *j)
{
    jobs_answer(j, NULL, 0);
}

/* The loop's side: finish jobs until none runs (the session's ssh -G). */
static void finish_jobs(void)
{
    while (jobs_running() > 0) {
        struct pollfd p = {.fd = jobs_fd(), .events = POLLIN};
        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            break;
        jobs_finish(no_answer);
    }
}

/* The per host line of the counters for host:port (NULL if none). */
static const char *stats_line(const char *hostport, char *line, size_t len)
{
    static char all[8192];
    stats_format(all, sizeof all);
    for (char *p = all, *nl; *p; p = nl + 1) {
        nl = strchr(p, '\n');
        if (!nl)
            break;
        if (!strncmp(p, hostport, strlen(hostport)) && p[strlen(hostport)] == ' ') {
            snprintf(line, len, "%.*s", (int)(nl - p), p);
            return line;
        }
    }
    return NULL;
}

#endif
