/* Authentication in ssh's order: agent, identity files, keyboard-interactive, password. */
#include "auth.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_MAX (64 * 1024)
#define PASSWORD_TRIES 3

/* Whole small file into a malloc'd NUL-terminated buffer; NULL if missing or too big. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *buf = malloc(KEY_MAX + 1);
    size_t n = buf ? fread(buf, 1, KEY_MAX + 1, f) : 0;
    fclose(f);
    if (!buf || n > KEY_MAX) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int auth_key_encrypted(const char *text, size_t len)
{
    (void)len;
    if (strstr(text, "Proc-Type: 4,ENCRYPTED") || strstr(text, "BEGIN ENCRYPTED PRIVATE KEY"))
        return 1;
    const char *b = strstr(text, "-----BEGIN OPENSSH PRIVATE KEY-----");
    if (!b)
        return 0;
    b = strchr(b, '\n');
    if (!b)
        return 1;
    /* The first base64 line (70 chars) covers the magic and the cipher name. */
    char chunk[96] = {0};
    size_t n = 0;
    for (const char *p = b + 1; *p && *p != '-' && n < 64; p++)
        if (*p != '\n' && *p != '\r')
            chunk[n++] = *p;
    unsigned char dec[64];
    if (n < 64 || EVP_DecodeBlock(dec, (const unsigned char *)chunk, 64) < 0)
        return 1;
    static const char magic[] = "openssh-key-v1";
    if (memcmp(dec, magic, sizeof magic) != 0)
        return 1;
    const unsigned char *c = dec + sizeof magic;
    size_t cl = (size_t)c[0] << 24 | (size_t)c[1] << 16 | (size_t)c[2] << 8 | c[3];
    return !(cl == 4 && memcmp(c + 4, "none", 4) == 0);
}

/* Wire blob of a .pub file ("type base64 comment") into out; returns its length or -1. */
static long pub_blob(const char *path, unsigned char *out, size_t cap)
{
    size_t len = 0;
    char *t = slurp(path, &len);
    if (!t)
        return -1;
    long n = -1;
    char *sp = strchr(t, ' ');
    if (sp) {
        size_t bl = strcspn(sp + 1, " \t\r\n");
        if (bl % 4 == 0 && bl / 4 * 3 <= cap) {
            n = EVP_DecodeBlock(out, (unsigned char *)sp + 1, (int)bl);
            if (n >= 0 && bl >= 2)
                n -= (sp[bl] == '=') + (sp[bl - 1] == '=');
        }
    }
    free(t);
    return n;
}

/* 1 if IdentitiesOnly allows this agent key (it matches an IdentityFile's .pub). */
static int agent_key_allowed(const struct hostcfg *cfg, const struct libssh2_agent_publickey *id)
{
    if (!cfg->identitiesonly)
        return 1;
    for (int i = 0; i < cfg->n_identityfile; i++) {
        char path[HC_STR + 8];
        unsigned char blob[KEY_MAX];
        snprintf(path, sizeof path, "%s.pub", cfg->identityfile[i]);
        long n = pub_blob(path, blob, sizeof blob);
        if (n > 0 && (size_t)n == id->blob_len && memcmp(blob, id->blob, id->blob_len) == 0)
            return 1;
    }
    return 0;
}

static int try_agent(LIBSSH2_SESSION *s, const struct hostcfg *cfg, const char *agent_sock)
{
    const char *path = NULL;
    if (strcmp(cfg->identityagent, "none") == 0)
        return -1;
    if (cfg->identityagent[0] && strcmp(cfg->identityagent, "SSH_AUTH_SOCK") != 0)
        path = cfg->identityagent;
    else
        path = agent_sock;
    if (!path || !*path)
        return -1;
    LIBSSH2_AGENT *a = libssh2_agent_init(s);
    if (!a)
        return -1;
    int ok = -1;
    libssh2_agent_set_identity_path(a, path);
    if (libssh2_agent_connect(a) == 0 && libssh2_agent_list_identities(a) == 0) {
        struct libssh2_agent_publickey *id = NULL, *prev = NULL;
        while (libssh2_agent_get_identity(a, &id, prev) == 0) {
            prev = id;
            if (!agent_key_allowed(cfg, id))
                continue;
            if (libssh2_agent_userauth(a, cfg->user, id) == 0) {
                ok = 0;
                break;
            }
        }
        libssh2_agent_disconnect(a);
    }
    libssh2_agent_free(a);
    return ok;
}

static int try_files(LIBSSH2_SESSION *s, const struct hostcfg *cfg)
{
    for (int i = 0; i < cfg->n_identityfile; i++) {
        size_t len = 0;
        char *text = slurp(cfg->identityfile[i], &len);
        if (!text)
            continue;
        int enc = auth_key_encrypted(text, len);
        int rc = -1;
        if (!enc)
            rc = libssh2_userauth_publickey_frommemory(s, cfg->user, strlen(cfg->user), NULL, 0,
                                                       text, len, NULL);
        explicit_bzero(text, len);
        free(text);
        if (rc == 0)
            return 0;
    }
    return -1;
}

struct kbd_ctx {
    const struct conn_prompter *pr;
    int failed;
};

static void kbd_cb(const char *name, int name_len, const char *instruction, int instruction_len,
                   int num_prompts, const LIBSSH2_USERAUTH_KBDINT_PROMPT *prompts,
                   LIBSSH2_USERAUTH_KBDINT_RESPONSE *responses, void **abstract)
{
    struct kbd_ctx *k = *abstract;
    (void)name;
    (void)name_len;
    (void)instruction;
    (void)instruction_len;
    for (int i = 0; i < num_prompts; i++) {
        char q[1024], a[1024];
        snprintf(q, sizeof q, "%.*s", (int)prompts[i].length, prompts[i].text);
        responses[i].text = NULL;
        responses[i].length = 0;
        if (k->failed || k->pr->ask(k->pr->ctx, q, prompts[i].echo, a, sizeof a) != 0) {
            k->failed = 1;
            continue;
        }
        responses[i].text = strdup(a);
        responses[i].length = responses[i].text ? (unsigned int)strlen(a) : 0;
        explicit_bzero(a, sizeof a);
    }
}

static int try_kbdint(LIBSSH2_SESSION *s, const struct hostcfg *cfg, const struct conn_prompter *pr)
{
    struct kbd_ctx k = {.pr = pr};
    void **abs = libssh2_session_abstract(s);
    void *saved = *abs;
    *abs = &k;
    int rc = -1;
    for (int t = 0; t < PASSWORD_TRIES && rc != 0 && !k.failed; t++)
        rc = libssh2_userauth_keyboard_interactive(s, cfg->user, kbd_cb);
    *abs = saved;
    return rc == 0 ? 0 : -1;
}

static int try_password(LIBSSH2_SESSION *s, const struct hostcfg *cfg,
                        const struct conn_prompter *pr)
{
    for (int t = 0; t < PASSWORD_TRIES; t++) {
        char q[HC_STR * 2 + 32], a[1024];
        snprintf(q, sizeof q, "%s@%s's password: ", cfg->user, cfg->hostname);
        if (pr->ask(pr->ctx, q, 0, a, sizeof a) != 0)
            return -1;
        int rc = libssh2_userauth_password(s, cfg->user, a);
        explicit_bzero(a, sizeof a);
        if (rc == 0)
            return 0;
    }
    return -1;
}

/* 1 if word is in the comma list. */
static int in_list(const char *list, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == wl && strncmp(p, word, n) == 0)
            return 1;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

int auth_run(LIBSSH2_SESSION *s, const struct hostcfg *cfg, const char *agent_sock,
             const struct conn_prompter *prompter, char *err, size_t errlen)
{
    const char *pref = cfg->preferredauthentications[0]
                           ? cfg->preferredauthentications
                           : "gssapi-with-mic,publickey,keyboard-interactive,password";
    char *methods = libssh2_userauth_list(s, cfg->user, (unsigned int)strlen(cfg->user));
    if (!methods) {
        if (libssh2_userauth_authenticated(s))
            return 0;
        snprintf(err, errlen, "no authentication methods offered");
        return -1;
    }
    char server[512];
    snprintf(server, sizeof server, "%s", methods);
    for (const char *p = pref; *p;) {
        size_t n = strcspn(p, ",");
        char m[64];
        snprintf(m, sizeof m, "%.*s", (int)(n < sizeof m ? n : sizeof m - 1), p);
        p += n;
        if (*p == ',')
            p++;
        if (!in_list(server, m))
            continue;
        if (strcmp(m, "publickey") == 0 && cfg->pubkeyauthentication) {
            if (try_agent(s, cfg, agent_sock) == 0 || try_files(s, cfg) == 0)
                return 0;
        } else if (strcmp(m, "keyboard-interactive") == 0 && cfg->kbdinteractiveauthentication &&
                   prompter && !cfg->batchmode) {
            if (try_kbdint(s, cfg, prompter) == 0)
                return 0;
        } else if (strcmp(m, "password") == 0 && cfg->passwordauthentication && prompter &&
                   !cfg->batchmode) {
            if (try_password(s, cfg, prompter) == 0)
                return 0;
        }
        if (libssh2_userauth_authenticated(s))
            return 0;
    }
    snprintf(err, errlen, "no usable credentials");
    return -1;
}
