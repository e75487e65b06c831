/* Authentication in ssh's order: agent, identity files, keyboard-interactive, password. */
#include "auth.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth_int.h"
#include "engine.h"
#include "fatal.h"
#include "hostkey.h"
#include "keyfile.h"
#include "proto.h"
#include "words.h"

/* Whether the last libssh2 call failed because the connection itself broke (the peer
 * went, or the stream is corrupted); a corrupted stream is noted in ui->broken. After a
 * call that reads a key file (key 1), LIBSSH2_ERROR_DECRYPT is the key's (a wrong
 * passphrase) rather than a packet's: the next call on the wire tells. */
int auth_broke(LIBSSH2_SESSION *s, struct auth_ui *ui, int key)
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
            auth_broke(s, ui, 0))
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
        if (auth_broke(s, ui, 0))
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
            rc = pubkey_try(s, cfg, agent_sock, ui);
            tried = 1;
        } else if (strcmp(m, "keyboard-interactive") == 0 && cfg->kbdinteractiveauthentication &&
                   ui->pr) {
            rc = try_kbdint(s, cfg, ui);
            tried = 1;
        } else if (strcmp(m, "password") == 0 && cfg->passwordauthentication && ui->pr) {
            rc = try_password(s, cfg, ui);
            tried = 1;
        } else if ((m[0] == 'k' && cfg->kbdinteractiveauthentication) ||
                   (m[0] == 'p' && strcmp(m, "password") == 0 && cfg->passwordauthentication)) {
            ui->skipped |= !cfg->batchmode; /* ssh would ask: it is not the broker's to deny */
        }
        if (rc == 0 || libssh2_userauth_authenticated(s))
            return 0;
        if (ui->broken || ui->cert_old)
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
            if (auth_broke(s, &ui, 0) || round > 0)
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
    if (ui.cert_old) {
        snprintf(err, errlen, "user certificate: libssh2 %s cannot sign it", libssh2_version(0));
        return -3;
    }
    if (ui.asked || (ui.cert_refused && !ui.skipped)) {
        /* The user answered and it was not enough: running ssh would only ask again. A
         * certificate the server refused (expired, not yet valid...), with nothing left
         * that ssh could offer and the broker could not: ssh fails alike. */
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
