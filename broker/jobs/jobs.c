/* Blocking or slow work (ssh -G, connection set-up, goodbyes, known_hosts appends, KEM
 * key pairs for the next rekey) in worker
 * threads, completed on the loop. */
#include "jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine.h"
#include "hostkey.h"
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
    /* Here, not on the loop: the files the sharing decision compares (accept.h). */
    if (j->rc == 0)
        j->known = accept_files_read(j->cfg);
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

static void learn(const char *file, const char *name, const unsigned char *key, size_t len,
                  int hashed)
{
    char err[512];
    if (hostkey_append(file, name, key, len, hashed, err, sizeof err) < 0)
        blog("%s", err);
}

static void *worker(void *arg)
{
    struct job *j = arg;
    if (j->kind == JOB_RESOLVE)
        run_resolve(j);
    else if (j->kind == JOB_CLOSE)
        conn_close(j->res.session, j->res.sock, j->err);
    else if (j->kind == JOB_LEARN)
        learn(j->learn_file, j->learn_name, j->learn_key, j->learn_len, j->learn_hashed);
    else if (j->kind == JOB_KEM)
        j->rc = engine_kem_pair_make(j->kem, j->kem_pair);
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
    if (j->kind != JOB_RESOLVE && j->kind != JOB_KEM)
        proxy_release(j->res.proxy); /* not taken by a connection: the command ends */
    jobs_client_free(j);
    hostcfg_free(j->cfg);
    accept_files_free(j->known);
    free(j->learn_file);
    free(j->learn_name);
    free(j->learn_key);
    if (j->kem_pair) /* a secret key */
        explicit_bzero(j->kem_pair, j->kem_len);
    free(j->kem_pair);
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

/* libssh2's own reading, for a session that no connection counts the bytes of any more. */
static ssize_t plain_recv(libssh2_socket_t fd, void *buf, size_t len, int flags, void **abstract)
{
    (void)abstract;
    ssize_t n = recv(fd, buf, len, flags);
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return n;
}

/* libssh2's own writing, likewise. */
static ssize_t plain_send(libssh2_socket_t fd, const void *buf, size_t len, int flags,
                          void **abstract)
{
    (void)abstract;
    ssize_t n = send(fd, buf, len, flags);
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return n;
}

void jobs_close(LIBSSH2_SESSION *ssh, int sock, struct proxy *px, const char *reason)
{
    struct job *j = B.quit ? NULL : calloc(1, sizeof *j);
    if (j) {
        /* The connection that the session's callbacks know is freed once we return. */
        engine_set_recv(ssh, plain_recv);
        engine_set_send(ssh, plain_send);
        *libssh2_session_abstract(ssh) = NULL;
        j->kind = JOB_CLOSE;
        j->errfd = -1;
        j->sock = -1;
        j->res.session = ssh;
        j->res.sock = sock;
        j->res.proxy = px;
        snprintf(j->err, sizeof j->err, "%s", reason);
        if (jobs_start(j) == 0)
            return;
        free(j);
    }
    /* The loop has ended (a goodbye may take its time now), or no worker: cut the link
     * unless the broker is stopping, so that nothing waits on the server. */
    conn_close(ssh, sock, B.quit ? reason : NULL);
    proxy_release(px);
}

void jobs_learn(const char *file, const char *name, const unsigned char *key, size_t len,
                int hashed)
{
    struct job *j = B.quit ? NULL : calloc(1, sizeof *j);
    if (j) {
        j->kind = JOB_LEARN;
        j->errfd = -1;
        j->sock = -1;
        j->learn_file = strdup(file);
        j->learn_name = strdup(name);
        j->learn_key = malloc(len ? len : 1);
        j->learn_len = len;
        j->learn_hashed = hashed;
        if (j->learn_file && j->learn_name && j->learn_key) {
            memcpy(j->learn_key, key, len);
            if (jobs_start(j) == 0)
                return;
        }
        free(j->learn_file);
        free(j->learn_name);
        free(j->learn_key);
        free(j);
    }
    learn(file, name, key, len, hashed);
}

struct job *jobs_take(void)
{
    struct job *j;
    for (;;) {
        ssize_t n = read(B.job_rd, &j, sizeof j);
        if (n != (ssize_t)sizeof j)
            return NULL;
        if (!prompt_pending(j))
            B.njobs--;
        if (j->kind != JOB_CLOSE && j->kind != JOB_LEARN)
            return j;
        jobs_free(j); /* a goodbye said, a key added: nobody waits for it */
    }
}
