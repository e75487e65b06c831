/* SendEnv/SetEnv request lists and whether a prepared channel can serve one (envreq.c). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "envreq.h"

/* rest as one string "A=1 B=2", or "-" when the channel cannot serve want. */
static const char *rest_of(const char *const *done, const char *const *want)
{
    static char out[512];
    const char *rest[16];
    int n = envreq_rest(done, want, rest);
    if (n < 0)
        return "-";
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i)
            strcat(out, " ");
        strcat(out, rest[i]);
    }
    return out;
}

static void test_rest(void)
{
    const char *lang[] = {"LANG=C.UTF-8", NULL};
    const char *lang2[] = {"LANG=en_US.UTF-8", NULL};
    const char *lang_foo[] = {"LANG=C.UTF-8", "LC_FOO=a", NULL};
    const char *foo_lang[] = {"LC_FOO=a", "LANG=C.UTF-8", NULL};
    const char *dup[] = {"LC_X=1", "LANG=C.UTF-8", "LC_X=2", NULL};
    const char *x2[] = {"LC_X=2", NULL};
    const char *x1[] = {"LC_X=1", NULL};
    const char *empty_val[] = {"LANG=", NULL};

    CHECK(!strcmp(rest_of(lang, lang), ""), "same env: nothing more to send");
    CHECK(!strcmp(rest_of(NULL, lang), "LANG=C.UTF-8"), "a bare channel sends everything");
    CHECK(!strcmp(rest_of(NULL, NULL), ""), "nothing wanted, nothing sent");
    CHECK(!strcmp(rest_of(lang, NULL), "-"), "a channel with LANG cannot serve no LANG");
    CHECK(!strcmp(rest_of(lang, lang2), "LANG=en_US.UTF-8"), "another value is sent again");
    CHECK(!strcmp(rest_of(lang, lang_foo), "LC_FOO=a"), "only the missing variable is sent");
    CHECK(!strcmp(rest_of(lang_foo, lang), "-"), "LC_FOO cannot be unset");
    CHECK(!strcmp(rest_of(foo_lang, lang_foo), ""), "order of different names does not matter");
    CHECK(!strcmp(rest_of(x2, dup), "LANG=C.UTF-8"), "the last value of a name is the one");
    CHECK(!strcmp(rest_of(x1, dup), "LANG=C.UTF-8 LC_X=2"), "an earlier value is overridden");
    CHECK(!strcmp(rest_of(dup, x2), "-"), "LANG cannot be unset");
    CHECK(!strcmp(rest_of(lang, empty_val), "LANG="), "an empty value is not the same as unset");
    CHECK(!strcmp(rest_of(empty_val, lang), "LANG=C.UTF-8"), "an empty value is overridden");
}

static void test_build(void)
{
    static struct hostcfg cfg;
    static char sendenv[][HC_STR] = {"LANG", "LC_*", "-LC_NO"}, setenv[][HC_STR] = {"LC_X=set"};
    memset(&cfg, 0, sizeof cfg);
    cfg.sendenv = sendenv; /* the lists as sshconfig_parse makes them: an array of entries */
    cfg.n_sendenv = 3;
    cfg.setenv = setenv;
    cfg.n_setenv = 1;
    char *env[] = {"HOME=/h", "LC_X=env", "LANG=C", "LC_NO=1", "LC_ALL=C", "=x", NULL};
    const char **r = envreq_build(&cfg, env);
    CHECK(r && envreq_count(r) == 4, "three SendEnv matches and one SetEnv");
    if (r && envreq_count(r) == 4) {
        CHECK(!strcmp(r[0], "LC_X=env") && !strcmp(r[1], "LANG=C") && !strcmp(r[2], "LC_ALL=C"),
              "SendEnv matches in the environment's order");
        CHECK(!strcmp(r[3], "LC_X=set"), "SetEnv after SendEnv, as OpenSSH 9 sends them");
    }
    int ok;
    char **copy = envreq_dup(r, &ok);
    CHECK(ok && envreq_equal((const char *const *)copy, r), "a copy is equal");
    CHECK(!envreq_equal((const char *const *)copy, NULL), "a list is not the empty one");
    CHECK(envreq_equal(NULL, (const char *const[]){NULL}), "NULL is the empty list");
    envreq_free(copy);
    free(r);
}

int main(void)
{
    test_rest();
    test_build();
    printf("envreq: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
