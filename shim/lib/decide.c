/* The shim's decision: is this exec an ssh, and how to run muxssh in its place.
 * Runs in children of vfork: stack buffers only, no heap, no stdio, no locks. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "shim.h"

extern char **environ;

static struct shim_real real;

/* One real function: shim_next_sym, else dlsym (never needed with glibc's own objects, which
 * all have GNU hash tables; dlsym takes the loader's lock, so not from a vfork child). */
static inline __attribute__((always_inline)) void *next_sym(const char *name)
{
    void *a = shim_next_sym(name);
    if (!a) {
        int saved = errno;
        a = dlsym(RTLD_NEXT, name);
        errno = saved;
    }
    return a;
}

/* The exec hooks' real functions, resolved at load: a hook may run in a vfork child, and the
 * children a parent forks inherit them resolved. The names are built on the stack (immediate
 * stores), not read from .rodata, which would be one more page touched in every process. */
static inline __attribute__((always_inline)) void resolve_exec(void)
{
    char n1[] = "execvpe", n2[] = "fexecve", n3[] = "posix_spawn", n4[] = "posix_spawnp",
         n5[] = "execve";
    real.execvpe = next_sym(n1);
    real.fexecve = next_sym(n2);
    real.posix_spawn = next_sym(n3);
    real.posix_spawnp = next_sym(n4);
    __atomic_store_n(&real.execve, next_sym(n5), __ATOMIC_RELEASE);
}

/* Load time costs every process, so it does only what the exec hooks need before they can
 * decide, with no system call and no libc function (none is bound at load: no -z now) and
 * nothing that could change errno. connect() and getpeername() resolve theirs when first
 * called, AT_SECURE is read when an exec of ssh is decided, the route and prompt paths bind
 * their libc functions when first used, and muxssh's path is looked up when an ssh is exec'd. */
__attribute__((constructor(101))) static void shim_load(void)
{
    resolve_exec();
}

const struct shim_real *shim_real(void)
{
    if (!__atomic_load_n(&real.execve, __ATOMIC_ACQUIRE))
        resolve_exec();
    return &real;
}

const struct shim_real *shim_real_net(void)
{
    if (!__atomic_load_n(&real.getpeername, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&real.connect, next_sym("connect"), __ATOMIC_RELEASE);
        __atomic_store_n(&real.getpeername, next_sym("getpeername"), __ATOMIC_RELEASE);
    }
    return shim_real();
}

/* Parse a hexadecimal number at *p, moving *p past it. */
static unsigned long hex(const char **p)
{
    unsigned long v = 0;
    for (;; (*p)++) {
        char c = **p;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return v;
        v = v * 16 + (unsigned long)d;
    }
}

/* The file mapped at addr, from one line of /proc/self/maps ("lo-hi perms off dev ino path"),
 * into out: the kernel names the file by its real path, whatever LD_PRELOAD said and whatever
 * the working directory is now. 0 if this line maps addr and names a file. */
static int maps_line(const char *l, size_t n, unsigned long addr, char *out, size_t cap)
{
    const char *p = l;
    unsigned long lo = hex(&p);
    if (*p++ != '-')
        return -1;
    unsigned long hi = hex(&p);
    if (addr < lo || addr >= hi)
        return -1;
    const char *path = memchr(l, '/', n);
    if (!path)
        return -1;
    size_t len = (size_t)(l + n - path);
    if (len > sizeof " (deleted)" - 1 &&
        !memcmp(path + len - (sizeof " (deleted)" - 1), " (deleted)", sizeof " (deleted)" - 1))
        len -= sizeof " (deleted)" - 1; /* replaced since: its folder is still the one */
    if (len + 1 > cap)
        return -1;
    memcpy(out, path, len);
    out[len] = '\0';
    return 0;
}

/* muxssh beside this library into beside (PATH_MAX), through /proc/self/maps: system calls and
 * the stack only, so it may run in a vfork child (dladdr takes the loader's lock, realpath may
 * use the heap). Looked up each time an ssh is exec'd, not at load: nothing static is kept,
 * since every byte of static storage past the library's last data page costs every process
 * a mapping at load. 0 if found. */
static int find_beside(char *beside)
{
    char lib[PATH_MAX], buf[4096];
    unsigned long addr = (unsigned long)(void *)find_beside;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC), found = -1;
    size_t have = 0;
    while (fd >= 0 && found < 0) {
        ssize_t got = read(fd, buf + have, sizeof buf - have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        have += (size_t)got;
        size_t start = 0;
        for (char *nl; found < 0 && (nl = memchr(buf + start, '\n', have - start));) {
            found = maps_line(buf + start, (size_t)(nl - buf) - start, addr, lib, sizeof lib);
            start = (size_t)(nl - buf) + 1;
        }
        memmove(buf, buf + start, have - start);
        have -= start;
        if (have == sizeof buf)
            have = 0; /* a line longer than the buffer: not ours */
    }
    if (fd >= 0)
        close(fd);
    char *slash = found == 0 ? strrchr(lib, '/') : NULL;
    if (!slash || (size_t)(slash - lib) + sizeof "/muxssh" > PATH_MAX)
        return -1;
    memcpy(beside, lib, (size_t)(slash - lib));
    memcpy(beside + (slash - lib), "/muxssh", sizeof "/muxssh");
    return 0;
}

const char *shim_env(char *const envp[], const char *name)
{
    for (; envp && *envp; envp++) {
        const char *e = *envp, *n = name;
        while (*n && *e == *n)
            e++, n++;
        if (!*n && *e == '=')
            return e + 1;
    }
    return NULL;
}

int shim_inert(char *const envp[])
{
    if (getauxval(AT_SECURE))
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
    return file && shim_ssh_name_at(file, envp, environ);
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

const char *shim_muxssh(char *const envp[], char *buf)
{
    const char *m = shim_env(envp, "MUXSHIM_MUXSSH");
    if (!m)
        m = shim_env(environ, "MUXSHIM_MUXSSH");
    if (m && *m) {
        size_t n = strlen(m);
        if (n >= PATH_MAX)
            return NULL;
        memcpy(buf, m, n + 1);
        return buf;
    }
    int saved = errno, rc = find_beside(buf);
    errno = saved;
    return rc == 0 ? buf : NULL;
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
