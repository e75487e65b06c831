/* The shim's decision: is this exec an ssh, and how to run muxssh in its place.
 * Everything here runs in children of vfork: no heap, no stdio, no locks. */
#ifndef MUXSHIM_SHIM_H
#define MUXSHIM_SHIM_H

#include <limits.h>
#include <spawn.h>
#include <stddef.h>
#include <sys/socket.h>

/* The libc functions the hooks stand in front of, resolved once at load. */
struct shim_real {
    int (*execve)(const char *, char *const[], char *const[]);
    int (*execvpe)(const char *, char *const[], char *const[]);
    int (*fexecve)(int, char *const[], char *const[]);
    int (*posix_spawn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                       const posix_spawnattr_t *, char *const[], char *const[]);
    int (*posix_spawnp)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                        const posix_spawnattr_t *, char *const[], char *const[]);
    int (*connect)(int, const struct sockaddr *, socklen_t);
    int (*getpeername)(int, struct sockaddr *, socklen_t *);
};

/* The real functions (resolved on first use if the constructor has not run yet). */
const struct shim_real *shim_real(void);
/* The value of name in envp, or NULL. */
const char *shim_env(char *const envp[], const char *name);
/* Whether the shim must stay out of an exec with this environment. */
int shim_inert(char *const envp[]);
/* Whether the file name (a path or a bare name) names ssh. */
int shim_is_ssh_name(const char *file, char *const envp[]);
/* Resolve a bare name through PATH as execvp does, into out; 0 if an executable was found. */
int shim_path_search(const char *file, char *const envp[], char *out, size_t outlen);
/* The muxssh to run: $MUXSHIM_MUXSSH or muxssh beside the library. NULL if unknown. */
const char *shim_muxssh(char *const envp[]);
/* Count environment entries. */
size_t shim_env_count(char *const envp[]);
/* Fill out (room for count+2 entries) with envp minus MUXSHIM_REAL_SSH plus var. */
void shim_env_with(char *const envp[], char **out, char *var);
/* Build "MUXSHIM_REAL_SSH=<real>" into buf; 0 if it fits. */
int shim_real_var(const char *real, char *buf, size_t buflen);

/* connect() to a routed address: 1 when handled (*result is connect's return value, errno
 * set on failure), 0 to let the real connect run. */
int shim_route_connect(int fd, const struct sockaddr *sa, socklen_t len, int *result);
/* getpeername() of a routed socket: 1 and the address the program connected to, else 0. */
int shim_route_peername(int fd, struct sockaddr *sa, socklen_t *len);

#endif
