/* Slow or blocking work in worker threads, completed on the loop (jobs.h). */
#include "jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

enum question_state { Q_IDLE, Q_WAITING, Q_ANSWERED, Q_FAILED };

/* Written on the loop only. */
static int pipe_rd = -1, pipe_wr = -1; /* workers hand jobs back through it */
static int running;                    /* started, not yet finished */
static int stopped;                    /* jobs_stop: the loop has ended */

int jobs_init(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    pipe_rd = p[0];
    pipe_wr = p[1];
    return 0;
}

int jobs_fd(void)
{
    return pipe_rd;
}

int jobs_running(void)
{
    return running;
}

int jobs_stopped(void)
{
    return stopped;
}

/* Worker: wake the loop for j (finished, or with a question); returns 0 or -1. */
static int notify(struct job *j)
{
    /* A pointer is smaller than PIPE_BUF: the write is atomic. */
    ssize_t n;
    while ((n = write(pipe_wr, &j, sizeof j)) < 0 && errno == EINTR)
        ;
    return n == (ssize_t)sizeof j ? 0 : -1;
}

static void *worker(void *arg)
{
    struct job *j = arg;
    j->ops->run(j);
    /* The pipe blocks while it is full, so this fails only when the loop's end is closed
     * (the broker is stopping): nobody is left to finish the job. */
    if (notify(j) < 0)
        blog("worker: cannot hand a finished job to the loop: %s", strerror(errno));
    return NULL;
}

/* The question's mutex and condition go, and whatever answer it had. */
static void question_destroy(struct job *j)
{
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    explicit_bzero(j->answer, sizeof j->answer);
}

int jobs_start(struct job *j, const struct job_ops *ops)
{
    if (stopped)
        return -1;
    pthread_attr_t at;
    pthread_t t;
    sigset_t all, old;
    j->ops = ops;
    j->state = Q_IDLE;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 512 * 1024);
    /* Workers take no signals: the loop handles them. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&t, &at, worker, j);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&at);
    if (rc != 0) {
        blog("cannot start a worker thread: %s", strerror(rc));
        question_destroy(j);
        return -1;
    }
    running++;
    return 0;
}

/* Take every job the pipe holds: a finished one gets its done (none once the loop is over)
 * then its free; a question goes to asked (none once the loop is over: its worker waits). */
static void take(void (*asked)(struct job *j))
{
    struct job *j;
    while (read(pipe_rd, &j, sizeof j) == (ssize_t)sizeof j) {
        if (jobs_question(j)) {
            if (asked)
                asked(j); /* a question, not the end: the worker waits for the answer */
            continue;
        }
        running--;
        if (j->ops->done && !stopped)
            j->ops->done(j);
        question_destroy(j);
        j->ops->free(j);
    }
}

void jobs_finish(void (*asked)(struct job *j))
{
    take(asked);
}

void jobs_stop(void)
{
    stopped = 1;
    /* The jobs that finished after the loop's last look would be lost in the pipe: freed. */
    if (pipe_rd >= 0)
        take(NULL);
}

/* Worker: hand the question to the loop (through the pipe) and wait for its end. */
static int handoff(struct job *j, const char *text, int echo, int say, char *answer,
                   size_t answerlen)
{
    pthread_mutex_lock(&j->mu);
    snprintf(j->q.text, sizeof j->q.text, "%s", text);
    j->q.echo = echo;
    j->q.say = say;
    j->state = Q_WAITING;
    pthread_mutex_unlock(&j->mu);
    if (notify(j) < 0) {
        pthread_mutex_lock(&j->mu);
        j->state = Q_IDLE;
        pthread_mutex_unlock(&j->mu);
        return -1;
    }
    pthread_mutex_lock(&j->mu);
    while (j->state == Q_WAITING)
        pthread_cond_wait(&j->cv, &j->mu);
    int rc = j->state == Q_ANSWERED ? 0 : -1;
    if (rc == 0 && answer)
        snprintf(answer, answerlen, "%s", j->answer);
    explicit_bzero(j->answer, sizeof j->answer);
    j->state = Q_IDLE;
    pthread_mutex_unlock(&j->mu);
    return rc;
}

int jobs_ask(void *job, const char *text, int echo, char *answer, size_t answerlen)
{
    return handoff(job, text, echo, 0, answer, answerlen);
}

int jobs_say(void *job, const char *text)
{
    return handoff(job, text, 0, 1, NULL, 0);
}

const struct job_question *jobs_question(struct job *j)
{
    pthread_mutex_lock(&j->mu);
    int w = j->state == Q_WAITING;
    pthread_mutex_unlock(&j->mu);
    return w ? &j->q : NULL;
}

void jobs_answer(struct job *j, const char *answer, size_t len)
{
    pthread_mutex_lock(&j->mu);
    enum question_state state = Q_FAILED;
    if (answer && len < sizeof j->answer) { /* longer than any answer ssh would read: none */
        memcpy(j->answer, answer, len);
        j->answer[len] = '\0';
        state = Q_ANSWERED;
    }
    j->state = state;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}
