/* The exported hooks: every exec-family entry point and posix_spawn, plus the hand-over
 * from inside a real ssh that a static parent started. No heap, no stdio, no locks. */
#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

#define EXPORT __attribute__((visibility("default")))

extern char **environ;

/* The absolute path of the real ssh into out (relative paths joined to the cwd). */
static int absolute(const char *path, char *out, size_t outlen)
{
    size_t n = strlen(path);
    if (path[0] == '/') {
        if (n + 1 > outlen)
            return -1;
        memcpy(out, path, n + 1);
        return 0;
    }
    if (!getcwd(out, outlen))
        return -1;
    size_t c = strlen(out);
    if (c + 1 + n + 1 > outlen)
        return -1;
    out[c] = '/';
    memcpy(out + c + 1, path, n + 1);
    return 0;
}

/* Decide whether file is an ssh to redirect; on yes, real holds its absolute path and mux
 * the muxssh to run (both PATH_MAX). */
static int wants(const char *file, int search, char *const envp[], char *real, char *mux)
{
    if (!file || !shim_is_ssh_name(file, envp) || shim_inert(envp) || !shim_muxssh(envp, mux))
        return 0;
    char found[PATH_MAX];
    if (search) {
        if (shim_path_search(file, envp, found, sizeof found) != 0)
            return 0;
    } else {
        if (strlen(file) >= sizeof found || access(file, X_OK) != 0)
            return 0;
        memcpy(found, file, strlen(file) + 1);
    }
    return absolute(found, real, PATH_MAX) == 0;
}

/* exec muxssh in place of the real ssh; if that fails, the real ssh as asked. */
static int redirect_exec(const char *real, const char *mux, char *const argv[], char *const envp[])
{
    const struct shim_real *r = shim_real();
    char var[PATH_MAX + 32];
    if (shim_real_var(real, var, sizeof var) == 0) {
        char *env[shim_env_count(envp) + 2];
        shim_env_with(envp, env, var);
        r->execve(mux, argv, env);
    }
    return r->execve(real, argv, envp);
}

/* An exec whose file is named as ssh is: decide and redirect, errno as the caller left it.
 * Apart from the fast paths below, so that their frames stay small. */
static __attribute__((noinline)) int exec_ssh(const char *file, int search, char *const argv[],
                                              char *const envp[])
{
    int saved = errno;
    char real[PATH_MAX], mux[PATH_MAX];
    if (wants(file, search, envp, real, mux)) {
        errno = saved;
        return redirect_exec(real, mux, argv, envp);
    }
    errno = saved;
    return search ? shim_real()->execvpe(file, argv, envp) : shim_real()->execve(file, argv, envp);
}

/* The exec hooks' fast path, taken by every exec of every program (a shell's forked child,
 * most often): the name check only, with no libc call, no errno access and a small frame. A
 * forked child pays a copy-on-write fault for each page it first writes, of its stack (large
 * buffers are probed page by page) or of the library's GOT (a libc function bound lazily),
 * and those faults, not the check, were most of the shim's cost in a loop of execs. */
EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    if (shim_is_ssh_name(path, envp))
        return exec_ssh(path, 0, argv, envp);
    return shim_real()->execve(path, argv, envp);
}

EXPORT int execv(const char *path, char *const argv[])
{
    return execve(path, argv, environ);
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    if (shim_is_ssh_name(file, envp) && *file)
        return exec_ssh(file, 1, argv, envp);
    return shim_real()->execvpe(file, argv, envp);
}

EXPORT int execvp(const char *file, char *const argv[])
{
    return execvpe(file, argv, environ);
}

/* The execl family: collect the variadic words into an array on the stack. */
#define COLLECT_ARGS(first, ap, out)                                                               \
    size_t n_ = 1;                                                                                 \
    va_list probe_;                                                                                \
    va_copy(probe_, ap);                                                                           \
    while (va_arg(probe_, char *))                                                                 \
        n_++;                                                                                      \
    va_end(probe_);                                                                                \
    char *out[n_ + 1];                                                                             \
    out[0] = (char *)(first);                                                                      \
    for (size_t i_ = 1; i_ <= n_; i_++)                                                            \
    out[i_] = va_arg(ap, char *)

EXPORT int execl(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    COLLECT_ARGS(arg, ap, argv);
    va_end(ap);
    return execve(path, argv, environ);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    COLLECT_ARGS(arg, ap, argv);
    va_end(ap);
    return execvpe(file, argv, environ);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    COLLECT_ARGS(arg, ap, argv);
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    return execve(path, argv, envp);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    int saved = errno;
    char link[32] = "/proc/self/fd/", digits[12], target[PATH_MAX], real[PATH_MAX], mux[PATH_MAX];
    int nd = 0;
    for (unsigned v = (unsigned)fd; nd == 0 || v; v /= 10)
        digits[nd++] = (char)('0' + v % 10);
    size_t at = sizeof "/proc/self/fd/" - 1;
    while (nd)
        link[at++] = digits[--nd];
    link[at] = 0;
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n > 0) {
        target[n] = 0;
        if (wants(target, 0, envp, real, mux)) {
            errno = saved;
            const struct shim_real *r = shim_real();
            char var[PATH_MAX + 32];
            if (shim_real_var(real, var, sizeof var) == 0) {
                char *env[shim_env_count(envp) + 2];
                shim_env_with(envp, env, var);
                r->execve(mux, argv, env);
            }
            return r->fexecve(fd, argv, envp);
        }
    }
    errno = saved;
    return shim_real()->fexecve(fd, argv, envp);
}

/* posix_spawn of an ssh spawns muxssh with the same file actions and attributes. */
static int redirect_spawn(pid_t *pid, const char *real, const char *mux,
                          const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *at,
                          char *const argv[], char *const envp[])
{
    const struct shim_real *r = shim_real();
    char var[PATH_MAX + 32];
    if (shim_real_var(real, var, sizeof var) == 0) {
        char *env[shim_env_count(envp) + 2];
        shim_env_with(envp, env, var);
        int rc = r->posix_spawn(pid, mux, fa, at, argv, env);
        if (rc == 0)
            return 0;
    }
    return r->posix_spawn(pid, real, fa, at, argv, envp);
}

/* posix_spawn(p) of a file named as ssh is: as exec_ssh. */
static __attribute__((noinline)) int spawn_ssh(pid_t *pid, const char *file, int search,
                                               const posix_spawn_file_actions_t *fa,
                                               const posix_spawnattr_t *at, char *const argv[],
                                               char *const envp[])
{
    int saved = errno;
    char real[PATH_MAX], mux[PATH_MAX];
    if (wants(file, search, envp, real, mux)) {
        errno = saved;
        return redirect_spawn(pid, real, mux, fa, at, argv, envp);
    }
    errno = saved;
    return search ? shim_real()->posix_spawnp(pid, file, fa, at, argv, envp)
                  : shim_real()->posix_spawn(pid, file, fa, at, argv, envp);
}

EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                       const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
    if (shim_is_ssh_name(path, envp))
        return spawn_ssh(pid, path, 0, fa, at, argv, envp);
    return shim_real()->posix_spawn(pid, path, fa, at, argv, envp);
}

EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
    if (shim_is_ssh_name(file, envp) && *file)
        return spawn_ssh(pid, file, 1, fa, at, argv, envp);
    return shim_real()->posix_spawnp(pid, file, fa, at, argv, envp);
}

/* A TCP connect to an address in the user's routes goes through the broker (route.c); any
 * other connect, and one the broker cannot serve, is the real one. */
EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    if (shim_maybe_routed(sa, len)) {
        int saved = errno, result;
        if (shim_route_connect(fd, sa, len, &result)) {
            if (result == 0)
                errno = saved;
            return result;
        }
        errno = saved;
    }
    return shim_real_net()->connect(fd, sa, len);
}

/* A routed socket, once connected, names the address the program connected to
 * (route_peers.c); before that, and for every other socket, what the kernel says. */
EXPORT int getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
    socklen_t cap = len ? *len : 0;
    int rc = shim_real_net()->getpeername(fd, sa, len);
    if (rc == 0 && sa && len) {
        int saved = errno;
        shim_route_peername(fd, sa, cap, len);
        errno = saved;
    }
    return rc;
}

/* Loaded into the real ssh itself (a static or Go parent could not be hooked): hand over
 * to muxssh with the same argv, unless muxssh itself started this ssh (MUXSHIM_GUARD). */
__attribute__((constructor(102))) static void handover(int argc, char **argv, char **envp)
{
    (void)argc;
    /* Every process loads the shim: reading /proc/self/exe costs more than all the rest of
     * it, so only a process that calls itself ssh looks further. */
    if (!argv || !argv[0] || !envp || !shim_ssh_name_at(argv[0], envp, environ))
        return;
    int saved = errno;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        errno = saved;
        return;
    }
    self[n] = 0;
    char var[PATH_MAX + 32], mux[PATH_MAX];
    if (shim_is_ssh_name(self, envp) && !shim_inert(envp) && shim_muxssh(envp, mux) &&
        shim_real_var(self, var, sizeof var) == 0) {
        char *env[shim_env_count(envp) + 2];
        shim_env_with(envp, env, var);
        shim_real()->execve(mux, argv, env); /* on failure, ssh just runs */
    }
    errno = saved;
}
