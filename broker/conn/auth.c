/* Authentication in ssh's order: agent, identity files, keyboard-interactive, password. */
#include "auth.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "fatal.h"
#include "hostkey.h"
#include "keyfile.h"
#include "proto.h"
#include "words.h"

/* What auth may ask of the user, and whether it did. */
struct auth_ui {
    const struct conn_prompter *pr; /* NULL: ask nothing (no client, or BatchMode) */
    int asked;                      /* the user answered at least one question */
    int rsa_refused;          /* an RSA key failed, and this libssh2 can only sign it with SHA-1 */
    int krb5;                 /* the user holds Kerberos credentials */
    struct conn_facts *facts; /* where the key that logged in is recorded (may be NULL) */
    int broken; /* the libssh2 error that corrupted the stream (then nothing more is tried:
                   every later call fails too, with other codes), or 0 */
};

/* Whether the last libssh2 call failed because the connection itself broke (the peer
 * went, or the stream is corrupted); a corrupted stream is noted in ui->broken. After a
 * call that reads a key file (key 1), LIBSSH2_ERROR_DECRYPT is the key's (a wrong
 * passphrase) rather than a packet's: the next call on the wire tells. */
static int broke(LIBSSH2_SESSION *s, struct auth_ui *ui, int key)
{
    if (ui->broken)
        return 1;
    char *msg = NULL;
    int rc = libssh2_session_last_error(s, &msg, NULL, 0);
    if (fatal_disconnected()) {
        /* The server said goodbye (MaxAuthTries, LoginGraceTime): whatever libssh2 made of
         * the missing answer, ssh reports the message and ends. */
        ui->broken = LIBSSH2_ERROR_SOCKET_DISCONNECT;
        return 1;
    }
    if (fatal_noted()) {
        /* A packet failed its MAC: libssh2 dropped it (perhaps the answer that logged us
         * in) and said something else, or nothing. */
        ui->broken = fatal_code(s, rc);
        return 1;
    }
    switch (rc) {
    case LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED:
        /* libssh2's publickey call reports any failure to read the answer so, whatever
         * broke: the stream did, in a way fatal_code may still know. */
        if (!msg || strcmp(msg, "Waiting for USERAUTH response") != 0)
            return 0;
        rc = FATAL_UNSAID;
        break;
    case LIBSSH2_ERROR_DECRYPT:
        if (key)
            return 0;
        break;
    case LIBSSH2_ERROR_INVALID_MAC:
    case LIBSSH2_ERROR_OUT_OF_BOUNDARY:
        break;
    case LIBSSH2_ERROR_SOCKET_RECV:
    case LIBSSH2_ERROR_SOCKET_DISCONNECT:
    case LIBSSH2_ERROR_SOCKET_SEND:
        break; /* the server went away: ssh ends with its words, not another login */
    case LIBSSH2_ERROR_TIMEOUT:
        return 1;
    default:
        return 0;
    }
    ui->broken = fatal_code(s, rc);
    return 1;
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
        long n = keyfile_pub_file(path, blob, sizeof blob);
        if (n > 0 && (size_t)n == id->blob_len && memcmp(blob, id->blob, id->blob_len) == 0)
            return 1;
    }
    return 0;
}

/* Note a key offered and not taken (the session that would offer it first would not log in
 * with it either). */
static void note_refused(struct conn_facts *f, const unsigned char *blob, size_t len)
{
    if (f && f->n_refused < CF_MAX_KEYS)
        conn_keyid(blob, len, &f->refused[f->n_refused++]);
}

/* libssh2 before 1.11 signs RSA user keys only with ssh-rsa (SHA-1), which OpenSSH 8.8 and
 * later refuse by default; 1.11 signs them with rsa-sha2-512/256 by itself. */
static int rsa_sha1_only(void)
{
    return engine_old();
}

/* 1 if the key blob is an RSA key ("ssh-rsa" as its type). */
static int blob_is_rsa(const unsigned char *b, size_t len)
{
    char type[64];
    return hostkey_blob_type(b, len, type, sizeof type) == 0 && strcmp(type, "ssh-rsa") == 0;
}

static int try_agent(LIBSSH2_SESSION *s, const struct hostcfg *cfg, const char *agent_sock,
                     struct auth_ui *ui)
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
        struct conn_facts *f = ui->facts;
        if (f) { /* what the agent holds, in its order: sessions of the same agent offer it */
            snprintf(f->agent, sizeof f->agent, "%.255s", path);
            while (f->n_agent_keys < CF_MAX_KEYS && libssh2_agent_get_identity(a, &id, prev) == 0) {
                prev = id;
                conn_keyid(id->blob, id->blob_len, &f->agent_keys[f->n_agent_keys++]);
            }
            id = prev = NULL;
        }
        while (libssh2_agent_get_identity(a, &id, prev) == 0) {
            prev = id;
            if (!agent_key_allowed(cfg, id))
                continue;
            if (libssh2_agent_userauth(a, cfg->user, id) == 0) {
                ok = 0;
                if (ui->facts) {
                    ui->facts->login = LOGIN_KEY;
                    ui->facts->login_by_agent = 1;
                    conn_keyid(id->blob, id->blob_len, &ui->facts->login_key);
                }
                break;
            }
            if (broke(s, ui, 0))
                break;
            note_refused(ui->facts, id->blob, id->blob_len);
            if (blob_is_rsa(id->blob, id->blob_len) && rsa_sha1_only())
                ui->rsa_refused = 1;
        }
        libssh2_agent_disconnect(a);
    }
    libssh2_agent_free(a);
    return ok;
}

/* Sign callback that signs nothing: it is reached only once the server has said it would
 * accept the key (SSH_MSG_USERAUTH_PK_OK), which is all it records. */
static LIBSSH2_USERAUTH_PUBLICKEY_SIGN_FUNC(accepted_cb)
{
    (void)session;
    (void)sig;
    (void)sig_len;
    (void)data;
    (void)data_len;
    *(int *)*abstract = 1;
    return -1;
}

/* Would the server take this key? As ssh, ask before asking the user for a passphrase:
 * 1 yes, 0 no; 1 too when the public key is unknown (a PEM key without its .pub file: ssh
 * asks first too). */
static int server_accepts(LIBSSH2_SESSION *s, const struct hostcfg *cfg, const char *keyfile,
                          const char *text)
{
    unsigned char blob[KEY_MAX];
    long n = keyfile_public(keyfile, text, blob, sizeof blob);
    if (n <= 0)
        return 1;
    int ok = 0;
    void *abs = &ok;
    libssh2_userauth_publickey(s, cfg->user, blob, (size_t)n, accepted_cb, &abs);
    return ok;
}

/* An encrypted key: ask its passphrase (ssh's prompt, NumberOfPasswordPrompts times, with
 * the file's name as ssh shows it, from shown on); *refused when the server said it would
 * not take it. */
static int try_encrypted(LIBSSH2_SESSION *s, const struct hostcfg *cfg, const char *keyfile,
                         int shown, const char *text, size_t len, struct auth_ui *ui, int *refused)
{
    *refused = 0;
    if (!ui->pr || cfg->batchmode)
        return -1;
    if (!server_accepts(s, cfg, keyfile, text)) {
        *refused = 1;
        return -1;
    }
    for (int t = 0; t < cfg->numberofpasswordprompts; t++) {
        char q[HC_STR + 64], a[1024];
        snprintf(q, sizeof q, "Enter passphrase for key '%s': ", keyfile + shown);
        if (ui->pr->ask(ui->pr->ctx, q, 0, a, sizeof a) != 0)
            return -1;
        ui->asked = 1;
        if (!a[0]) { /* an empty answer skips the key, as in ssh */
            explicit_bzero(a, sizeof a);
            return -1;
        }
        int rc = libssh2_userauth_publickey_frommemory(s, cfg->user, strlen(cfg->user), NULL, 0,
                                                       text, len, a);
        explicit_bzero(a, sizeof a);
        if (rc == 0)
            return 0;
        /* The server said it takes this key, so a failure is most likely a wrong
         * passphrase (libssh2's code for it varies by key format): ask again, unless the
         * connection itself broke. */
        if (broke(s, ui, 1))
            return -1;
    }
    return -1;
}

/* 1 if the identity file holds an RSA key (its .pub, its openssh-key-v1 public half, or a
 * PEM RSA header tell). */
static int key_is_rsa(const char *keyfile, const char *text)
{
    unsigned char blob[KEY_MAX];
    long n = keyfile_public(keyfile, text, blob, sizeof blob);
    if (n > 0)
        return blob_is_rsa(blob, (size_t)n);
    return strstr(text, "BEGIN RSA PRIVATE KEY") != NULL;
}

/* An identity file offered: the key that logged in (ok), or one not taken (refused; a key
 * that was only skipped, such as an encrypted one nobody could unlock, is neither). */
static void record_file(struct conn_facts *f, const char *keyfile, const char *text, int ok,
                        int refused)
{
    unsigned char blob[KEY_MAX];
    long n = f && (ok || refused) ? keyfile_public(keyfile, text, blob, sizeof blob) : -1;
    if (!f || (!ok && n <= 0))
        return;
    if (!ok) {
        note_refused(f, blob, (size_t)n);
        return;
    }
    f->login_by_agent = 0;
    if (n > 0) {
        f->login = LOGIN_KEY;
        conn_keyid(blob, (size_t)n, &f->login_key);
    } else {
        f->login = LOGIN_FILE;
        snprintf(f->login_file, sizeof f->login_file, "%s", keyfile);
    }
}

int auth_krb5_creds(const char *krb5cc, uid_t uid)
{
    char path[HC_STR];
    struct stat st;
    if (!krb5cc || !*krb5cc) {
        snprintf(path, sizeof path, "/tmp/krb5cc_%u", (unsigned)uid);
        return stat(path, &st) == 0;
    }
    const char *colon = strchr(krb5cc, ':');
    if (krb5cc[0] != '/' && colon) {
        if ((size_t)(colon - krb5cc) != 4 || strncmp(krb5cc, "FILE", 4) != 0)
            return 1; /* KEYRING:, KCM:, DIR:, MEMORY:, ...: held elsewhere, counts */
        krb5cc = colon + 1;
    }
    return *krb5cc && stat(krb5cc, &st) == 0;
}

static int try_files(LIBSSH2_SESSION *s, const struct hostcfg *cfg, struct auth_ui *ui)
{
    for (int i = 0; i < cfg->n_identityfile; i++) {
        size_t len = 0;
        char *text = keyfile_read(cfg->identityfile[i], &len);
        if (!text)
            continue;
        int rc = -1, refused = 1;
        if (keyfile_encrypted(text, len))
            rc = try_encrypted(s, cfg, cfg->identityfile[i], cfg->identityfile_shown[i], text, len,
                               ui, &refused);
        else
            rc = libssh2_userauth_publickey_frommemory(s, cfg->user, strlen(cfg->user), NULL, 0,
                                                       text, len, NULL);
        if (rc != 0 && broke(s, ui, 1)) {
            explicit_bzero(text, len);
            free(text);
            return -1;
        }
        if (rc != 0 && rsa_sha1_only() && key_is_rsa(cfg->identityfile[i], text))
            ui->rsa_refused = 1;
        record_file(ui->facts, cfg->identityfile[i], text, rc == 0, rc != 0 && refused);
        explicit_bzero(text, len);
        free(text);
        if (rc == 0)
            return 0;
    }
    return -1;
}

struct kbd_ctx {
    struct auth_ui *ui;
    const struct hostcfg *cfg;
    int failed;
};

static void kbd_cb(const char *name, int name_len, const char *instruction, int instruction_len,
                   int num_prompts, const LIBSSH2_USERAUTH_KBDINT_PROMPT *prompts,
                   LIBSSH2_USERAUTH_KBDINT_RESPONSE *responses, void **abstract)
{
    struct kbd_ctx *k = *abstract;
    const struct conn_prompter *pr = k->ui->pr;
    /* ssh shows the request's name and instruction, each on its own line, if any. */
    char head[1024];
    snprintf(head, sizeof head, "%.*s%s%.*s%s", name_len, name, name_len > 0 ? "\n" : "",
             instruction_len, instruction, instruction_len > 0 ? "\n" : "");
    if (head[0] && pr->say)
        pr->say(pr->ctx, head);
    for (int i = 0; i < num_prompts; i++) {
        char q[1024 + HC_STR * 2], a[1024];
        /* As OpenSSH 8.5 and later: "(user@host) " before each prompt. */
        snprintf(q, sizeof q, "(%s@%s) %.*s", k->cfg->user,
                 k->cfg->hostkeyalias[0] ? k->cfg->hostkeyalias : k->cfg->hostname,
                 (int)prompts[i].length, prompts[i].text);
        responses[i].text = NULL;
        responses[i].length = 0;
        if (k->failed || pr->ask(pr->ctx, q, prompts[i].echo, a, sizeof a) != 0) {
            k->failed = 1;
            continue;
        }
        k->ui->asked = 1;
        responses[i].text = strdup(a);
        responses[i].length = responses[i].text ? (unsigned int)strlen(a) : 0;
        explicit_bzero(a, sizeof a);
    }
}

static int try_kbdint(LIBSSH2_SESSION *s, const struct hostcfg *cfg, struct auth_ui *ui)
{
    struct kbd_ctx k = {.ui = ui, .cfg = cfg};
    void **abs = libssh2_session_abstract(s);
    void *saved = *abs;
    *abs = &k;
    int rc = -1;
    for (int t = 0; t < cfg->numberofpasswordprompts && rc != 0 && !k.failed; t++)
        if ((rc = libssh2_userauth_keyboard_interactive(s, cfg->user, kbd_cb)) != 0 &&
            broke(s, ui, 0))
            break;
    *abs = saved;
    return rc == 0 ? 0 : -1;
}

static int try_password(LIBSSH2_SESSION *s, const struct hostcfg *cfg, struct auth_ui *ui)
{
    const struct conn_prompter *pr = ui->pr;
    for (int t = 0; t < cfg->numberofpasswordprompts; t++) {
        char q[HC_STR * 2 + 32], a[1024];
        if (t > 0 && pr->say)
            pr->say(pr->ctx, "Permission denied, please try again.\r\n");
        snprintf(q, sizeof q, "%s@%s's password: ", cfg->user, cfg->hostname);
        if (pr->ask(pr->ctx, q, 0, a, sizeof a) != 0)
            return -1;
        ui->asked = 1;
        int rc = libssh2_userauth_password(s, cfg->user, a);
        explicit_bzero(a, sizeof a);
        if (rc == 0)
            return 0;
        if (broke(s, ui, 0))
            return -1;
    }
    return -1;
}

/* Try the methods of pref that server lists, in pref's order; 0 authenticated, 1 a method
 * was tried and failed (perhaps with partial success), -1 nothing could be tried, 2 GSSAPI
 * comes next and would be used (the real ssh must log in). */
static int one_round(LIBSSH2_SESSION *s, const struct hostcfg *cfg, const char *agent_sock,
                     const char *pref, const char *server, struct auth_ui *ui)
{
    int tried = 0;
    for (const char *p = pref; *p;) {
        size_t n = strcspn(p, ",");
        char m[64];
        snprintf(m, sizeof m, "%.*s", (int)(n < sizeof m ? n : sizeof m - 1), p);
        p += n;
        if (*p == ',')
            p++;
        if (!words_in_list(server, m, strlen(m)))
            continue;
        if (strcmp(m, "gssapi-with-mic") == 0 && cfg->gssapiauthentication && ui->krb5)
            return 2; /* ssh would try it before anything below: it must serve this */
        int rc = -1;
        if (strcmp(m, "publickey") == 0 && cfg->pubkeyauthentication) {
            rc = try_agent(s, cfg, agent_sock, ui) == 0 || try_files(s, cfg, ui) == 0 ? 0 : -1;
            tried = 1;
        } else if (strcmp(m, "keyboard-interactive") == 0 && cfg->kbdinteractiveauthentication &&
                   ui->pr) {
            rc = try_kbdint(s, cfg, ui);
            tried = 1;
        } else if (strcmp(m, "password") == 0 && cfg->passwordauthentication && ui->pr) {
            rc = try_password(s, cfg, ui);
            tried = 1;
        }
        if (rc == 0 || libssh2_userauth_authenticated(s))
            return 0;
        if (ui->broken)
            return -1;
    }
    return tried ? 1 : -1;
}

int auth_run(LIBSSH2_SESSION *s, const struct hostcfg *cfg, const char *agent_sock,
             const char *krb5cc, const struct conn_prompter *prompter, struct conn_facts *facts,
             char *err, size_t errlen)
{
    const char *pref = cfg->preferredauthentications[0]
                           ? cfg->preferredauthentications
                           : "gssapi-with-mic,publickey,keyboard-interactive,password";
    struct auth_ui ui = {.pr = cfg->batchmode ? NULL : prompter, .facts = facts};
    /* As ssh: gssapi-with-mic matters only with the option on and credentials held. */
    ui.krb5 = cfg->gssapiauthentication && auth_krb5_creds(krb5cc, getuid());
    if (facts)
        facts->login = LOGIN_NONE;
    char server[512] = "", prev[512] = "";
    char *last = NULL; /* the list libssh2 returned last time */
    for (int round = 0; round < 8; round++) {
        /* libssh2 1.10 does not report "partial success", so after a round that failed the
         * list is asked again (one "none" request, which sshd counts against MaxAuthTries):
         * a different list means a method counted, as with AuthenticationMethods
         * publickey,keyboard-interactive, and the next round tries what is left. */
        char *methods = libssh2_userauth_list(s, cfg->user, (unsigned int)strlen(cfg->user));
        /* libssh2 1.10 replaces its pointer to the previous list without freeing it (it
         * frees only the last one, with the session): free the one it let go. */
        if (last)
            libssh2_free(s, last);
        last = methods;
        if (!methods) {
            if (libssh2_userauth_authenticated(s))
                return 0;
            if (broke(s, &ui, 0) || round > 0)
                break;
            snprintf(err, errlen, "no authentication methods offered");
            return -1;
        }
        /* The banner comes with the answer to the first request, before any prompt. */
        if (round == 0 && facts && engine_banner(s, facts->banner, sizeof facts->banner) && ui.pr &&
            ui.pr->say && cfg->loglevel >= 3)
            facts->banner_said = ui.pr->say(ui.pr->ctx, facts->banner) == 0;
        snprintf(server, sizeof server, "%s", methods);
        if (!strcmp(server, prev))
            break; /* nothing counted in the last round */
        snprintf(prev, sizeof prev, "%s", server);
        int rc = one_round(s, cfg, agent_sock, pref, server, &ui);
        if (rc == 0)
            return 0;
        if (rc == 2) {
            snprintf(err, errlen,
                     "GSSAPIAuthentication: the server offers gssapi-with-mic and Kerberos "
                     "credentials are present");
            return -4;
        }
        if (rc < 0)
            break;
    }
    if (ui.broken) {
        /* Not the login that failed but the stream: leave its code for the caller. */
        snprintf(err, errlen, "the stream broke during the login (%d)", ui.broken);
        libssh2_session_set_last_error(s, ui.broken, err);
        return -5;
    }
    if (ui.asked) {
        /* The user answered and it was not enough: running ssh would only ask again. */
        snprintf(err, errlen, "%s@%s: Permission denied (%s).", cfg->user, cfg->hostname, server);
        return -2;
    }
    if (ui.rsa_refused) {
        snprintf(err, errlen,
                 "RSA key refused: libssh2 %s signs RSA keys with SHA-1 (ssh-rsa) only, "
                 "which the server does not take",
                 libssh2_version(0));
        return -3;
    }
    snprintf(err, errlen, "no usable credentials");
    return -1;
}
