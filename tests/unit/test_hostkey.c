/* known_hosts: patterns, port form, hashed entries (from the real ssh-keygen -H), @revoked,
 * @cert-authority, garbage lines, appending (checked with the real ssh-keygen -F). */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostkey.h"

#include "check.h"

static char dir[64];

struct key {
    char type[64];
    char b64[2048];
    unsigned char blob[2048];
    size_t len;
};

static int run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Make a key with the real ssh-keygen and load its public half. */
static void make_key(const char *name, const char *type, struct key *k)
{
    char cmd[512], path[256];
    snprintf(cmd, sizeof cmd, "ssh-keygen -q -t %s -N '' -f %s/%s >/dev/null", type, dir, name);
    if (run(cmd) != 0) {
        fprintf(stderr, "test_hostkey: ssh-keygen failed\n");
        exit(2);
    }
    snprintf(path, sizeof path, "%s/%s.pub", dir, name);
    FILE *f = fopen(path, "r");
    if (!f || fscanf(f, "%63s %2047s", k->type, k->b64) != 2) {
        fprintf(stderr, "test_hostkey: cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    size_t n = strlen(k->b64);
    int l = EVP_DecodeBlock(k->blob, (unsigned char *)k->b64, (int)n);
    l -= (k->b64[n - 1] == '=') + (k->b64[n - 2] == '=');
    k->len = (size_t)l;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "test_hostkey: cannot write %s\n", path);
        exit(2);
    }
}

static char files[2][HC_STR];

static enum hk_result check1(const char *name, const struct key *k)
{
    return hostkey_check(files, 1, name, k->blob, k->len);
}

static void test_patterns(void)
{
    CHECK(hostkey_match_list("host1", "host1"), "plain");
    CHECK(hostkey_match_list("HOST1", "host1"), "case-insensitive");
    CHECK(!hostkey_match_list("host10", "host1"), "no prefix match");
    CHECK(hostkey_match_list("b.example", "a.example,b.example"), "comma list");
    CHECK(hostkey_match_list("x.wild.example", "*.wild.example,!bad.wild.example"), "wildcard");
    CHECK(!hostkey_match_list("bad.wild.example", "*.wild.example,!bad.wild.example"),
          "negation wins");
    CHECK(!hostkey_match_list("bad.wild.example", "!bad.wild.example"), "negation alone");
    CHECK(hostkey_match_list("h1x", "h?x"), "question mark");
    CHECK(hostkey_match_list("[h]:2222", "[h]:2222"), "brackets are literal");
    CHECK(!hostkey_match_list("[h]:2223", "[h]:2222"), "other port");
    CHECK(hostkey_match_list("[h]:2222", "[h]:*"), "wildcard port");
    CHECK(!hostkey_match_list("h", ""), "empty list");
}

static void test_lookup_name(void)
{
    static struct hostcfg c;
    char n[HC_STR + 16];
    snprintf(c.hostname, sizeof c.hostname, "Example.ORG");
    c.port = 22;
    hostkey_lookup_name(&c, n, sizeof n);
    CHECK(strcmp(n, "example.org") == 0, "port 22 name %s", n);
    c.port = 2222;
    hostkey_lookup_name(&c, n, sizeof n);
    CHECK(strcmp(n, "[example.org]:2222") == 0, "port form %s", n);
    snprintf(c.hostkeyalias, sizeof c.hostkeyalias, "alias");
    hostkey_lookup_name(&c, n, sizeof n);
    CHECK(strcmp(n, "alias") == 0, "alias (no port, as ssh) %s", n);
}

static void test_parse(const struct key *a, const struct key *b, const struct key *r)
{
    char text[32768];
    snprintf(text, sizeof text,
             "# a comment line\n"
             "\n"
             "   \t\n"
             "garbage\n"
             "only-two fields\n"
             "@bogus-marker host9 %s %s\n"
             "host4 %s !!!!notbase64\n"
             "host1 %s %s comment here\n"
             "[host2]:2222 %s %s\n"
             "a.example,b.example %s %s\n"
             "*.wild.example,!bad.wild.example %s %s\n"
             "@revoked revhost %s %s\n"
             "revhost %s %s\n"
             "@cert-authority *.ca.example %s %s\n"
             "host3 %s %s\n"
             "both %s %s\n"
             "both %s %s\n",
             a->type, a->b64, a->type, a->type, a->b64, a->type, a->b64, a->type, a->b64, a->type,
             a->b64, a->type, a->b64, a->type, a->b64, a->type, a->b64, r->type, r->b64, r->type,
             r->b64, a->type, a->b64);
    write_file(files[0], text);
    CHECK(check1("host1", a) == HK_MATCH, "plain match");
    CHECK(check1("host1", b) == HK_CHANGED, "changed key of same type");
    CHECK(check1("host3", a) == HK_CHANGED, "known with another type only");
    CHECK(check1("[host2]:2222", a) == HK_MATCH, "port form");
    CHECK(check1("host2", a) == HK_UNKNOWN, "port form does not match port 22");
    CHECK(check1("b.example", a) == HK_MATCH, "comma list");
    CHECK(check1("c.wild.example", a) == HK_MATCH, "wildcard");
    CHECK(check1("bad.wild.example", a) == HK_UNKNOWN, "negated");
    CHECK(check1("revhost", a) == HK_REVOKED, "revoked beats a plain match");
    CHECK(check1("revhost", b) == HK_CHANGED, "revoked other key: known host, other key");
    CHECK(check1("x.ca.example", a) == HK_CA_ONLY, "cert-authority only");
    CHECK(check1("host9", a) == HK_UNKNOWN, "unknown marker line ignored");
    CHECK(check1("host4", a) == HK_UNKNOWN, "bad base64 ignored");
    CHECK(check1("nosuch", a) == HK_UNKNOWN, "unknown host");
    CHECK(check1("both", a) == HK_MATCH && check1("both", r) == HK_MATCH, "two keys");
    char types[HK_MAX_TYPES][64];
    int n = hostkey_known_types(files, 1, "both", types, HK_MAX_TYPES);
    CHECK(n == 2 && strcmp(types[0], r->type) == 0 && strcmp(types[1], a->type) == 0,
          "known types in file order (%d)", n);
    n = hostkey_known_types(files, 1, "revhost", types, HK_MAX_TYPES);
    CHECK(n == 1 && strcmp(types[0], a->type) == 0, "revoked lines give no type (%d)", n);
    n = hostkey_known_types(files, 1, "nosuch", types, HK_MAX_TYPES);
    CHECK(n == 0, "no types for unknown host");

    /* Two files: a match in the second wins over nothing in the first. */
    snprintf(files[1], sizeof files[1], "%s/kh2", dir);
    snprintf(text, sizeof text, "other %s %s\n", b->type, b->b64);
    write_file(files[1], text);
    CHECK(hostkey_check(files, 2, "other", b->blob, b->len) == HK_MATCH, "second file");
    char missing[2][HC_STR];
    snprintf(missing[0], HC_STR, "%s/does-not-exist", dir);
    snprintf(missing[1], HC_STR, "%s", files[1]);
    CHECK(hostkey_check(missing, 2, "other", b->blob, b->len) == HK_MATCH, "missing file ok");

    /* A very long garbage line and a file without a final newline. */
    char *big = malloc(200000);
    memset(big, 'x', 199990);
    snprintf(big + 199990, 10, " y z\n");
    FILE *f = fopen(files[1], "w");
    fputs(big, f);
    fprintf(f, "last %s %s", a->type, a->b64);
    fclose(f);
    free(big);
    CHECK(hostkey_check(files + 1, 1, "last", a->blob, a->len) == HK_MATCH, "no final newline");
}

static void test_hashed(const struct key *a, const struct key *b)
{
    char text[8192], cmd[HC_STR + 64];
    snprintf(text, sizeof text, "hashme %s %s\n[hashport]:2200 %s %s\n", a->type, a->b64, a->type,
             a->b64);
    write_file(files[0], text);
    snprintf(cmd, sizeof cmd, "ssh-keygen -q -H -f %s >/dev/null 2>&1", files[0]);
    CHECK(run(cmd) == 0, "ssh-keygen -H");
    FILE *f = fopen(files[0], "r");
    char line[4096] = "";
    CHECK(f && fgets(line, sizeof line, f) && strncmp(line, "|1|", 3) == 0, "file is hashed: %s",
          line);
    if (f)
        fclose(f);
    CHECK(check1("hashme", a) == HK_MATCH, "hashed match");
    CHECK(check1("HashMe", a) == HK_MATCH, "hashed match, name lower-cased");
    CHECK(check1("hashme", b) == HK_CHANGED, "hashed changed");
    CHECK(check1("[hashport]:2200", a) == HK_MATCH, "hashed port form");
    CHECK(check1("hashport", a) == HK_UNKNOWN, "hashed port form not port 22");
    CHECK(check1("hashm", a) == HK_UNKNOWN, "hashed other name");
}

/* ssh-keygen -F name -f file prints the key; returns 1 if found with the right key. */
static int keygen_finds(const char *file, const char *name, const struct key *k)
{
    char cmd[1024], out[8192] = "";
    snprintf(cmd, sizeof cmd, "ssh-keygen -F '%s' -f %s 2>/dev/null", name, file);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = '\0';
    int rc = p ? pclose(p) : -1;
    return rc == 0 && strstr(out, k->b64) != NULL;
}

static void test_append(const struct key *a, const struct key *b)
{
    char err[256] = "", path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/new_known_hosts", dir);
    CHECK(hostkey_append(path, "plainhost", a->blob, a->len, 0, err, sizeof err) == 0,
          "append plain: %s", err);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "created 0600");
    CHECK(keygen_finds(path, "plainhost", a), "ssh-keygen -F finds plain entry");
    CHECK(hostkey_append(path, "[hashed.example]:2022", b->blob, b->len, 1, err, sizeof err) == 0,
          "append hashed: %s", err);
    CHECK(keygen_finds(path, "[hashed.example]:2022", b), "ssh-keygen -F finds hashed entry");
    CHECK(!keygen_finds(path, "hashed.example", b), "hashed entry only for its port");
    snprintf(files[0], HC_STR, "%s", path);
    CHECK(check1("[hashed.example]:2022", b) == HK_MATCH, "our lookup finds hashed entry");
    CHECK(check1("plainhost", a) == HK_MATCH, "our lookup finds plain entry");
    CHECK(check1("plainhost", b) == HK_CHANGED, "changed after append");
    FILE *f = fopen(path, "r");
    char line[4096];
    int lines = 0, hashed = 0;
    while (f && fgets(line, sizeof line, f)) {
        lines++;
        hashed += strncmp(line, "|1|", 3) == 0;
    }
    if (f)
        fclose(f);
    CHECK(lines == 2 && hashed == 1, "two lines, one hashed (%d, %d)", lines, hashed);
    /* Appending the same key again adds nothing. */
    CHECK(hostkey_append(path, "plainhost", a->blob, a->len, 0, err, sizeof err) == 0, "again");
    /* A file without a final newline gets one before the new line. */
    snprintf(path, sizeof path, "%s/nonl", dir);
    char text[4096];
    snprintf(text, sizeof text, "x %s %s", a->type, a->b64);
    write_file(path, text);
    CHECK(hostkey_append(path, "y", b->blob, b->len, 0, err, sizeof err) == 0, "append nonl");
    CHECK(keygen_finds(path, "x", a) && keygen_finds(path, "y", b), "both lines intact");
    snprintf(path, sizeof path, "%s/no/such/dir/kh", dir);
    CHECK(hostkey_append(path, "z", b->blob, b->len, 0, err, sizeof err) < 0 && err[0],
          "missing parent dir is an error");
    char t[64];
    CHECK(hostkey_blob_type(a->blob, a->len, t, sizeof t) == 0 && strcmp(t, a->type) == 0,
          "blob type %s", t);
    CHECK(hostkey_blob_type(a->blob, 3, t, sizeof t) < 0, "short blob rejected");
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_hostkey.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(files[0], HC_STR, "%s/known_hosts", dir);
    static struct key a, b, r;
    make_key("a", "ed25519", &a);
    make_key("b", "ed25519", &b);
    make_key("r", "rsa", &r);
    test_patterns();
    test_lookup_name();
    test_parse(&a, &b, &r);
    test_hashed(&a, &b);
    test_append(&a, &b);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    run(cmd);
    printf("hostkey: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
