/* KnownHostsCommand: known_hosts lines from a command, as ssh's load_hostkeys_command. */
#ifndef MUXSHIM_KHCMD_H
#define MUXSHIM_KHCMD_H

#include <stddef.h>

#include "sshconfig.h"

/* Split cmd into words as OpenSSH's argv_split (quotes, backslash escapes) and expand the
 * words after the first with the client tokens, ${VAR} from env and %H (name), %I
 * (invocation: "HOSTNAME"), %t %f %K (the key's type, fingerprint, base64; "NONE" when
 * blob is NULL). *argv is heap (proto_strv_free). 0, or -1 with err. */
int khcmd_argv(const struct hostcfg *cfg, char *const *env, const char *name,
               const unsigned char *blob, size_t len, char ***argv, char *err, size_t errlen);
/* Run cfg's KnownHostsCommand for the host key blob of name: stdin /dev/null, stderr to
 * errfd (-1: the broker log), in cwd with env; *out is its output (heap). 0; -1 with err
 * when it cannot run or does not exit 0 (ssh then fails: the real ssh says why). */
int khcmd_run(const struct hostcfg *cfg, char *const *env, const char *cwd, int errfd,
              const char *name, const unsigned char *blob, size_t len, char **out, char *err,
              size_t errlen);
/* SHA-256 of the expanded words khcmd_argv gives (which command, for which key and name):
 * a connection let in by one command's lines is one a session with the same words trusts.
 * 0 or -1. */
int khcmd_id(const struct hostcfg *cfg, char *const *env, const char *name,
             const unsigned char *blob, size_t len, unsigned char out[32]);

#endif
