/* Deferred free (reap.h): one list of released objects, freed at the end of the loop turn. */
#include "reap.h"

static struct reap_node *head, **tail = &head;

void reap_release(struct reap_node *n, reap_free_fn *fn)
{
    if (n->released)
        return;
    n->released = 1;
    n->free = fn;
    n->next = NULL;
    *tail = n;
    tail = &n->next;
}

int reap_run(void)
{
    int n = 0;
    /* A free may release more (a client's session, a connection's tunnel): they join the
     * tail and are freed in this same run. */
    while (head) {
        struct reap_node *r = head;
        head = r->next;
        if (!head)
            tail = &head;
        r->next = NULL;
        r->free(r);
        n++;
    }
    return n;
}
