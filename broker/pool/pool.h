/* The pool: shared connections by authority and their life cycle (pool.c), pumping their
 * sessions (sweep.c), remembered hand-overs (sticky.c), KEM key pairs made ahead (kex.c). */
#ifndef MUXSHIM_POOL_H
#define MUXSHIM_POOL_H

#include "objects.h"
#include "conn.h"

struct job;

struct session_pool_ops;

/* What the pool does for the sessions it holds (session.h): given to each session it is
 * to hold (session_new, session_new_route). */
extern const struct session_pool_ops pool_session_ops;
/* Give a resolved session a connection of its authority: a ready one with room that it
 * accepts (accept.h), one being made, or a new one. */
void pool_attach(struct session *s);
/* The connection a job is making (a connect job asking the user a question), else NULL. */
struct sshconn *pool_job_conn(const struct job *j);
/* The tunnel for c (through a jump host) is open (CONN_OK: start the connect job) or
 * failed (c fails with st and err). */
void pool_tunnel_done(struct sshconn *c, enum conn_status st, const char *err);
/* Advance every session on the connection until nothing moves (respects libssh2's
 * one-pending-send rule), or until CLOCK_MONOTONIC passes deadline_us (clock.h), the end of
 * this loop turn's budget: then c stays dirty and the next turn goes on where this stopped. */
void pool_pump(struct sshconn *c, long long deadline_us);
/* Once a second: dead connections released, a spare channel again (spare.c), keepalives
 * (alive.c), idle ones closed (ControlPersist, draining, suspect). The broker's own exit
 * once nothing is left is the loop's (loop.c), not this. */
void pool_tick(time_t now);
/* Channels in use on c: sessions holding or about to hold one (the spare not counted). */
int pool_channels(const struct sshconn *c);
/* c has just freed a session channel: the server may count it a moment longer (spare.c). */
void pool_channel_freed(struct sshconn *c);
/* End a connection: sessions that have not started are re-attached (once each), the others
 * get msg. */
void pool_kill(struct sshconn *c, const char *msg);
/* End a connection the way a lost one ends in ssh ("Connection to HOST closed by remote
 * host."). */
void pool_lost(struct sshconn *c);
/* The same for a libssh2 call that failed with rc on c: a session that ends for it gets
 * ssh's words for rc when rc is a corrupted stream (fatal.h). */
void pool_broken(struct sshconn *c, int rc);
/* Detach a session from its connection (the connection notes when it became idle). */
void pool_detach(struct session *s);
/* The first connection of the pool (then c->next), or NULL when it holds none. */
struct sshconn *pool_first(void);
/* Poll found c's socket, or an fd of its sessions or agent channels, ready: pump c. */
void pool_wake(struct sshconn *c);
/* -O stop: c takes no new sessions, and closes once it has none. */
void pool_drain(struct sshconn *c);
/* Count of ready connections of an authority (a token); fills up to max of them into out. */
int pool_find(const char *token, struct sshconn **out, int max);
/* The hand-over remembered for s's authority (an RSA key this libssh2 cannot use, GSSAPI
 * with credentials), or NULL. */
const char *pool_remembered(const struct session *s);
/* Tell s (riding or having made c) what ssh would print of c's key exchange: under -v its
 * "kex: algorithm:" lines, and OpenSSH 10.1's warning when it is not post-quantum. */
void pool_say_kex(const struct sshconn *c, struct session *s);
/* If c's next key exchange would make a KEM key pair (a post-quantum hybrid), have a worker
 * make one ahead (kex.c), so that a rekey on the loop makes none. */
void pool_kem_ahead(struct sshconn *c);
/* End every connection (broker shutdown): their sessions finish, and the connections and
 * what they held are released, to be freed by the caller's reap (loop_reap). */
void pool_shutdown(void);

#endif
