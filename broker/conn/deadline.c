/* The deadline of one connection's key exchange and login: a watchdog thread per
 * connection being made, which cuts its socket once the time is up. */
#include "deadline.h"
#include "clock.h"
#include "fatal.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct deadline {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC */
    pthread_t thread;
    int fd;
    long long end;       /* ms, CLOCK_MONOTONIC */
    long long paused_at; /* ms, while paused; else 0 */
    int fired, stop;
    const struct conn_prompter *pr; /* deadline_prompter's: the one it wraps ... */
    struct conn_prompter wrap;      /* ... and the wrapper */
};

long deadline_window_ms(const struct hostcfg *cfg)
{
    /* ssh_packet_set_timeout: no timeout unless both are positive. */
    if (cfg->serveraliveinterval > 0 && cfg->serveralivecountmax > 0)
        return (long)cfg->serveraliveinterval * cfg->serveralivecountmax * 1000L;
    return DEADLINE_DEFAULT_MS;
}

int deadline_wait_banner(int fd, long ms)
{
    long long end = clock_ms(CLOCK_MONOTONIC) + (ms > 0 ? ms : 0);
    for (;;) {
        long left = (long)(end - clock_ms(CLOCK_MONOTONIC));
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int rc = poll(&p, 1, left > 0 ? (int)left : 0);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return rc < 0; /* timed out: 0 */
        /* Lines before the identification line are allowed: wait for one that is whole
         * (libssh2 reads it), or a full buffer, or the end. */
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
        if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR)))
            return 1;
        if (n == (ssize_t)sizeof buf)
            return 1;
        for (ssize_t i = 0; i + 4 <= n; i++)
            if ((i == 0 || buf[i - 1] == '\n') && !memcmp(buf + i, "SSH-", 4) &&
                memchr(buf + i, '\n', (size_t)(n - i)))
                return 1;
        if (left <= 0)
            return 0;
        usleep(10000); /* a part of the line: it is readable until all of it is read */
    }
}

void deadline_words(int fd, int banner, int loglevel, char *err, size_t errlen)
{
    /* ssh_remote_ipaddr and ssh_remote_port: a proxied peer has no address. */
    char id[NI_MAXHOST + 32];
    fatal_remote_id(fd, id, sizeof id);
    /* kex_exchange_identification's error(), then sshpkt_fatal's logdie() at INFO. */
    snprintf(err, errlen, "%s%s%s%s%s",
             !banner && loglevel >= 2 ? "Connection timed out during banner exchange" : "",
             !banner && loglevel >= 3 ? "\r\n" : "", loglevel >= 3 ? "Connection to " : "",
             loglevel >= 3 ? id : "", loglevel >= 3 ? " timed out" : "");
}

static int paused_ask(void *ctx, const char *prompt, int echo, char *answer, size_t answerlen)
{
    struct deadline *d = ctx;
    deadline_pause(d, 1);
    int rc = d->pr->ask(d->pr->ctx, prompt, echo, answer, answerlen);
    deadline_pause(d, 0);
    return rc;
}

static int paused_say(void *ctx, const char *text)
{
    struct deadline *d = ctx;
    deadline_pause(d, 1); /* the client's stderr may be a stopped terminal */
    int rc = d->pr->say(d->pr->ctx, text);
    deadline_pause(d, 0);
    return rc;
}

const struct conn_prompter *deadline_prompter(struct deadline *d, const struct conn_prompter *pr)
{
    if (!d || !pr)
        return pr;
    d->pr = pr;
    d->wrap = *pr;
    d->wrap.ctx = d;
    d->wrap.ask = pr->ask ? paused_ask : NULL;
    d->wrap.say = pr->say ? paused_say : NULL;
    return &d->wrap;
}

static void *watch(void *arg)
{
    struct deadline *d = arg;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        if (d->fired || d->paused_at) {
            pthread_cond_wait(&d->cv, &d->mu);
            continue;
        }
        long long left = d->end - clock_ms(CLOCK_MONOTONIC);
        if (left <= 0) {
            /* The worker holds fd open until deadline_stop has joined us: never another's. */
            shutdown(d->fd, SHUT_RDWR);
            d->fired = 1;
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += left / 1000;
        ts.tv_nsec += (left % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&d->cv, &d->mu, &ts);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

struct deadline *deadline_start(int fd, long window_ms)
{
    struct deadline *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&d->mu, NULL);
    d->fd = fd;
    d->end = clock_ms(CLOCK_MONOTONIC) + window_ms;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 64 * 1024);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&d->thread, &at, watch, d);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&at);
    if (rc != 0) {
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->mu);
        free(d);
        return NULL;
    }
    return d;
}

void deadline_pause(struct deadline *d, int pause)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    long long now = clock_ms(CLOCK_MONOTONIC);
    if (pause && !d->paused_at) {
        d->paused_at = now ? now : 1;
    } else if (!pause && d->paused_at) {
        d->end += now - d->paused_at; /* the user's time is not the server's */
        d->paused_at = 0;
    }
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

int deadline_fired(struct deadline *d)
{
    if (!d)
        return 0;
    pthread_mutex_lock(&d->mu);
    int f = d->fired;
    pthread_mutex_unlock(&d->mu);
    return f;
}

int deadline_stop(struct deadline *d)
{
    if (!d)
        return 0;
    pthread_mutex_lock(&d->mu);
    d->stop = 1;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    int f = d->fired;
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
    return f;
}
