/* The per-user runtime directory ($MUXSHIM_DIR), the paths inside it, and the broker's
 * socket in it. runtime_core.c has no heap, no stdio and no locks (the shim links it);
 * runtime.c adds the messages for muxssh and the broker. */
#ifndef MUXSHIM_RUNTIME_H
#define MUXSHIM_RUNTIME_H

#include <stddef.h>
#include <sys/socket.h>

#define RUNTIME_PATH_MAX 108 /* fits sun_path */

/* Default session persistence in seconds when the config sets no ControlPersist. */
#define RUNTIME_DEFAULT_PERSIST 600

/* Why the runtime directory or the broker in it is not used. */
enum runtime_why {
    RT_OK = 0,
    RT_RELATIVE,  /* $MUXSHIM_DIR is not an absolute path */
    RT_TOO_LONG,  /* the path leaves no room for the sockets in sun_path */
    RT_MISSING,   /* it does not exist (and was not to be created) */
    RT_UNUSABLE,  /* it cannot be created or opened (errno in found.err) */
    RT_SYMLINK,   /* it is a symbolic link */
    RT_NOT_DIR,   /* it is not a directory */
    RT_OWNER,     /* owned by found.uid, not by us */
    RT_MODE,      /* group or other have access (found.mode) */
    RT_NO_BROKER, /* nobody listens on broker.sock */
    RT_IMPOSTOR,  /* broker.sock is served by found.uid, not by us */
};

/* What a check found, for the message that says why. */
struct runtime_found {
    int err;
    unsigned uid, mode;
};

/* The connect() to use: libc's, or the shim's real one (NULL: connect). */
typedef int (*runtime_connect_fn)(int, const struct sockaddr *, socklen_t);

/* Resolve $MUXSHIM_DIR (else $XDG_RUNTIME_DIR/muxshim, else /tmp/muxshim-$UID) into out,
 * create it 0700 when asked and missing, open it O_DIRECTORY|O_NOFOLLOW and check it
 * through fstat: ours, no group/other access. Returns RT_OK (with the open directory in
 * *dirfd, close-on-exec, when dirfd is not NULL) or the reason, filling found. Heap-free. */
int runtime_open(char *out, size_t outlen, int create, int *dirfd, struct runtime_found *found);
/* Connect to broker.sock in dir (non-blocking when nonblock) and check with SO_PEERCRED
 * that our own uid listens, before anything is sent. RT_OK with the socket in *sock,
 * else RT_NO_BROKER, RT_IMPOSTOR (found.uid) or RT_TOO_LONG. Heap-free. */
int runtime_dial(const char *dir, int nonblock, runtime_connect_fn conn, int *sock,
                 struct runtime_found *found);

/* runtime_open, with the reason as one line in err: 0 or -1. */
int runtime_dir(char *out, size_t outlen, int create, char *err, size_t errlen);
/* The one-line reason for a runtime_open or runtime_dial result about dir. */
void runtime_why_text(int why, const char *dir, const struct runtime_found *found, char *err,
                      size_t errlen);
/* a, b and c (NULL: none) joined into out, always terminated; the length, or -1 when cut
 * short. Heap-free (runtime_core.c). */
int runtime_join(char *out, size_t cap, const char *a, const char *b, const char *c);
/* Join the runtime directory and a file name ("broker.sock") into out; -1 if too long. */
int runtime_path(const char *dir, const char *name, char *out, size_t outlen);
/* Seconds of persistence from $MUXSHIM_PERSIST (default RUNTIME_DEFAULT_PERSIST). */
int runtime_persist_default(void);

#endif
