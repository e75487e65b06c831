/* The JSON writer of `muxrun status --json` and `doctor --json` (broker/proto/json.c). */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "json.h"

/* s (n bytes) escaped, in a static buffer. */
static const char *esc(const char *s, size_t n)
{
    static char out[256];
    size_t len = json_escape(out, sizeof out, s, n);
    CHECK(len == strlen(out), "the length returned is the string's (%zu vs %zu)", len, strlen(out));
    return out;
}
#define ESC(lit) esc(lit, sizeof lit - 1)

static void test_escape(void)
{
    CHECK(!strcmp(ESC("plain"), "\"plain\""), "plain text is quoted");
    CHECK(!strcmp(ESC(""), "\"\""), "the empty string");
    CHECK(!strcmp(ESC("say \"hi\""), "\"say \\\"hi\\\"\""), "quotes escaped: %s",
          ESC("say \"hi\""));
    CHECK(!strcmp(ESC("a\\b"), "\"a\\\\b\""), "a backslash doubled: %s", ESC("a\\b"));
    CHECK(!strcmp(ESC("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\""), "short escapes: %s",
          ESC("\n\r\t\b\f"));
    CHECK(!strcmp(ESC("\x01\x1b[0m\x1f\x7f"), "\"\\u0001\\u001b[0m\\u001f\\u007f\""),
          "other control characters as \\u00XX: %s", ESC("\x01\x1b[0m\x1f\x7f"));
    CHECK(!strcmp(esc("a\0b", 3), "\"a\\u0000b\""), "a NUL inside the length");
    CHECK(!strcmp(ESC("h\xc3\xb6st \xe2\x82\xac \xf0\x9f\x94\x91"),
                  "\"h\xc3\xb6st \xe2\x82\xac \xf0\x9f\x94\x91\""),
          "UTF-8 passed through: %s", ESC("h\xc3\xb6st \xe2\x82\xac \xf0\x9f\x94\x91"));
    CHECK(!strcmp(ESC("a\xff"
                      "b"),
                  "\"a\\ufffdb\""),
          "a byte that starts nothing: U+FFFD");
    CHECK(!strcmp(ESC("\xc3"), "\"\\ufffd\""), "a sequence cut at the end: U+FFFD");
    CHECK(!strcmp(ESC("\xc0\xaf"), "\"\\ufffd\\ufffd\""), "an overlong form: each byte U+FFFD");
    CHECK(!strcmp(ESC("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\""), "a surrogate: U+FFFD");
    CHECK(!strcmp(ESC("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\""),
          "above U+10FFFF: U+FFFD");
    CHECK(!strcmp(ESC("\xe2\x82"
                      "x"),
                  "\"\\ufffd\\ufffdx\""),
          "a sequence cut by ASCII");

    char small[6];
    size_t need = json_escape(small, sizeof small, "abcdefgh", 8);
    CHECK(need == 10 && strlen(small) == 5, "too small: the length needed, the text cut (%zu)",
          need);
}

static void test_writer(void)
{
    char buf[512];
    struct json j;
    json_init(&j, buf, sizeof buf);
    json_object(&j, NULL);
    json_str(&j, "host", "we\"ird\\host\n");
    json_int(&j, "port", -1);
    json_uint(&j, "bytes", 18446744073709551615ull);
    json_real(&j, "cpu_ms", 12.345, 1);
    json_bool(&j, "served", 0);
    json_null(&j, "idle");
    json_str(&j, "none", NULL);
    json_array(&j, "list");
    json_object(&j, NULL);
    json_strn(&j, "k", "abc", 2);
    json_close(&j);
    json_int(&j, NULL, 7);
    json_array(&j, NULL);
    json_close(&j);
    json_close(&j);
    json_object(&j, "empty");
    json_close(&j);
    json_close(&j);
    size_t n = json_finish(&j);
    const char *want = "{\"host\":\"we\\\"ird\\\\host\\n\",\"port\":-1,"
                       "\"bytes\":18446744073709551615,\"cpu_ms\":12.3,\"served\":false,"
                       "\"idle\":null,\"none\":null,\"list\":[{\"k\":\"ab\"},7,[]],\"empty\":{}}";
    CHECK(!strcmp(buf, want), "the document: %s", buf);
    CHECK(n == strlen(want), "its length");

    /* Too small: whole values only, every bracket closed, and the cut said. */
    for (size_t cap = 64; cap <= 120; cap++) {
        char b[128];
        json_init(&j, b, cap);
        json_object(&j, NULL);
        json_array(&j, "hosts");
        for (int i = 0; i < 10; i++) {
            json_object(&j, NULL);
            json_str(&j, "host", "host.example");
            json_int(&j, "n", i);
            json_close(&j);
        }
        json_close(&j);
        n = json_finish(&j);
        CHECK(n < cap && strlen(b) == n, "cap %zu: it fits (%zu)", cap, n);
        const char *tail = "],\"truncated\":true}";
        CHECK(n > strlen(tail) && !strcmp(b + n - strlen(tail), tail), "cap %zu: closed: %s", cap,
              b);
        CHECK(!strstr(b, ",]") && !strstr(b, ",}") && !strstr(b, "{,"),
              "cap %zu: no comma out of place: %s", cap, b);
    }

    /* Nesting too deep is cut, not written unbalanced. */
    json_init(&j, buf, sizeof buf);
    for (int i = 0; i < JSON_DEPTH + 4; i++)
        json_array(&j, NULL);
    for (int i = 0; i < JSON_DEPTH + 4; i++)
        json_close(&j);
    json_finish(&j);
    int open = 0, close = 0;
    for (const char *p = buf; *p; p++) {
        open += *p == '[';
        close += *p == ']';
    }
    CHECK(open == close && open == JSON_DEPTH - 1, "too deep: %s", buf);
}

int main(void)
{
    test_escape();
    test_writer();
    printf("json: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
