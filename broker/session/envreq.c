/* SendEnv/SetEnv requests and channels prepared with them (see envreq.h).
 *
 * sshd applies env requests in order, the last value of a name winning, and accepts or
 * refuses by name alone (AcceptEnv), so two request lists give the same remote environment
 * when each name's last value is the same in both. */
#include "envreq.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

static size_t name_len(const char *entry)
{
    const char *eq = strchr(entry, '=');
    return eq ? (size_t)(eq - entry) : strlen(entry);
}

int envreq_selected(const struct hostcfg *cfg, const char *entry)
{
    const char *eq = strchr(entry, '=');
    if (!eq || eq == entry)
        return 0;
    char name[256];
    size_t n = (size_t)(eq - entry);
    if (n >= sizeof name)
        return 0;
    memcpy(name, entry, n);
    name[n] = '\0';
    int hit = 0;
    for (int i = 0; i < cfg->n_sendenv; i++) {
        const char *pat = cfg->sendenv[i];
        if (pat[0] == '-') {
            if (fnmatch(pat + 1, name, 0) == 0)
                hit = 0;
        } else if (fnmatch(pat, name, 0) == 0) {
            hit = 1;
        }
    }
    return hit;
}

const char **envreq_build(const struct hostcfg *cfg, char *const *env)
{
    int n = 0, cap = cfg->n_setenv + 1;
    for (char *const *e = env; e && *e; e++)
        cap++;
    const char **out = calloc((size_t)cap, sizeof *out);
    if (!out)
        return NULL;
    for (char *const *e = env; e && *e; e++)
        if (envreq_selected(cfg, *e))
            out[n++] = *e;
    for (int i = 0; i < cfg->n_setenv; i++)
        if (strchr(cfg->setenv[i], '='))
            out[n++] = cfg->setenv[i];
    out[n] = NULL;
    return out;
}

int envreq_count(const char *const *list)
{
    int n = 0;
    while (list && list[n])
        n++;
    return n;
}

int envreq_equal(const char *const *a, const char *const *b)
{
    int n = envreq_count(a);
    if (n != envreq_count(b))
        return 0;
    for (int i = 0; i < n; i++)
        if (strcmp(a[i], b[i]))
            return 0;
    return 1;
}

char **envreq_dup(const char *const *list, int *ok)
{
    int n = envreq_count(list);
    *ok = 1;
    if (n == 0)
        return NULL;
    char **out = calloc((size_t)n + 1, sizeof *out);
    if (!out)
        goto fail;
    for (int i = 0; i < n; i++)
        if (!(out[i] = strdup(list[i])))
            goto fail;
    return out;
fail:
    envreq_free(out);
    *ok = 0;
    return NULL;
}

void envreq_free(char **list)
{
    for (char **e = list; e && *e; e++)
        free(*e);
    free(list);
}

/* The last entry of list that sets the name of entry (NULL when none does). */
static const char *last_of(const char *const *list, const char *entry)
{
    size_t n = name_len(entry);
    const char *hit = NULL;
    for (int i = 0; list && list[i]; i++)
        if (name_len(list[i]) == n && !strncmp(list[i], entry, n))
            hit = list[i];
    return hit;
}

int envreq_rest(const char *const *done, const char *const *want, const char **rest)
{
    for (int i = 0; done && done[i]; i++)
        if (!last_of(want, done[i]))
            return -1;
    int n = 0;
    for (int i = 0; want && want[i]; i++) {
        if (last_of(want, want[i]) != want[i])
            continue; /* a later entry sets this name: only the last one counts */
        const char *had = last_of(done, want[i]);
        if (!had || strcmp(had, want[i]))
            rest[n++] = want[i];
    }
    rest[n] = NULL;
    return n;
}

int envreq_hold(struct sshconn *c, LIBSSH2_CHANNEL *ch, int drain)
{
    if (drain) {
        char junk[1];
        ssize_t n = libssh2_channel_read_ex(ch, 0, junk, 0);
        if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
            return (int)n;
    }
    c->rx_gate = 1;
    return 0;
}

void envreq_release(struct sshconn *c)
{
    c->rx_gate = 0;
}
