/* The shim's decision: is this exec an ssh, and how to run muxssh in its place.
 * Runs in children of vfork: stack buffers only, no heap, no stdio, no locks. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "shim.h"

extern char **environ;

static struct shim_real real;
static int secure;
static char beside[PATH_MAX]; /* muxssh next to libmuxshim.so, "" if unknown */

static void resolve_real(void)
{
    real.execve = dlsym(RTLD_NEXT, "execve");
    real.execvpe = dlsym(RTLD_NEXT, "execvpe");
    real.fexecve = dlsym(RTLD_NEXT, "fexecve");
    real.posix_spawn = dlsym(RTLD_NEXT, "posix_spawn");
    real.posix_spawnp = dlsym(RTLD_NEXT, "posix_spawnp");
    real.connect = dlsym(RTLD_NEXT, "connect");
    real.getpeername = dlsym(RTLD_NEXT, "getpeername");
}

/* Load time: resolve libc, note AT_SECURE, find muxssh beside this library. */
__attribute__((constructor(101))) static void shim_load(void)
{
    resolve_real();
    secure = getauxval(AT_SECURE) != 0;
    Dl_info info;
    char lib[PATH_MAX];
    if (dladdr((void *)resolve_real, &info) && info.dli_fname && realpath(info.dli_fname, lib)) {
        char *slash = strrchr(lib, '/');
        if (slash && (size_t)(slash - lib) + sizeof "/muxssh" <= sizeof beside) {
            memcpy(beside, lib, (size_t)(slash - lib));
            memcpy(beside + (slash - lib), "/muxssh", sizeof "/muxssh");
        }
    }
}

const struct shim_real *shim_real(void)
{
    if (!real.execve)
        resolve_real();
    return &real;
}

const char *shim_env(char *const envp[], const char *name)
{
    size_t n = strlen(name);
    for (; envp && *envp; envp++)
        if (!strncmp(*envp, name, n) && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

int shim_inert(char *const envp[])
{
    if (secure)
        return 1;
    const char *d = shim_env(environ, "MUXSHIM_DISABLE");
    if (d && !strcmp(d, "1"))
        return 1;
    d = shim_env(envp, "MUXSHIM_DISABLE");
    if (d && !strcmp(d, "1"))
        return 1;
    d = shim_env(envp, "MUXSHIM_GUARD");
    return d && *d;
}

int shim_is_ssh_name(const char *file, char *const envp[])
{
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    if (!strcmp(base, "ssh"))
        return 1;
    const char *names = shim_env(envp, "MUXSHIM_SSH_NAMES");
    if (!names)
        names = shim_env(environ, "MUXSHIM_SSH_NAMES");
    if (!names || !*names)
        return 0;
    size_t bl = strlen(base);
    for (const char *p = names; *p;) {
        const char *c = strchr(p, ':');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (n == bl && n && !strncmp(p, base, n))
            return 1;
        p += n + (c != NULL);
    }
    return 0;
}

int shim_path_search(const char *file, char *const envp[], char *out, size_t outlen)
{
    size_t fl = strlen(file);
    if (strchr(file, '/')) {
        if (fl + 1 > outlen)
            return -1;
        memcpy(out, file, fl + 1);
        return access(out, X_OK);
    }
    const char *path = shim_env(envp, "PATH");
    if (!path)
        path = shim_env(environ, "PATH");
    if (!path)
        path = "/bin:/usr/bin";
    for (const char *p = path;;) {
        const char *c = strchr(p, ':');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        /* An empty entry is the current directory, as for execvp. */
        const char *dir = n ? p : ".";
        size_t dl = n ? n : 1;
        if (dl + 1 + fl + 1 <= outlen) {
            memcpy(out, dir, dl);
            out[dl] = '/';
            memcpy(out + dl + 1, file, fl + 1);
            if (access(out, X_OK) == 0)
                return 0;
        }
        if (!c)
            return -1;
        p = c + 1;
    }
}

const char *shim_muxssh(char *const envp[])
{
    const char *m = shim_env(envp, "MUXSHIM_MUXSSH");
    if (!m)
        m = shim_env(environ, "MUXSHIM_MUXSSH");
    if (m && *m)
        return m;
    return beside[0] ? beside : NULL;
}

size_t shim_env_count(char *const envp[])
{
    size_t n = 0;
    while (envp && envp[n])
        n++;
    return n;
}

void shim_env_with(char *const envp[], char **out, char *var)
{
    size_t o = 0;
    for (size_t i = 0; envp && envp[i]; i++)
        if (strncmp(envp[i], "MUXSHIM_REAL_SSH=", 17))
            out[o++] = envp[i];
    out[o++] = var;
    out[o] = NULL;
}

int shim_real_var(const char *realpath_, char *buf, size_t buflen)
{
    size_t n = strlen(realpath_);
    if (sizeof "MUXSHIM_REAL_SSH=" + n > buflen)
        return -1;
    memcpy(buf, "MUXSHIM_REAL_SSH=", sizeof "MUXSHIM_REAL_SSH=" - 1);
    memcpy(buf + sizeof "MUXSHIM_REAL_SSH=" - 1, realpath_, n + 1);
    return 0;
}
