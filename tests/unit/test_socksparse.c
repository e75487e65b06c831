/* SOCKS requests as ssh reads them (socksparse.c): 4, 4a and 5 (IPv4, IPv6, a name), fed
 * whole and a byte at a time, what each step takes, and what ssh drops (a BIND, an unknown
 * version, SOCKS 5 without "no authentication", a user name that never ends). */
#include <string.h>

#include "check.h"
#include "socksparse.h"

/* Feed msg (n bytes) in pieces of step bytes: the last step's result, its bytes in *used. */
static int feed(struct socks_req *r, const uint8_t *msg, size_t n, size_t step, size_t *used)
{
    size_t have = 0, off = 0;
    int rc = SOCKS_MORE;
    *used = 0;
    while (off + have <= n) {
        rc = socks_parse(r, msg + off, have);
        if (rc == SOCKS_METHOD) {
            r->method_done = 1;
            off += r->used;
            *used += r->used;
            have = 0;
            continue;
        }
        if (rc != SOCKS_MORE)
            break;
        if (off + have == n)
            break;
        have = off + have + step > n ? n - off : have + step;
    }
    if (rc == SOCKS_REQUEST)
        *used += r->used;
    return rc;
}

int main(void)
{
    static const uint8_t v4[] = {4, 1, 0, 80, 10, 1, 2, 3, 'u', 0, 'x'};
    static const uint8_t v4a[] = {4, 1, 1, 187, 0, 0, 0, 9, 0, 'e', 'x', '.', 'o', 'r', 'g', 0};
    static const uint8_t v5name[] = {5,   2,   2,   0,   5,   1,   0,    3,   6,
                                     'e', 'x', '.', 'o', 'r', 'g', 0x1f, 0x90};
    static const uint8_t v5ip6[] = {5, 1, 0, 5, 1, 0, 4, 0x20, 1, 0xd, 0xb8, 0, 0,
                                    0, 0, 0, 0, 0, 0, 0, 0,    0, 1,   0,    22};
    struct socks_req r;
    size_t used;
    for (size_t step = 1; step <= 32; step += 31) {
        memset(&r, 0, sizeof r);
        CHECK(feed(&r, v4, sizeof v4, step, &used) == SOCKS_REQUEST && r.version == 4 &&
                  !strcmp(r.host, "10.1.2.3") && r.port == 80 && used == 10,
              "socks4 step %zu: %s %d used %zu", step, r.host, r.port, used);
        memset(&r, 0, sizeof r);
        CHECK(feed(&r, v4a, sizeof v4a, step, &used) == SOCKS_REQUEST && r.version == 4 &&
                  !strcmp(r.host, "ex.org") && r.port == 443 && used == sizeof v4a,
              "socks4a step %zu: %s %d", step, r.host, r.port);
        memset(&r, 0, sizeof r);
        CHECK(feed(&r, v5name, sizeof v5name, step, &used) == SOCKS_REQUEST && r.version == 5 &&
                  !strcmp(r.host, "ex.org") && r.port == 8080 && used == sizeof v5name,
              "socks5 name step %zu: %s %d", step, r.host, r.port);
        memset(&r, 0, sizeof r);
        CHECK(feed(&r, v5ip6, sizeof v5ip6, step, &used) == SOCKS_REQUEST &&
                  !strcmp(r.host, "2001:db8::1") && r.port == 22,
              "socks5 ipv6 step %zu: %s %d", step, r.host, r.port);
    }
    static const uint8_t bind4[] = {4, 2, 0, 80, 10, 1, 2, 3, 0};
    static const uint8_t v6[] = {6, 1};
    static const uint8_t noauth[] = {5, 1, 2};
    static const uint8_t bind5[] = {5, 2, 0, 1, 1, 2, 3, 4, 0, 80};
    memset(&r, 0, sizeof r);
    CHECK(socks_parse(&r, bind4, sizeof bind4) == SOCKS_BAD, "socks4 BIND is dropped");
    memset(&r, 0, sizeof r);
    CHECK(socks_parse(&r, v6, sizeof v6) == SOCKS_BAD, "version 6 is dropped");
    memset(&r, 0, sizeof r);
    CHECK(socks_parse(&r, noauth, sizeof noauth) == SOCKS_BAD, "socks5 without method 0");
    memset(&r, 0, sizeof r);
    r.version = 5;
    r.method_done = 1;
    CHECK(socks_parse(&r, bind5, sizeof bind5) == SOCKS_BAD, "socks5 BIND is dropped");
    uint8_t user[1100];
    memset(user, 'a', sizeof user);
    memcpy(user, v4, 8);
    memset(&r, 0, sizeof r);
    CHECK(socks_parse(&r, user, sizeof user) == SOCKS_BAD, "a socks4 user of 1025 bytes");
    memset(&r, 0, sizeof r);
    CHECK(socks_parse(&r, user, 600) == SOCKS_MORE, "a socks4 user not ended yet");
    uint8_t rep[10];
    CHECK(socks_reply(4, rep) == 8 && rep[0] == 0 && rep[1] == 90, "socks4 granted");
    CHECK(socks_reply(5, rep) == 10 && rep[0] == 5 && rep[1] == 0 && rep[3] == 1,
          "socks5 succeeded");
    /* PermitRemoteOpen as ssh -G prints it */
    CHECK(socks_permitted("", "h", 1) && socks_permitted("any", "h", 1), "empty and any permit");
    CHECK(!socks_permitted("none", "h", 1), "none permits nothing");
    CHECK(socks_permitted("127.0.0.1:80 ex.org:443", "ex.org", 443), "the second word");
    CHECK(!socks_permitted("127.0.0.1:80 ex.org:443", "ex.org", 80), "a host on another port");
    CHECK(!socks_permitted("127.0.0.1:80", "localhost", 80), "names are not resolved");
    CHECK(socks_permitted("*:22", "a.b", 22) && !socks_permitted("*:22", "a.b", 23), "any host");
    CHECK(socks_permitted("ex.org:*", "ex.org", 9) && !socks_permitted("ex.org:*", "ex.orgx", 9),
          "any port, the host whole");
    CHECK(socks_permitted("[2001:db8::1]:22", "2001:db8::1", 22), "a bracketed IPv6 address");
    CHECK(!socks_permitted("ex.org:80x ex.org:", "ex.org", 80), "a port that is not a number");
    CHECK(!socks_permitted("ex.org:800000", "ex.org", 800000 % 65536), "a port too long");
    printf("socksparse: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
