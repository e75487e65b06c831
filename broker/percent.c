/* ssh's %-tokens for LocalCommand (ssh -G leaves them as written). */
#include "percent.h"

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

/* ssh_connection_hash(): hex SHA-1 of local host name, host, port and remote user. */
static void conn_hash(const char *thishost, const struct hostcfg *c, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char port[16];
    snprintf(port, sizeof port, "%d", c->port);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    out[0] = 0;
    if (m && EVP_DigestInit_ex(m, EVP_sha1(), NULL) &&
        EVP_DigestUpdate(m, thishost, strlen(thishost)) &&
        EVP_DigestUpdate(m, c->hostname, strlen(c->hostname)) &&
        EVP_DigestUpdate(m, port, strlen(port)) && EVP_DigestUpdate(m, c->user, strlen(c->user)) &&
        EVP_DigestFinal_ex(m, md, &n))
        for (unsigned i = 0; i < n && i < 20; i++)
            snprintf(out + 2 * i, 3, "%02x", md[i]);
    EVP_MD_CTX_free(m);
}

int percent_local_command(const struct hostcfg *c, char *out, size_t outlen)
{
    char thishost[256] = "", shorthost[256], hash[41], uid[16], port[16];
    char home[1024] = "", name[256] = "", pwbuf[4096];
    struct passwd pw, *res = NULL;
    if (getpwuid_r(getuid(), &pw, pwbuf, sizeof pwbuf, &res) == 0 && res) {
        snprintf(home, sizeof home, "%s", pw.pw_dir);
        snprintf(name, sizeof name, "%s", pw.pw_name);
    }
    gethostname(thishost, sizeof thishost - 1);
    snprintf(shorthost, sizeof shorthost, "%.*s", (int)strcspn(thishost, "."), thishost);
    conn_hash(thishost, c, hash);
    snprintf(uid, sizeof uid, "%u", (unsigned)getuid());
    snprintf(port, sizeof port, "%d", c->port);
    const char *keyalias = c->hostkeyalias[0] ? c->hostkeyalias : c->host;
    size_t o = 0;
    for (const char *p = c->localcommand; *p; p++) {
        const char *rep = NULL;
        char one[2] = {*p, 0};
        if (*p != '%') {
            rep = one;
        } else {
            switch (*++p) {
            case '%':
                rep = "%";
                break;
            case 'C':
                rep = hash;
                break;
            case 'L':
                rep = shorthost;
                break;
            case 'i':
                rep = uid;
                break;
            case 'k':
                rep = keyalias;
                break;
            case 'l':
                rep = thishost;
                break;
            case 'n':
                rep = c->host;
                break;
            case 'p':
                rep = port;
                break;
            case 'd':
                rep = home;
                break;
            case 'h':
                rep = c->hostname;
                break;
            case 'r':
                rep = c->user;
                break;
            case 'u':
                rep = name;
                break;
            case 'T':
                rep = "NONE";
                break; /* no tun device */
            default:
                return -1; /* ssh: "unknown key", fatal ("" ends it too) */
            }
        }
        size_t n = strlen(rep);
        if (o + n >= outlen)
            return -1;
        memcpy(out + o, rep, n);
        o += n;
    }
    out[o] = 0;
    return 0;
}
