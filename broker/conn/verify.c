/* Whether a server's host key is let in, as ssh's verify_host_key: SSHFP, known_hosts,
 * KnownHostsCommand, StrictHostKeyChecking (asking the user, adding a new key). */
#include "verify.h"

#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "fingerprint.h"
#include "hostkey.h"
#include "khcmd.h"
#include "sshfp.h"

/* Ask "The authenticity of host ..." as ssh does (with the picture under VisualHostKey and
 * the SSHFP verdict under VerifyHostKeyDNS: dns 1 matching, else not); 1 yes, 0 no, -1
 * cannot ask. */
static int ask_unknown(const unsigned char *blob, size_t len, int fd, const struct hostcfg *cfg,
                       const struct conn_prompter *pr, const char *name, const char *type, int dns)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char ntop[NI_MAXHOST] = "?", ip[NI_MAXHOST + 16];
    int port = cfg->port;
    int ipsock = getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
                 (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
    if (ipsock)
        getnameinfo((struct sockaddr *)&ss, sl, ntop, sizeof ntop, NULL, 0, NI_NUMERICHOST);
    if (!ipsock) /* through a jump host or a ProxyCommand: ssh's own words */
        snprintf(ip, sizeof ip, "<no hostip for proxy command>");
    else if (port != 22 && port != 0)
        snprintf(ip, sizeof ip, "[%s]:%d", ntop, port);
    else
        snprintf(ip, sizeof ip, "%s", ntop);
    char fp[80], art[512] = "", dnsline[64] = "";
    fp_sha256(blob, len, fp, sizeof fp);
    if (cfg->visualhostkey && fp_randomart(blob, len, art, sizeof art - 1) == 0)
        strcat(art, "\n");
    if (cfg->verifyhostkeydns)
        snprintf(dnsline, sizeof dnsline, "%s host key fingerprint found in DNS.\n",
                 dns == 1 ? "Matching" : "No matching");
    char q[2048], a[256];
    snprintf(q, sizeof q,
             "The authenticity of host '%.200s (%s)' can't be established.\n"
             "%s key fingerprint is %s.\n%s%s"
             "This key is not known by any other names.\n"
             "Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
             name, ip, fp_type_label(type), fp, art, dnsline);
    for (;;) {
        if (pr->ask(pr->ctx, q, 1, a, sizeof a) != 0)
            return -1;
        char want[80], *p = a + strspn(a, " \t");
        p[strcspn(p, " \t\r\n")] = '\0';
        snprintf(want, sizeof want, "%s", fp);
        if (strcasecmp(p, "yes") == 0 || strcmp(p, want) == 0)
            return 1;
        if (!*p || strcasecmp(p, "no") == 0)
            return 0;
        snprintf(q, sizeof q, "Please type 'yes', 'no' or the fingerprint: ");
    }
}

/* VerifyHostKeyDNS as ssh's verify_host_key: 1 when a DNSSEC-validated SSHFP record lets
 * the key in (yes only); else 0 with *dns (1 a record matches, 0 none or no answer); -1
 * when records exist and none matches (the real ssh warns and goes on: hand over). */
static int check_dns(const struct hostcfg *cfg, const unsigned char *blob, size_t len, int *dns)
{
    char host[HC_STR];
    int flags = 0;
    *dns = 0;
    if (!cfg->verifyhostkeydns)
        return 0;
    snprintf(host, sizeof host, "%s", cfg->hostname);
    for (char *p = host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (sshfp_verify(host, blob, len, &flags) < 0 || !(flags & SSHFP_FOUND))
        return 0; /* no answer: known_hosts decides, silently, as in ssh */
    if (!(flags & SSHFP_MATCH))
        return -1;
    *dns = 1;
    return cfg->verifyhostkeydns == 1 && (flags & SSHFP_SECURE) ? 1 : 0;
}

/* known_hosts (and KnownHostsCommand's lines) for the key; into f what let it in. */
static enum hk_result known(const struct hostcfg *cfg, char (*files)[HC_STR], int nfiles,
                            const char *name, const unsigned char *blob, size_t len,
                            const struct conn_prompter *pr, struct conn_facts *f, char *err,
                            size_t errlen)
{
    if (!cfg->knownhostscommand[0])
        return hostkey_check(files, nfiles, name, blob, len);
    char *extra = NULL;
    if (khcmd_run(cfg, pr ? pr->env : NULL, pr ? pr->cwd : NULL,
                  pr && pr->errfd > 2 ? pr->errfd : -1, name, blob, len, &extra, err, errlen) < 0)
        return (enum hk_result) - 1;
    enum hk_result r = hostkey_check_extra(files, nfiles, extra, name, blob, len);
    free(extra);
    if (r == HK_MATCH && hostkey_check(files, nfiles, name, blob, len) != HK_MATCH)
        f->by_khc = khcmd_id(cfg, pr ? pr->env : NULL, name, blob, len, f->khc) == 0;
    return r;
}

enum conn_status verify_hostkey(LIBSSH2_SESSION *s, int fd, const struct hostcfg *cfg,
                                char (*files)[HC_STR], int nfiles, const char *name,
                                const struct conn_prompter *pr, struct conn_facts *f, char *err,
                                size_t errlen)
{
    size_t len = 0;
    int ktype = 0, dns = 0;
    const unsigned char *blob = (const unsigned char *)libssh2_session_hostkey(s, &len, &ktype);
    char type[64];
    if (!blob || hostkey_blob_type(blob, len, type, sizeof type) < 0) {
        snprintf(err, errlen, "no host key from server");
        return CONN_FALLBACK;
    }
    switch (check_dns(cfg, blob, len, &dns)) {
    case 1:
        f->by_dns = 1;
        return CONN_OK;
    case -1:
        snprintf(err, errlen, "the SSHFP records of %.200s do not match its host key", name);
        return CONN_FALLBACK;
    }
    switch (known(cfg, files, nfiles, name, blob, len, pr, f, err, errlen)) {
    case HK_MATCH:
        f->hk_known = 1;
        return CONN_OK;
    case HK_REVOKED:
        snprintf(err, errlen, "host key for %.200s is revoked", name);
        return CONN_FALLBACK;
    case HK_CHANGED:
        snprintf(err, errlen, "host key for %.200s has changed", name);
        return CONN_FALLBACK;
    case HK_CA_ONLY:
        snprintf(err, errlen, "host %.200s is known by a certificate authority only", name);
        return CONN_FALLBACK;
    case HK_UNKNOWN:
        break;
    default:
        return CONN_FALLBACK; /* KnownHostsCommand did not run or failed: err says why */
    }
    enum hc_strict st = cfg->stricthostkeychecking;
    if (st == HC_STRICT_ASK) {
        int yes = pr && !cfg->batchmode ? ask_unknown(blob, len, fd, cfg, pr, name, type, dns) : -1;
        if (yes < 0) {
            snprintf(err, errlen, "host key for %.200s is unknown", name);
            return CONN_FALLBACK;
        }
        if (yes == 0) {
            snprintf(err, errlen, "Host key verification failed.");
            return CONN_FATAL;
        }
    } else if (st == HC_STRICT_YES || cfg->n_userknownhostsfile == 0) {
        snprintf(err, errlen, "host key for %.200s is unknown", name);
        return CONN_FALLBACK;
    }
    /* accept-new, no (new keys only; a changed key was refused above), or a yes answer. */
    if (cfg->n_userknownhostsfile == 0 ||
        hostkey_append(cfg->userknownhostsfile[0], name, blob, len, cfg->hashknownhosts, err,
                       errlen) < 0) {
        if (cfg->n_userknownhostsfile == 0)
            snprintf(err, errlen, "no known_hosts file to add %.200s to", name);
        return CONN_FALLBACK;
    }
    if (cfg->loglevel >= 3 && pr && pr->say) {
        char msg[HC_STR + 128];
        fp_added_line(name, blob, len, msg, sizeof msg);
        pr->say(pr->ctx, msg);
    }
    return CONN_OK;
}
