/* Running the real ssh when muxshim cannot serve a session. */
#ifndef MUXSHIM_FALLBACK_H
#define MUXSHIM_FALLBACK_H

#include <stddef.h>

#include "argv.h"

/* The real ssh: $MUXSHIM_REAL_SSH, else the first `ssh` on PATH that is not this program.
 * Returns 0 with the path in out, or -1. */
int fallback_real_ssh(char *out, size_t outlen);
/* Build the argv for the real ssh into a heap array: argv[0], then (when ctl_dir is not
 * NULL) OpenSSH's own multiplexing options under ctl_dir, then argv[1..]. NULL on ENOMEM. */
char **fallback_argv(int argc, char **argv, const char *ctl_dir, int persist);
/* Does the config the real ssh would read for argv choose its own multiplexing
 * (ControlMaster other than no, or a ControlPath)? Asks `real_ssh -G`; 1 when it does or
 * cannot tell, 0 when it does not. */
int fallback_config_controls(const char *real_ssh, int argc, char **argv);
/* How the real ssh reads -P, from what `real_ssh -F /dev/null -G -P x y` takes as the host
 * name; SSH_DIALECT_UNKNOWN when it does not answer. */
enum ssh_dialect fallback_dialect(const char *real_ssh);
/* Exec the real ssh with fallback_argv(...) and MUXSHIM_GUARD=1 set; returns only on failure
 * (after printing a one-line error), with 255 to exit with. */
int fallback_exec(const char *real_ssh, int argc, char **argv, const char *ctl_dir);

#endif
