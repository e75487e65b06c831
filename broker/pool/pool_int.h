/* What broker/pool's files share with each other and no other module (pool.h is the
 * interface). */
#ifndef MUXSHIM_POOL_INT_H
#define MUXSHIM_POOL_INT_H

#include "jobs.h"
#include "objects.h"

/* connjobs.c */
/* A connection being made in a worker (conn_establish) for pool.c. */
struct connect_job {
    struct job job;
    struct sshconn *conn;
    int sock;                      /* a connected stream to use (a tunnel), or -1 */
    char krb5cc[HC_STR];           /* the client's KRB5CCNAME ... */
    int has_krb5cc;                /* ... when it has one */
    int errfd;                     /* a dup of the client's stderr (> 2), else none */
    char **env;                    /* the client's environment and ... */
    char *cwd;                     /* ... directory, for a ProxyCommand or KnownHostsCommand */
    struct hostcfg *cfg;           /* the host's settings, the job's own copy */
    enum conn_status status;       /* the result ... */
    struct conn_result res;        /* ... and what was made (taken by pool_connected) */
    struct conn_prompter prompter; /* asks the user through the loop (jobs_ask) */
};
/* A connect job for c with s's settings and what its client's commands need (s's stderr,
 * environment, directory); NULL when memory is short. */
struct connect_job *pool_connect_job_new(struct sshconn *c, const struct session *s);
/* Start j in a worker (pool_connected once it is done); 0, or -1 and j is still ours. */
int pool_connect_job_start(struct connect_job *j);
/* The connect job's destructor (after pool_connected, or for one that never started). */
void pool_connect_job_free(struct connect_job *j);
/* Say goodbye to a server and free its session in a worker, so the loop never waits on
 * it (conn_close's 1 s); the proxy command, if any, is released on the loop afterwards.
 * Inline when the broker is stopping or no worker starts. */
void pool_close_ssh(LIBSSH2_SESSION *ssh, int sock, struct proxy *px, const char *reason);
/* Add a host key to a known_hosts file in a worker (the file is locked and read first,
 * which may wait); inline when the broker is stopping or no worker starts. */
void pool_learn(const char *file, const char *name, const unsigned char *key, size_t len,
                int hashed);

/* kex.c */
/* c goes: the KEM job making a pair for it, if any, finishes for nobody. */
void pool_kem_drop(struct sshconn *c);

/* pool.c */
/* Put the new connection c in the pool's list (conn_new; unit tests that build one). */
void pool_link(struct sshconn *c);
/* The connect job j finished: start c's waiting sessions, or fail them. */
void pool_connected(struct connect_job *j);
/* Take s off c's session list (the connection notes when it became idle). */
void pool_unlink_session(struct sshconn *c, struct session *s);
/* Sessions waiting on c that c cannot serve go elsewhere: another connection when c is full
 * or suspect, the real ssh when the server takes no session channel at all. */
void pool_move_waiting(struct sshconn *c);

/* sweep.c */
/* End c's finished sessions and start or give spares to its waiting ones. */
void pool_sweep(struct sshconn *c);

/* sticky.c */
/* Remember for STICKY_SECONDS that the authority token goes to the real ssh, because why. */
void pool_remember_fallback(const char *token, const char *why, int gssapi);

#endif
