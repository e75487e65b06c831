/* The per-user runtime directory ($MUXSHIM_DIR) and the paths inside it. */
#ifndef MUXSHIM_RUNTIME_H
#define MUXSHIM_RUNTIME_H

#include <stddef.h>

#define RUNTIME_PATH_MAX 108 /* fits sun_path */

/* Default session persistence in seconds when the config sets no ControlPersist. */
#define RUNTIME_DEFAULT_PERSIST 600

/* Resolve $MUXSHIM_DIR (else $XDG_RUNTIME_DIR/muxshim, else /tmp/muxshim-$UID) into out,
 * creating it 0700 when missing. Returns 0, or -1 with a one-line reason in err when the
 * directory is unusable (not ours, not a directory, group/other access, path too long). */
int runtime_dir(char *out, size_t outlen, int create, char *err, size_t errlen);
/* Join the runtime directory and a file name ("broker.sock") into out; -1 if too long. */
int runtime_path(const char *dir, const char *name, char *out, size_t outlen);
/* Seconds of persistence from $MUXSHIM_PERSIST (default RUNTIME_DEFAULT_PERSIST). */
int runtime_persist_default(void);

#endif
