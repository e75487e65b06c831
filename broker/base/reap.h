/* Deferred free: the broker's clients, sessions and connections are released in the middle
 * of a call chain (a send fails deep in a session's call, a connection dies under its
 * sessions) and freed at one point only, the end of the loop turn (loop_reap), when no call
 * holds them. Each object embeds a node; releasing marks it and lists it. */
#ifndef MUXSHIM_REAP_H
#define MUXSHIM_REAP_H

#include <stddef.h>

struct reap_node;

/* Frees the object that embeds n (REAP_OBJ finds it); may release others. */
typedef void reap_free_fn(struct reap_node *n);

/* Embedded in each object; all zero (calloc) is "not released". */
struct reap_node {
    int released;
    reap_free_fn *free; /* set by reap_release */
    struct reap_node *next;
};

/* The object of type that embeds node n as member. */
#define REAP_OBJ(n, type, member) ((type *)((char *)(n)-offsetof(type, member)))

/* Mark n's object released and list it, to be freed by fn in reap_run; once only (a second
 * release is ignored). The object stays valid until then. */
void reap_release(struct reap_node *n, reap_free_fn *fn);
/* Whether n's object is released (then nothing new may start on it). */
static inline int reap_released(const struct reap_node *n)
{
    return n->released;
}
/* Free every released object, in the order released, and those their freeing releases,
 * until none is left; how many were freed. Called only where no call holds any of them. */
int reap_run(void);

#endif
