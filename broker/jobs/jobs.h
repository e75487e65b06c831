/* Blocking or slow work (ssh -G, connection set-up, goodbyes, known_hosts appends, KEM
 * key pairs for the next rekey) in worker
 * threads, completed on the loop. */
#ifndef MUXSHIM_JOBS_H
#define MUXSHIM_JOBS_H

#include "accept.h"
#include "objects.h"
#include "conn.h"
#include "prompt.h"

enum job_kind { JOB_RESOLVE, JOB_CONNECT, JOB_CLOSE, JOB_LEARN, JOB_KEM };

struct job {
    enum job_kind kind;
    struct session *sess;    /* JOB_RESOLVE: inputs read from it, untouched by the loop meanwhile */
    struct sshconn *conn;    /* JOB_CONNECT, JOB_KEM (NULL once that connection went) */
    int sock;                /* JOB_CONNECT: a connected stream to use (a tunnel), or -1 */
    char krb5cc[HC_STR];     /* JOB_CONNECT: the client's KRB5CCNAME ... */
    int has_krb5cc;          /* ... when it has one */
    int errfd;               /* JOB_CONNECT: a dup of the client's stderr (> 2), else none */
    char **env;              /* JOB_CONNECT: the client's environment and ... */
    char *cwd;               /* ... directory, for a ProxyCommand or KnownHostsCommand */
    int rc;                  /* JOB_RESOLVE: 0 or -1 */
    struct hostcfg *cfg;     /* JOB_RESOLVE result, JOB_CONNECT input (heap, freed with j) */
    struct accept_files *known; /* JOB_RESOLVE result: read for conn_accepts (accept.h) */
    enum conn_status status; /* JOB_CONNECT result */
    struct conn_result res;  /* JOB_CLOSE: the session, socket and proxy to let go */
    char *learn_file;        /* JOB_LEARN: the known_hosts file, the host's name in it ... */
    char *learn_name;
    unsigned char *learn_key; /* ... and its key blob (all heap, freed with j) */
    size_t learn_len;
    int learn_hashed;        /* JOB_LEARN: HashKnownHosts */
    char kem[64];            /* JOB_KEM: the hybrid key exchange a key pair is made for ... */
    unsigned char *kem_pair; /* ... into this (heap, wiped and freed with j) ... */
    size_t kem_len;          /* ... of this many bytes; rc 0 when made */
    char err[512];
    struct prompt prompt;          /* JOB_CONNECT: the question being asked, if any */
    struct conn_prompter prompter; /* JOB_CONNECT: asks through prompt */
};

/* Create the completion pipe (B.job_rd/B.job_wr). Returns 0 or -1. */
int jobs_init(void);
/* Run j in a new detached thread; returns 0 or -1 (then j is untouched). */
int jobs_start(struct job *j);
/* Worker: wake the loop for j (finished, or with a question); returns 0 or -1. */
int jobs_notify(struct job *j);
/* Let go of a connect job's client context (errfd, env, cwd). */
void jobs_client_free(struct job *j);
/* Free a job the loop took back for good. */
void jobs_free(struct job *j);
/* Say goodbye to a server and free its session in a worker, so the loop never waits on
 * it (conn_close's 1 s); the proxy command, if any, is released on the loop afterwards.
 * Inline when the broker is stopping or no worker starts. */
void jobs_close(LIBSSH2_SESSION *ssh, int sock, struct proxy *px, const char *reason);
/* Add a host key to a known_hosts file in a worker (the file is locked and read first,
 * which may wait); inline when the broker is stopping or no worker starts. */
void jobs_learn(const char *file, const char *name, const unsigned char *key, size_t len,
                int hashed);
/* Take one finished job from the pipe, or NULL if none is ready. */
struct job *jobs_take(void);

#endif
