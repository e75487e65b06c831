/* Hand-overs remembered per authority, so that a host the real ssh must serve (an RSA key
 * this libssh2 cannot sign with SHA-2, GSSAPI with credentials) is not logged into again and
 * dropped before every fallback. */
#include "pool.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "pool_int.h"
#include "session.h"
#include "words.h"

/* Hosts the real ssh serves for now (an RSA key this libssh2 cannot sign with SHA-2):
 * without this, every session would make and drop a connection before falling back. */
#define STICKY_MAX 64
#define STICKY_SECONDS 600
static struct {
    char token[65]; /* the authority */
    char why[512];
    int gssapi; /* only for sessions with GSSAPIAuthentication on */
    time_t until;
} sticky[STICKY_MAX];

void pool_remember_fallback(const char *token, const char *why, int gssapi)
{
    int pick = 0;
    for (int i = 0; i < STICKY_MAX; i++) {
        if (!strcmp(sticky[i].token, token)) {
            pick = i;
            break;
        }
        if (sticky[i].until < sticky[pick].until)
            pick = i;
    }
    snprintf(sticky[pick].token, sizeof sticky[pick].token, "%s", token);
    snprintf(sticky[pick].why, sizeof sticky[pick].why, "%s", why);
    sticky[pick].gssapi = gssapi;
    sticky[pick].until = time(NULL) + STICKY_SECONDS;
}

const char *pool_remembered(const struct session *s)
{
    time_t now = time(NULL);
    for (int i = 0; i < STICKY_MAX; i++)
        if (sticky[i].until > now && !strcmp(sticky[i].token, s->cfg->token) &&
            (!sticky[i].gssapi || (s->cfg->gssapiauthentication &&
                                   auth_krb5_creds(words_env(s->env, "KRB5CCNAME"), getuid()))))
            return sticky[i].why;
    return NULL;
}
