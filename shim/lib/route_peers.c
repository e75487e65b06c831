/* The routed sockets: which fds the shim connected through the broker, and to which address,
 * so that getpeername reports what the program asked for. Lock-free (atomics), no heap. */
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "route.h"
#include "shim.h"

#define PEERS 64
struct peer_slot {
    int state; /* 0 free, 1 being written, 2 ready (atomic) */
    int fd;
    dev_t dev;
    ino_t ino;
    socklen_t len;
    struct sockaddr_storage addr;
};
/* The table: one mapping made at the first routed connect (route_map_once), never static
 * storage, which would cost every process a mapping at load. */
static struct peer_slot *peers;
static unsigned next_slot;

void route_remember(int fd, const struct sockaddr *sa, socklen_t len)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || len > sizeof(struct sockaddr_storage) ||
        !route_map_once((void **)&peers, PEERS * sizeof *peers))
        return;
    for (int tries = 0; tries < PEERS; tries++) {
        unsigned i = __atomic_fetch_add(&next_slot, 1, __ATOMIC_RELAXED) % PEERS;
        int s = __atomic_load_n(&peers[i].state, __ATOMIC_ACQUIRE);
        if (s == 1 || !__atomic_compare_exchange_n(&peers[i].state, &s, 1, 0, __ATOMIC_ACQUIRE,
                                                   __ATOMIC_RELAXED))
            continue;
        peers[i].fd = fd;
        peers[i].dev = st.st_dev;
        peers[i].ino = st.st_ino;
        peers[i].len = len;
        memcpy(&peers[i].addr, sa, len);
        __atomic_store_n(&peers[i].state, 2, __ATOMIC_RELEASE);
        return;
    }
}

/* The ready slot for fd's socket (the same one still, by inode), or NULL. */
static struct peer_slot *slot_of(int fd)
{
    struct stat st;
    int have = 0;
    if (!__atomic_load_n(&peers, __ATOMIC_ACQUIRE))
        return NULL; /* nothing was ever routed here */
    for (int i = 0; i < PEERS; i++) {
        if (__atomic_load_n(&peers[i].state, __ATOMIC_ACQUIRE) != 2 || peers[i].fd != fd)
            continue;
        /* The same socket still (not a later one with the same number)? */
        if (!have && fstat(fd, &st) < 0)
            return NULL;
        have = 1;
        if (peers[i].dev == st.st_dev && peers[i].ino == st.st_ino)
            return &peers[i];
    }
    return NULL;
}

int route_known(int fd)
{
    return slot_of(fd) != NULL;
}

int shim_route_peername(int fd, struct sockaddr *sa, socklen_t cap, socklen_t *len)
{
    struct peer_slot *p = slot_of(fd);
    if (!p)
        return 0;
    socklen_t n = p->len < cap ? p->len : cap;
    memcpy(sa, &p->addr, n);
    *len = p->len;
    return 1;
}
