/* Fingerprints and randomart against the real ssh-keygen -lv; ssh's %-tokens for
 * ProxyCommand and KnownHostsCommand; SSHFP answers (built here) against a key. */
#include <arpa/nameser.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fingerprint.h"
#include "khcmd.h"
#include "percent.h"
#include "proto.h"
#include "proxy.h"
#include "sshfp.h"

#include "check.h"

static char dir[64];

/* A new key of type (and bits, 0 for the default) and its public blob; 0 or -1. */
static int make_key(const char *name, const char *type, int bits, unsigned char *blob, size_t *len)
{
    char cmd[512], path[256], t[64], b64[4096];
    snprintf(cmd, sizeof cmd, "ssh-keygen -q -t %s %s%.0d -N '' -C c -f %s/%s >/dev/null", type,
             bits ? "-b " : "", bits, dir, name);
    if (system(cmd) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s.pub", dir, name);
    FILE *f = fopen(path, "r");
    if (!f || fscanf(f, "%63s %4095s", t, b64) != 2)
        return -1;
    fclose(f);
    size_t n = strlen(b64);
    int l = EVP_DecodeBlock(blob, (unsigned char *)b64, (int)n);
    *len = (size_t)(l - (b64[n - 1] == '=') - (b64[n - 2] == '='));
    return 0;
}

/* What ssh-keygen -lv prints for the key: the fingerprint line and the picture. */
static void keygen_lv(const char *name, char *fpline, size_t fl, char *art, size_t al)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ssh-keygen -lv -E sha256 -f %s/%s.pub", dir, name);
    FILE *p = popen(cmd, "r");
    size_t n = 0;
    fpline[0] = art[0] = '\0';
    if (!p)
        return;
    if (!fgets(fpline, (int)fl, p))
        fpline[0] = '\0';
    n = fread(art, 1, al - 1, p);
    art[n] = '\0';
    while (n && art[n - 1] == '\n')
        art[--n] = '\0';
    pclose(p);
}

static void check_key(const char *name, const char *type, int bits)
{
    unsigned char blob[4096];
    size_t len = 0;
    if (make_key(name, type, bits, blob, &len) < 0) {
        CHECK(0, "ssh-keygen -t %s", type);
        return;
    }
    char fpline[512], want[1024], got[1024], fp[80], visual[2048];
    keygen_lv(name, fpline, sizeof fpline, want, sizeof want);
    fp_sha256(blob, len, fp, sizeof fp);
    CHECK(strstr(fpline, fp) != NULL, "%s fingerprint %s in \"%s\"", type, fp, fpline);
    char bitsword[32];
    snprintf(bitsword, sizeof bitsword, "%u ", fp_key_bits(blob, len));
    CHECK(!strncmp(fpline, bitsword, strlen(bitsword)), "%s bits %s in \"%s\"", type, bitsword,
          fpline);
    CHECK(fp_randomart(blob, len, got, sizeof got) == 0 && !strcmp(got, want),
          "%s randomart:\n%s\nwant:\n%s", type, got, want);
    CHECK(fp_visual_text(blob, len, visual, sizeof visual) == 0 &&
              !strncmp(visual, "Host key fingerprint is SHA256:", 31) && strstr(visual, want) &&
              !strcmp(visual + strlen(visual) - 2, "\r\n"),
          "%s visual text", type);
}

static void test_percent(void)
{
    struct pct t[] = {{'h', "host.example"}, {'p', "2222"}, {'r', "bob"}};
    char out[256], err[256];
    CHECK(pct_expand("nc %h %p %%r %r", t, 3, NULL, out, sizeof out, err, sizeof err) == 0 &&
              !strcmp(out, "nc host.example 2222 %r bob"),
          "plain tokens: \"%s\"", out);
    CHECK(pct_expand("nc %x", t, 3, NULL, out, sizeof out, err, sizeof err) < 0 &&
              !strcmp(err, "percent_expand: unknown key %x"),
          "unknown key: \"%s\"", err);
    CHECK(pct_expand("a%", t, 3, NULL, out, sizeof out, err, sizeof err) < 0, "trailing %%");
    char *env[] = {"HOME=/h", NULL};
    CHECK(pct_expand("${HOME}/x %h", t, 3, env, out, sizeof out, err, sizeof err) == 0 &&
              !strcmp(out, "/h/x host.example"),
          "${VAR}: \"%s\"", out);
    CHECK(pct_expand("${NOPE}", t, 3, env, out, sizeof out, err, sizeof err) < 0 &&
              strstr(err, "${NOPE}"),
          "missing ${VAR}");
    CHECK(pct_expand("${HOME}", t, 3, NULL, out, sizeof out, err, sizeof err) == 0 &&
              !strcmp(out, "${HOME}"),
          "no dollar expansion without env");
    char small[8];
    CHECK(pct_expand("%h", t, 3, NULL, small, sizeof small, err, sizeof err) < 0, "too long");

    static struct hostcfg c;
    memset(&c, 0, sizeof c);
    snprintf(c.host, sizeof c.host, "lab");
    snprintf(c.hostname, sizeof c.hostname, "10.0.0.1");
    snprintf(c.user, sizeof c.user, "alice");
    c.port = 2200;
    snprintf(c.proxycommand, sizeof c.proxycommand, "nc %%h %%p # %%n %%k %%r %%%%");
    CHECK(proxy_expand(&c, out, sizeof out, err, sizeof err) == 0 &&
              !strcmp(out, "exec nc 10.0.0.1 2200 # lab lab alice %"),
          "ProxyCommand: \"%s\"", out);
    snprintf(c.hostkeyalias, sizeof c.hostkeyalias, "alias");
    CHECK(proxy_expand(&c, out, sizeof out, err, sizeof err) == 0 &&
              !strcmp(out, "exec nc 10.0.0.1 2200 # lab alias alice %"),
          "ProxyCommand %%k is HostKeyAlias: \"%s\"", out);
    snprintf(c.proxycommand, sizeof c.proxycommand, "nc %%d");
    CHECK(proxy_expand(&c, out, sizeof out, err, sizeof err) < 0, "ProxyCommand has no %%d");

    /* KnownHostsCommand: words split as argv_split, tokens after the first word only. */
    unsigned char blob[4096];
    size_t len = 0;
    char **argv = NULL, fp[80];
    if (make_key("khc", "ed25519", 0, blob, &len) < 0)
        return;
    fp_sha256(blob, len, fp, sizeof fp);
    snprintf(c.knownhostscommand, sizeof c.knownhostscommand,
             "/bin/%%h 'a b' \"%%H\" %%I %%t %%f x\\ y %%u%%r %%p ${HOME}");
    CHECK(khcmd_argv(&c, env, "[10.0.0.1]:2200", blob, len, &argv, err, sizeof err) == 0,
          "khcmd_argv: %s", err);
    if (argv) {
        const char *want[] = {
            "/bin/%h", "a b", "[10.0.0.1]:2200", "HOSTNAME", "ssh-ed25519", fp, "x y", NULL,
            "2200",    "/h"};
        for (int i = 0; i < 10; i++)
            CHECK(argv[i] && (!want[i] || !strcmp(argv[i], want[i])), "KHC word %d: \"%s\"", i,
                  argv[i] ? argv[i] : "(none)");
        CHECK(argv[7] && strstr(argv[7], "alice") && argv[10] == NULL, "KHC %%u%%r, end");
        proto_strv_free(argv);
    }
    snprintf(c.knownhostscommand, sizeof c.knownhostscommand, "/bin/echo 'open");
    CHECK(khcmd_argv(&c, env, "x", blob, len, &argv, err, sizeof err) < 0 &&
              strstr(err, "invalid quotes"),
          "KHC unbalanced quote");
    /* Running it: its output is what it printed; a failing command fails. */
    char *text = NULL;
    snprintf(c.knownhostscommand, sizeof c.knownhostscommand, "/bin/echo %%H %%t %%K");
    CHECK(khcmd_run(&c, env, "/", -1, "[10.0.0.1]:2200", blob, len, &text, err, sizeof err) == 0 &&
              text && !strncmp(text, "[10.0.0.1]:2200 ssh-ed25519 AAAA", 32),
          "KHC output: %s", text ? text : err);
    free(text);
    snprintf(c.knownhostscommand, sizeof c.knownhostscommand, "/bin/false");
    CHECK(khcmd_run(&c, env, "/", -1, "x", blob, len, &text, err, sizeof err) < 0 &&
              !strcmp(err, "KnownHostsCommand failed"),
          "KHC failing: %s", err);
    snprintf(c.knownhostscommand, sizeof c.knownhostscommand, "echo relative");
    CHECK(khcmd_run(&c, env, "/", -1, "x", blob, len, &text, err, sizeof err) < 0,
          "KHC not an absolute path");
}

/* A DNS answer for name with SSHFP records (type, hash, digest); ad sets the AD bit. */
static int answer(unsigned char *out, int ad, const unsigned char (*rr)[40], const int *rrlen,
                  int n)
{
    int o = 12;
    memset(out, 0, 12);
    out[2] = 0x81;                                    /* QR, RD */
    out[3] = (unsigned char)(0x80 | (ad ? 0x20 : 0)); /* RA, AD */
    out[5] = 1;                                       /* one question */
    out[7] = (unsigned char)n;                        /* answers */
    static const unsigned char qname[] = "\3lab\7example\0";
    memcpy(out + o, qname, sizeof qname - 1);
    o += (int)sizeof qname - 1;
    out[o++] = 0, out[o++] = 44, out[o++] = 0, out[o++] = 1;
    for (int i = 0; i < n; i++) {
        out[o++] = 0xc0, out[o++] = 12; /* the question's name */
        out[o++] = 0, out[o++] = 44, out[o++] = 0, out[o++] = 1;
        out[o++] = 0, out[o++] = 0, out[o++] = 0, out[o++] = 60;
        out[o++] = 0, out[o++] = (unsigned char)rrlen[i];
        memcpy(out + o, rr[i], (size_t)rrlen[i]);
        o += rrlen[i];
    }
    return o;
}

static void test_sshfp(void)
{
    unsigned char blob[4096], other[4096], msg[1024], rr[2][40];
    size_t len = 0, olen = 0;
    unsigned int hl = 0;
    int rl[2], flags = 0;
    if (make_key("dns", "ed25519", 0, blob, &len) < 0 ||
        make_key("dns2", "ed25519", 0, other, &olen) < 0)
        return;
    rr[0][0] = 4, rr[0][1] = 2; /* Ed25519, SHA-256 */
    EVP_Digest(blob, len, rr[0] + 2, &hl, EVP_sha256(), NULL);
    rl[0] = 2 + (int)hl;
    int n = answer(msg, 0, rr, rl, 1);
    CHECK(sshfp_verify_answer(msg, n, blob, len, &flags) == 0 &&
              flags == (SSHFP_FOUND | SSHFP_MATCH),
          "matching, insecure: flags %d", flags);
    n = answer(msg, 1, rr, rl, 1);
    CHECK(sshfp_verify_answer(msg, n, blob, len, &flags) == 0 &&
              flags == (SSHFP_FOUND | SSHFP_MATCH | SSHFP_SECURE),
          "matching, validated: flags %d", flags);
    CHECK(sshfp_verify_answer(msg, n, other, olen, &flags) == 0 &&
              flags == (SSHFP_FOUND | SSHFP_SECURE),
          "another key: no match, flags %d", flags);
    rr[1][0] = 4, rr[1][1] = 2;
    EVP_Digest(other, olen, rr[1] + 2, &hl, EVP_sha256(), NULL);
    rl[1] = rl[0];
    n = answer(msg, 0, rr, rl, 2);
    CHECK(sshfp_verify_answer(msg, n, blob, len, &flags) == 0 && flags == SSHFP_FOUND,
          "one match and one failure: no match (as dns.c), flags %d", flags);
    n = answer(msg, 0, rr, rl, 0);
    CHECK(sshfp_verify_answer(msg, n, blob, len, &flags) < 0, "no records: no answer");
    CHECK(sshfp_verify("127.0.0.1", blob, len, &flags) < 0, "numeric host: no look-up");
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_fp.%d", (int)getpid());
    if (mkdir(dir, 0700) < 0)
        return 2;
    check_key("ed", "ed25519", 0);
    check_key("rsa", "rsa", 3072);
    check_key("rsa1", "rsa", 1025);
    check_key("ec256", "ecdsa", 256);
    check_key("ec384", "ecdsa", 384);
    check_key("ec521", "ecdsa", 521);
    test_percent();
    test_sshfp();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 2;
    printf("fingerprint: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
