/* The shim's decision: is this exec an ssh, and how to run muxssh in its place.
 * Everything here runs in children of vfork: no heap, no stdio, no locks. */
#ifndef MUXSHIM_SHIM_H
#define MUXSHIM_SHIM_H

#include <limits.h>
#include <spawn.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* The libc functions the hooks stand in front of: the exec family's resolved at load, connect's
 * and getpeername's when first used (shim_real_net). */
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

/* The real functions (the exec family's resolved here if the constructor has not run yet). */
const struct shim_real *shim_real(void);
/* The same, with connect and getpeername resolved (dlsym: never from a vfork child). */
const struct shim_real *shim_real_net(void);
/* The first definition of the function name after this library in the loader's search order,
 * as dlsym(RTLD_NEXT) finds it, but lock-free and with no system call (libc_sym.c); NULL if
 * none is found that way. */
void *shim_next_sym(const char *name);
/* The value of name in envp, or NULL. */
const char *shim_env(char *const envp[], const char *name);
/* Whether the shim must stay out of an exec with this environment. */
int shim_inert(char *const envp[]);
/* Whether the file name (a path or a bare name; NULL: no) names ssh. No libc call, no errno. */
int shim_is_ssh_name(const char *file, char *const envp[]);

/* shim_is_ssh_name for code that runs at load in every process (hooks.c's handover): inlined,
 * with no libc function and no string constant (each would touch one more page of the
 * library, or bind one more symbol, in every process). */
static inline __attribute__((always_inline)) int
shim_ssh_name_at(const char *file, char *const envp[], char *const env2[])
{
    const char *base = file;
    for (const char *p = file; *p; p++)
        if (*p == '/')
            base = p + 1;
    if (base[0] == 's' && base[1] == 's' && base[2] == 'h' && !base[3])
        return 1;
    /* MUXSHIM_SSH_NAMES=, compared a character at a time: an array initialized from a
     * constant would be copied from .rodata, one more page touched at load. */
    const char *names = NULL;
    for (int k = 0; k < 2 && !names; k++)
        for (char *const *e = k ? env2 : envp; e && *e && !names; e++) {
            const char *v = *e;
            if (v[0] == 'M' && v[1] == 'U' && v[2] == 'X' && v[3] == 'S' && v[4] == 'H' &&
                v[5] == 'I' && v[6] == 'M' && v[7] == '_' && v[8] == 'S' && v[9] == 'S' &&
                v[10] == 'H' && v[11] == '_' && v[12] == 'N' && v[13] == 'A' && v[14] == 'M' &&
                v[15] == 'E' && v[16] == 'S' && v[17] == '=')
                names = v + 18;
        }
    /* Each ':'-separated name against base. */
    for (const char *p = names; p && *p;) {
        const char *b = base;
        while (*p && *p != ':' && *p == *b)
            p++, b++;
        if (!*b && (!*p || *p == ':') && b != base)
            return 1;
        while (*p && *p != ':')
            p++;
        if (*p)
            p++;
    }
    return 0;
}
/* Resolve a bare name through PATH as execvp does, into out; 0 if an executable was found. */
int shim_path_search(const char *file, char *const envp[], char *out, size_t outlen);
/* The muxssh to run, written into buf (PATH_MAX bytes): $MUXSHIM_MUXSSH, else muxssh beside
 * the library. buf, or NULL if unknown. */
const char *shim_muxssh(char *const envp[], char *buf);
/* Count environment entries. */
size_t shim_env_count(char *const envp[]);
/* Fill out (room for count+2 entries) with envp minus MUXSHIM_REAL_SSH plus var. */
void shim_env_with(char *const envp[], char **out, char *var);
/* Build "MUXSHIM_REAL_SSH=<real>" into buf; 0 if it fits. */
int shim_real_var(const char *real, char *buf, size_t buflen);

/* Whether connect() to sa could be routed: TCP's families, not loopback (the check before
 * anything else, inlined: most connects are to unix sockets or loopback). */
static inline int shim_maybe_routed(const struct sockaddr *sa, socklen_t len)
{
    if (!sa)
        return 0;
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
        return ((const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)
                    ->sin_addr)[0] != 127;
    if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        return !IN6_IS_ADDR_LOOPBACK(a) && !IN6_IS_ADDR_V4MAPPED(a);
    }
    return 0;
}

/* connect() to a routed address: 1 when handled (*result is connect's return value, errno
 * set on failure), 0 to let the real connect run. */
int shim_route_connect(int fd, const struct sockaddr *sa, socklen_t len, int *result);
/* getpeername() of a routed socket: 1 and the address the program connected to (at most cap
 * bytes of it into sa, its length into *len), else 0 and nothing changed. */
int shim_route_peername(int fd, struct sockaddr *sa, socklen_t cap, socklen_t *len);

#endif
