/* The cache of `ssh -G` answers: keyed by the question, dropped when a config file the answer
 * depends on changes; sshconfig_resolve. */
#include "sshconfig.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uthash.h>

#include <openssl/evp.h>

#include "sshconfig_int.h"
#include "words.h"

#define CACHE_MAX 256

/* The answer is kept as ssh -G's text (a few KB) and parsed again on a hit: a parsed
 * hostcfg is about 24 KB and its lists, which 256 entries would make a 6 MB cache. */
struct centry {
    char key[65];   /* hex SHA-256 of the question */
    char files[65]; /* hex SHA-256 of the config files' stat results when answered */
    char *text;     /* ssh -G's output */
    size_t len;
    char *warnings; /* what ssh -G said on stderr */
    UT_hash_handle hh;
};

static void centry_free(struct centry *ce)
{
    free(ce->text);
    free(ce->warnings);
    free(ce);
}

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct centry *cache;
static unsigned long misses;
static size_t cache_bytes; /* what the entries' allocations hold, for the status */

static size_t centry_bytes(const struct centry *ce)
{
    return sizeof *ce + (ce->text ? ce->len + 1 : 0) +
           (ce->warnings ? strlen(ce->warnings) + 1 : 0);
}

static void hex(const unsigned char *md, char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void digest_str(EVP_MD_CTX *m, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) : 0xffffffffu;
    EVP_DigestUpdate(m, &n, sizeof n);
    if (s)
        EVP_DigestUpdate(m, s, n);
}

static void digest_stat(EVP_MD_CTX *m, const char *path)
{
    struct stat st;
    long long v[5] = {-1, -1, -1, -1, -1};
    if (stat(path, &st) == 0) {
        v[0] = (long long)st.st_dev;
        v[1] = (long long)st.st_ino;
        v[2] = (long long)st.st_mtim.tv_sec;
        v[3] = (long long)st.st_mtim.tv_nsec;
        v[4] = (long long)st.st_size;
    }
    digest_str(m, path);
    EVP_DigestUpdate(m, v, sizeof v);
}

/* The state of every file the answer can depend on: -F files (else ~/.ssh/config),
 * /etc/ssh/ssh_config, ~/.ssh, /etc/ssh/ssh_config.d and what it holds. */
static void files_state(const char *cwd, char *const *opts, char out[65])
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned char md[32];
    char home[1024], name[256], path[2048];
    sshconfig_pw_home(home, sizeof home, name, sizeof name);
    EVP_DigestInit_ex(m, EVP_sha256(), NULL);
    int have_f = 0;
    for (int i = 0; opts && opts[i]; i++) {
        const char *f = NULL;
        if (!strcmp(opts[i], "-F") && opts[i + 1])
            f = opts[++i];
        else if (!strncmp(opts[i], "-F", 2) && opts[i][2])
            f = opts[i] + 2;
        if (!f)
            continue;
        have_f = 1;
        if (!strcasecmp(f, "none")) /* ssh then reads no file */
            continue;
        if (f[0] != '/' && cwd) /* ssh opens -F as given (no ~): from its directory */
            snprintf(path, sizeof path, "%s/%s", cwd, f);
        else
            snprintf(path, sizeof path, "%s", f);
        digest_stat(m, path);
    }
    if (!have_f) {
        snprintf(path, sizeof path, "%s/.ssh/config", home);
        digest_stat(m, path);
        digest_stat(m, "/etc/ssh/ssh_config");
    }
    snprintf(path, sizeof path, "%s/.ssh", home);
    digest_stat(m, path);
    digest_stat(m, "/etc/ssh/ssh_config.d");
    DIR *d = opendir("/etc/ssh/ssh_config.d");
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "/etc/ssh/ssh_config.d/%s", de->d_name);
            digest_stat(m, path);
        }
        closedir(d);
    }
    EVP_DigestFinal_ex(m, md, NULL);
    EVP_MD_CTX_free(m);
    hex(md, out);
}

static void question_key(const char *real_ssh, const char *cwd, char *const *opts, const char *dest,
                         const char *command, char *const *env, char out[65])
{
    static const char *vars[] = {"HOME", "USER", "LOGNAME", "SSH_AUTH_SOCK"};
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned char md[32];
    EVP_DigestInit_ex(m, EVP_sha256(), NULL);
    digest_str(m, real_ssh);
    digest_str(m, cwd);
    for (int i = 0; opts && opts[i]; i++)
        digest_str(m, opts[i]);
    digest_str(m, NULL);
    digest_str(m, dest);
    digest_str(m, command);
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        digest_str(m, words_env(env, vars[i]));
    EVP_DigestFinal_ex(m, md, NULL);
    EVP_MD_CTX_free(m);
    hex(md, out);
}

/* The default KexAlgorithms of each ssh binary asked so far (ssh -G -F none: no config). */
#define KEX_DEFAULTS_MAX 4
static struct {
    char path[HC_STR];
    char kex[HC_STR];
} kex_defaults[KEX_DEFAULTS_MAX];
static int n_kex_defaults;
static pthread_mutex_t kex_lock = PTHREAD_MUTEX_INITIALIZER;

/* OpenSSH 10.1+ warns of a classical key exchange only when KexAlgorithms was not set
 * (readconf.c's kex_algorithms_set): ssh -G cannot say so, so a list equal to the
 * binary's default counts as not set (a list set to exactly the default would not warn
 * in ssh). Clears cfg->warnweakcrypto when the list is not the default or that is unknown. */
static void kex_set_check(const char *real_ssh, struct hostcfg *cfg)
{
    if (!cfg->warnweakcrypto)
        return;
    int found = 0, same = 0;
    pthread_mutex_lock(&kex_lock);
    for (int i = 0; i < n_kex_defaults && !found; i++)
        if (!strcmp(kex_defaults[i].path, real_ssh)) {
            found = 1;
            same = !strcmp(kex_defaults[i].kex, cfg->kexalgorithms);
        }
    pthread_mutex_unlock(&kex_lock);
    if (!found) {
        char *const opts[] = {"-F", "none", NULL};
        char *raw = NULL, err[256];
        size_t rawlen = 0;
        struct hostcfg *d = calloc(1, sizeof *d);
        if (d && sshconfig_run_g(real_ssh, "/", opts, "muxshim.invalid", NULL, NULL, d, &raw,
                                 &rawlen, err, sizeof err) == 0) {
            same = !strcmp(d->kexalgorithms, cfg->kexalgorithms);
            pthread_mutex_lock(&kex_lock);
            if (n_kex_defaults < KEX_DEFAULTS_MAX) {
                snprintf(kex_defaults[n_kex_defaults].path, HC_STR, "%s", real_ssh);
                snprintf(kex_defaults[n_kex_defaults].kex, HC_STR, "%s", d->kexalgorithms);
                n_kex_defaults++;
            }
            pthread_mutex_unlock(&kex_lock);
        }
        free(raw);
        hostcfg_free(d);
    }
    if (!same)
        cfg->warnweakcrypto = 0;
}

int sshconfig_resolve(const char *real_ssh, const char *cwd, char *const *opts, const char *dest,
                      const char *command, char *const *env, struct hostcfg *cfg, char *err,
                      size_t errlen)
{
    char key[65], state[65];
    question_key(real_ssh, cwd, opts, dest, command, env, key);
    files_state(cwd, opts, state);

    pthread_mutex_lock(&cache_lock);
    struct centry *ce = NULL;
    HASH_FIND_STR(cache, key, ce);
    if (ce && !strcmp(ce->files, state) &&
        sshconfig_parse(ce->text, ce->len, cwd, cfg, err, errlen) == 0) {
        snprintf(cfg->warnings, sizeof cfg->warnings, "%s", ce->warnings);
        pthread_mutex_unlock(&cache_lock);
        sshconfig_env_paths(cfg, cwd, env);
        kex_set_check(real_ssh, cfg);
        return 0;
    }
    misses++;
    pthread_mutex_unlock(&cache_lock);

    char *raw = NULL;
    size_t rawlen = 0;
    if (sshconfig_run_g(real_ssh, cwd, opts, dest, command, env, cfg, &raw, &rawlen, err, errlen) <
        0)
        return -1;
    sshconfig_env_paths(cfg, cwd, env);

    pthread_mutex_lock(&cache_lock);
    HASH_FIND_STR(cache, key, ce);
    if (!ce) {
        if (HASH_COUNT(cache) >= CACHE_MAX) {
            struct centry *it, *tmp;
            HASH_ITER(hh, cache, it, tmp)
            {
                HASH_DEL(cache, it);
                centry_free(it);
            }
            cache_bytes = 0;
        }
        ce = calloc(1, sizeof *ce);
        if (ce) {
            memcpy(ce->key, key, sizeof key);
            HASH_ADD_STR(cache, key, ce);
        }
    }
    char *warnings = strdup(cfg->warnings);
    if (ce && warnings) {
        /* ssh -G's output was read into a buffer of 16 KB or more: keep only the text */
        char *fit = realloc(raw, rawlen + 1);
        if (fit)
            raw = fit;
        memcpy(ce->files, state, sizeof state);
        cache_bytes -= ce->text ? centry_bytes(ce) : 0;
        free(ce->text);
        free(ce->warnings);
        ce->text = raw;
        ce->len = rawlen;
        ce->warnings = warnings;
        cache_bytes += centry_bytes(ce);
        raw = warnings = NULL;
    } else if (ce) {
        cache_bytes -= ce->text ? centry_bytes(ce) : 0;
        HASH_DEL(cache, ce);
        centry_free(ce);
    }
    pthread_mutex_unlock(&cache_lock);
    free(raw);
    free(warnings);
    kex_set_check(real_ssh, cfg);
    return 0;
}

size_t sshconfig_cache_bytes(unsigned *entries)
{
    pthread_mutex_lock(&cache_lock);
    size_t n = cache_bytes;
    *entries = HASH_COUNT(cache);
    pthread_mutex_unlock(&cache_lock);
    return n;
}

unsigned long sshconfig_cache_misses(void)
{
    pthread_mutex_lock(&cache_lock);
    unsigned long n = misses;
    pthread_mutex_unlock(&cache_lock);
    return n;
}
