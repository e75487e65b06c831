/* The deferred free (broker/base/reap.h): released objects are freed only by reap_run, in
 * the order released, once each, and what a free releases is freed in the same run. */
#include <stdlib.h>

#include "check.h"
#include "reap.h"

struct obj {
    int id;
    struct obj *frees_too; /* released when this one is freed (a client's session) */
    struct reap_node reap;
};

static int order[8], nfreed;

static void obj_free(struct reap_node *n)
{
    struct obj *o = REAP_OBJ(n, struct obj, reap);
    if (nfreed < 8)
        order[nfreed] = o->id;
    nfreed++;
    if (o->frees_too)
        reap_release(&o->frees_too->reap, obj_free);
    free(o);
}

static struct obj *obj_new(int id)
{
    struct obj *o = calloc(1, sizeof *o);
    o->id = id;
    return o;
}

int main(void)
{
    struct obj *a = obj_new(1), *b = obj_new(2), *c = obj_new(3);
    CHECK(!reap_released(&a->reap), "a new object is not released");
    a->frees_too = c;
    reap_release(&a->reap, obj_free);
    reap_release(&b->reap, obj_free);
    reap_release(&a->reap, obj_free); /* twice: listed once */
    CHECK(reap_released(&a->reap) && reap_released(&b->reap), "released objects say so");
    CHECK(nfreed == 0 && a->id == 1, "release frees nothing");
    int n = reap_run();
    CHECK(n == 3 && nfreed == 3, "one run frees what was released and what that released (%d)", n);
    CHECK(order[0] == 1 && order[1] == 2 && order[2] == 3, "freed in the order released");
    CHECK(reap_run() == 0, "nothing is left for the next run");
    struct obj *d = obj_new(4);
    reap_release(&d->reap, obj_free);
    CHECK(reap_run() == 1 && order[3] == 4, "the list is usable again after a run");
    printf("reap: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
