/* The pool's jobs (jobs.h), each with its one destructor: making a connection (connect),
 * saying goodbye to a server (close), adding a host key to known_hosts (learn). */
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine.h"
#include "hostkey.h"
#include "log.h"
#include "pool_int.h"
#include "proto.h"
#include "proxy.h"
#include "words.h"

/* Let go of a connect job's client context (errfd, env, cwd). */
static void client_free(struct connect_job *j)
{
    if (j->errfd > 2)
        close(j->errfd);
    j->errfd = -1;
    proto_strv_free(j->env);
    j->env = NULL;
    free(j->cwd);
    j->cwd = NULL;
}

/* Worker: make the connection, asking the user through the loop when ssh would ask. */
static void connect_run(struct job *job)
{
    struct connect_job *j = JOB_OF(job, struct connect_job);
    struct sshconn *c = j->conn;
    j->prompter.ask = jobs_ask;
    j->prompter.say = jobs_say;
    j->prompter.ctx = job;
    j->prompter.errfd = j->errfd;
    j->prompter.env = j->env;
    j->prompter.cwd = j->cwd;
    j->status = conn_establish(j->cfg, j->sock, c->agent_sock[0] ? c->agent_sock : NULL,
                               j->has_krb5cc ? j->krb5cc : NULL, &j->prompter, &j->res);
    j->sock = -1;   /* conn_establish's from there on */
    client_free(j); /* the client's stderr must not stay open in the broker */
}

static void connect_done(struct job *job)
{
    pool_connected(JOB_OF(job, struct connect_job));
}

void pool_connect_job_free(struct connect_job *j)
{
    if (j->sock >= 0)
        close(j->sock);
    proxy_release(j->res.proxy); /* not taken by a connection: the command ends */
    client_free(j);
    hostcfg_free(j->cfg);
    explicit_bzero(j, sizeof *j);
    free(j);
}

static void connect_free(struct job *job)
{
    pool_connect_job_free(JOB_OF(job, struct connect_job));
}

static const struct job_ops connect_ops = {
    .run = connect_run, .done = connect_done, .free = connect_free};

/* What the commands ssh would run need of the client: its stderr, environment, cwd. */
static int client_context(struct connect_job *j, const struct session *s)
{
    int n = 0;
    while (s->env && s->env[n])
        n++;
    j->env = calloc((size_t)n + 1, sizeof *j->env);
    j->cwd = strdup(s->cwd ? s->cwd : "/");
    if (!j->env || !j->cwd)
        return -1;
    for (int i = 0; i < n; i++)
        if (!(j->env[i] = strdup(s->env[i])))
            return -1;
    j->errfd = s->err.fd >= 0 ? fcntl(s->err.fd, F_DUPFD_CLOEXEC, 3) : -1;
    return 0;
}

struct connect_job *pool_connect_job_new(struct sshconn *c, const struct session *s)
{
    struct connect_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->conn = c;
    j->sock = -1;
    j->errfd = -1;
    j->cfg = calloc(1, sizeof *j->cfg);
    if (!j->cfg || hostcfg_copy(j->cfg, s->cfg) < 0 ||
        ((s->cfg->proxycommand[0] || s->cfg->knownhostscommand[0]) && client_context(j, s) < 0)) {
        pool_connect_job_free(j);
        return NULL;
    }
    const char *krb5 = words_env(s->env, "KRB5CCNAME");
    j->has_krb5cc = krb5 != NULL;
    snprintf(j->krb5cc, sizeof j->krb5cc, "%s", krb5 ? krb5 : "");
    return j;
}

int pool_connect_job_start(struct connect_job *j)
{
    return jobs_start(&j->job, &connect_ops);
}

struct sshconn *pool_job_conn(const struct job *j)
{
    return j->ops == &connect_ops ? JOB_OF(j, struct connect_job)->conn : NULL;
}

/* A goodbye said in a worker. */
struct close_job {
    struct job job;
    LIBSSH2_SESSION *ssh;
    int sock;
    struct proxy *proxy; /* released on the loop once the goodbye is said */
    char reason[512];
};

static void close_run(struct job *job)
{
    struct close_job *j = JOB_OF(job, struct close_job);
    conn_close(j->ssh, j->sock, j->reason);
}

static void close_free(struct job *job)
{
    struct close_job *j = JOB_OF(job, struct close_job);
    proxy_release(j->proxy); /* SIGHUP, as ssh ends its proxy command */
    free(j);
}

static const struct job_ops close_ops = {.run = close_run, .free = close_free};

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

void pool_close_ssh(LIBSSH2_SESSION *ssh, int sock, struct proxy *px, const char *reason)
{
    struct close_job *j = jobs_stopped() ? NULL : calloc(1, sizeof *j);
    if (j) {
        /* The connection that the session's callbacks know is freed once we return. */
        engine_set_recv(ssh, plain_recv);
        engine_set_send(ssh, plain_send);
        *libssh2_session_abstract(ssh) = NULL;
        j->ssh = ssh;
        j->sock = sock;
        j->proxy = px;
        snprintf(j->reason, sizeof j->reason, "%s", reason);
        if (jobs_start(&j->job, &close_ops) == 0)
            return;
        free(j); /* nothing of its own yet: ssh, sock and px are still ours */
    }
    /* The loop has ended (a goodbye may take its time now), or no worker: cut the link
     * unless the broker is stopping, so that nothing waits on the server. */
    conn_close(ssh, sock, jobs_stopped() ? reason : NULL);
    proxy_release(px);
}

/* A host key added to a known_hosts file in a worker. */
struct learn_job {
    struct job job;
    char *file, *name;  /* the known_hosts file and the host's name in it ... */
    unsigned char *key; /* ... and its key blob */
    size_t len;
    int hashed; /* HashKnownHosts */
};

static void learn(const char *file, const char *name, const unsigned char *key, size_t len,
                  int hashed)
{
    char err[512];
    if (hostkey_append(file, name, key, len, hashed, err, sizeof err) < 0)
        blog("%s", err);
}

static void learn_run(struct job *job)
{
    struct learn_job *j = JOB_OF(job, struct learn_job);
    learn(j->file, j->name, j->key, j->len, j->hashed);
}

static void learn_free(struct job *job)
{
    struct learn_job *j = JOB_OF(job, struct learn_job);
    free(j->file);
    free(j->name);
    free(j->key);
    free(j);
}

static const struct job_ops learn_ops = {.run = learn_run, .free = learn_free};

void pool_learn(const char *file, const char *name, const unsigned char *key, size_t len,
                int hashed)
{
    struct learn_job *j = jobs_stopped() ? NULL : calloc(1, sizeof *j);
    if (j) {
        j->file = strdup(file);
        j->name = strdup(name);
        j->key = malloc(len ? len : 1);
        j->len = len;
        j->hashed = hashed;
        if (j->file && j->name && j->key) {
            memcpy(j->key, key, len);
            if (jobs_start(&j->job, &learn_ops) == 0)
                return;
        }
        learn_free(&j->job);
    }
    learn(file, name, key, len, hashed);
}
