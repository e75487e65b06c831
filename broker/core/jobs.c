/* Blocking work (ssh -G, connection set-up) in worker threads, completed on the loop. */
#include "jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "proxy.h"
#include "state.h"

int jobs_init(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    B.job_rd = p[0];
    B.job_wr = p[1];
    return 0;
}

static void run_resolve(struct job *j)
{
    struct session *s = j->sess;
    j->cfg = calloc(1, sizeof *j->cfg);
    if (!j->cfg) {
        j->rc = -1;
        strcpy(j->err, "out of memory");
        return;
    }
    j->rc = sshconfig_resolve(s->real_ssh, s->cwd, s->opts, s->dest, s->command, s->env, j->cfg,
                              j->err, sizeof j->err);
}

static void run_connect(struct job *j)
{
    struct sshconn *c = j->conn;
    j->prompter.ask = prompt_ask;
    j->prompter.say = prompt_say;
    j->prompter.ctx = j;
    j->prompter.errfd = j->errfd;
    j->prompter.env = j->env;
    j->prompter.cwd = j->cwd;
    j->status = conn_establish(j->cfg, j->sock, c->agent_sock[0] ? c->agent_sock : NULL,
                               j->has_krb5cc ? j->krb5cc : NULL, &j->prompter, &j->res);
    jobs_client_free(j); /* the client's stderr must not stay open in the broker */
}

static void *worker(void *arg)
{
    struct job *j = arg;
    if (j->kind == JOB_RESOLVE)
        run_resolve(j);
    else
        run_connect(j);
    /* The pipe blocks while it is full, so this fails only when the loop's end is closed
     * (the broker is stopping): nobody is left to finish the job. */
    if (jobs_notify(j) < 0)
        blog("worker: cannot hand a finished job to the loop: %s", strerror(errno));
    return NULL;
}

void jobs_client_free(struct job *j)
{
    if (j->errfd > 2)
        close(j->errfd);
    j->errfd = -1;
    proto_strv_free(j->env);
    j->env = NULL;
    free(j->cwd);
    j->cwd = NULL;
}

int jobs_notify(struct job *j)
{
    /* A pointer is smaller than PIPE_BUF: the write is atomic. */
    ssize_t n;
    while ((n = write(B.job_wr, &j, sizeof j)) < 0 && errno == EINTR)
        ;
    return n == (ssize_t)sizeof j ? 0 : -1;
}

void jobs_free(struct job *j)
{
    prompt_destroy(&j->prompt);
    if (j->kind == JOB_CONNECT)
        proxy_release(j->res.proxy); /* not taken by a connection: the command ends */
    jobs_client_free(j);
    free(j->cfg);
    explicit_bzero(j, sizeof *j);
    free(j);
}

int jobs_start(struct job *j)
{
    pthread_attr_t at;
    pthread_t t;
    sigset_t all, old;
    prompt_init(&j->prompt);
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
        prompt_destroy(&j->prompt);
        return -1;
    }
    B.njobs++;
    return 0;
}

struct job *jobs_take(void)
{
    struct job *j;
    ssize_t n = read(B.job_rd, &j, sizeof j);
    if (n != (ssize_t)sizeof j)
        return NULL;
    if (!prompt_pending(j))
        B.njobs--;
    return j;
}
