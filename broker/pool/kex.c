/* The key exchange of the pool's connections: what a session is told about its
 * connection's (ssh -v's kex lines, OpenSSH 10.1's post-quantum warning), and KEM key pairs
 * made ahead, in a worker, for each connection's next key exchange. A rekey
 * the server starts runs inside libssh2 on the loop, and making an sntrup761 key pair takes
 * about 24 ms (ML-KEM-768 0.2 ms): our libssh2 patch takes a pair given ahead instead
 * (engine.h), and a rekey that comes before its pair is ready waits for it (the server
 * waits for our reply meanwhile), so the loop never makes one. The first exchange runs in the
 * connect job's worker and makes its own; after it, and after each rekey, the next pair is made
 * here. */
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "jobs.h"
#include "log.h"
#include "pool_int.h"
#include "session.h"

void pool_say_kex(const struct sshconn *c, struct session *s)
{
    char text[1024];
    if (session_client(s) && s->cfg && c->facts.kex[0] &&
        engine_kex_words(c->facts.kex, c->facts.hostkey_alg, s->cfg->loglevel,
                         s->cfg->warnweakcrypto, text, sizeof text))
        session_say(s, text);
}

/* A KEM key pair made in a worker for a connection's next key exchange. */
struct kem_job {
    struct job job;
    struct sshconn *conn; /* NULL once that connection went (pool_kem_drop) */
    char kem[64];         /* the hybrid key exchange the pair is made for ... */
    unsigned char *pair;  /* ... into this (heap, wiped and freed with the job) ... */
    size_t len;           /* ... of this many bytes */
    int rc;               /* 0 when made */
};

static void kem_run(struct job *job)
{
    struct kem_job *j = JOB_OF(job, struct kem_job);
    j->rc = engine_kem_pair_make(j->kem, j->pair);
}

/* The KEM job finished: give its key pair to its connection, if that is still there. */
static void kem_done(struct job *job)
{
    struct kem_job *j = JOB_OF(job, struct kem_job);
    struct sshconn *c = j->conn;
    if (!c)
        return; /* the connection went meanwhile */
    c->kem_job = NULL;
    if (c->state != C_READY || !c->ssh)
        return;
    if (j->rc != 0 || engine_kem_give(c->ssh, j->kem, j->pair) != 0) {
        c->kem_failed = 1; /* not again: libssh2 makes its own then */
        engine_kem_wait(c->ssh, 0);
        c->dirty = 1;
        blog("the %s key pair made ahead for %s was not taken", j->kem, c->cfg.hostname);
        return;
    }
    c->kem_given++;
    c->dirty = 1;      /* a rekey may be waiting for it */
    pool_kem_ahead(c); /* a rekey by another method since the job started */
}

static void kem_free(struct job *job)
{
    struct kem_job *j = JOB_OF(job, struct kem_job);
    if (j->pair) /* a secret key */
        explicit_bzero(j->pair, j->len);
    free(j->pair);
    free(j);
}

static const struct job_ops kem_ops = {.run = kem_run, .done = kem_done, .free = kem_free};

void pool_kem_drop(struct sshconn *c)
{
    if (c->kem_job)
        c->kem_job->conn = NULL; /* it finishes on its own (kem_done) */
}

void pool_kem_ahead(struct sshconn *c)
{
    if (c->kem_job || c->kem_failed || c->state != C_READY || !c->ssh || jobs_stopped())
        return;
    const char *kex = engine_kem_wanted(c->ssh);
    if (!kex)
        return;
    size_t len = engine_kem_pair_len(kex);
    struct kem_job *j = len ? calloc(1, sizeof *j) : NULL;
    if (j)
        j->pair = malloc(len);
    if (j && j->pair) {
        j->conn = c;
        j->rc = -1;
        j->len = len;
        snprintf(j->kem, sizeof j->kem, "%s", kex);
        if (jobs_start(&j->job, &kem_ops) == 0) {
            c->kem_job = j;
            return;
        }
    }
    if (j)
        kem_free(&j->job);
    c->kem_failed = 1;
    engine_kem_wait(c->ssh, 0); /* libssh2 makes its own, on the loop */
    c->dirty = 1;
    blog("no %s key pair made ahead for %s: its next rekey makes one on the loop", kex,
         c->cfg.hostname);
}
