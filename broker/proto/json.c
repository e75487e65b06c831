/* A small JSON writer into a caller's buffer (json.h). Each value goes in whole or not at
 * all, with room kept for the brackets that close what is open, so the text stays valid. */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Bytes kept free for json_finish: a closing bracket per level, ,"truncated":true, a NUL. */
#define KEEP(j) ((size_t)(j)->depth + 1 + sizeof ",\"truncated\":true")

/* The length of the well-formed UTF-8 sequence at s (n bytes left), 0 if it is ill-formed
 * (overlong forms, surrogates and code points above U+10FFFF are, as RFC 3629 says). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
        return 0;
    return len;
}

size_t json_escape(char *out, size_t cap, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = 0;
    char esc[8];
#define OUT(src, k)                                                                                \
    do {                                                                                           \
        if (len + (k) < cap)                                                                       \
            memcpy(out + len, (src), (k));                                                         \
        len += (k);                                                                                \
    } while (0)
    OUT("\"", 1);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(u + i, n - i);
        const char *rep = NULL;
        if (k == 0)
            rep = "\\ufffd";
        else if (u[i] == '"')
            rep = "\\\"";
        else if (u[i] == '\\')
            rep = "\\\\";
        else if (u[i] == '\n')
            rep = "\\n";
        else if (u[i] == '\r')
            rep = "\\r";
        else if (u[i] == '\t')
            rep = "\\t";
        else if (u[i] == '\b')
            rep = "\\b";
        else if (u[i] == '\f')
            rep = "\\f";
        else if (u[i] < 0x20 || u[i] == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", u[i]);
            rep = esc;
        }
        if (rep) {
            OUT(rep, strlen(rep));
            i++;
        } else {
            OUT(s + i, k);
            i += k;
        }
    }
    OUT("\"", 1);
#undef OUT
    if (cap)
        out[len < cap ? len : cap - 1] = '\0';
    return len;
}

void json_init(struct json *j, char *buf, size_t cap)
{
    memset(j, 0, sizeof *j);
    j->p = buf;
    j->cap = cap;
    buf[0] = '\0';
}

/* Append n bytes, keeping room to close; -1 when they do not fit. */
static int emit(struct json *j, const char *s, size_t n)
{
    if (j->off + n + KEEP(j) > j->cap)
        return -1;
    memcpy(j->p + j->off, s, n);
    j->off += n;
    j->p[j->off] = '\0';
    return 0;
}

/* Append s (n bytes) as a JSON string; -1 when it does not fit. */
static int emit_str(struct json *j, const char *s, size_t n)
{
    size_t room = j->cap - j->off;
    if (room <= KEEP(j))
        return -1;
    room -= KEEP(j);
    size_t len = json_escape(j->p + j->off, room, s, n);
    if (len >= room) {
        j->p[j->off] = '\0';
        return -1;
    }
    j->off += len;
    return 0;
}

/* The comma and the member's name before a value; -1 (and the writer cut) when they do not
 * fit or the writer is cut already. *save: where the value began. */
static int start(struct json *j, const char *key, size_t *save)
{
    *save = j->off;
    if (j->cut)
        return -1;
    if ((j->depth > 0 && j->more[j->depth - 1] && emit(j, ",", 1) < 0) ||
        (key && (emit_str(j, key, strlen(key)) < 0 || emit(j, ":", 1) < 0))) {
        j->off = *save;
        j->p[j->off] = '\0';
        j->cut = 1;
        return -1;
    }
    return 0;
}

/* After the value's text: counted at its level, or taken back (and the writer cut). */
static void end(struct json *j, size_t save, int rc)
{
    if (rc < 0) {
        j->off = save;
        j->p[j->off] = '\0';
        j->cut = 1;
    } else if (j->depth > 0) {
        j->more[j->depth - 1] = 1;
    }
}

/* Open a container whose closing bracket is close. */
static void open_one(struct json *j, const char *key, const char *open)
{
    size_t save;
    if (start(j, key, &save) < 0)
        return;
    if (j->depth >= JSON_DEPTH - 1 || emit(j, open, 1) < 0) {
        end(j, save, -1);
        return;
    }
    end(j, save, 0);
    j->close[j->depth] = open[0] == '{' ? '}' : ']';
    j->more[j->depth++] = 0;
}

void json_object(struct json *j, const char *key)
{
    open_one(j, key, "{");
}

void json_array(struct json *j, const char *key)
{
    open_one(j, key, "[");
}

void json_close(struct json *j)
{
    if (j->cut || j->depth == 0)
        return;
    j->depth--; /* the room kept for this bracket is no longer needed */
    emit(j, &j->close[j->depth], 1);
}

void json_strn(struct json *j, const char *key, const char *s, size_t n)
{
    size_t save;
    if (start(j, key, &save) == 0)
        end(j, save, s ? emit_str(j, s, n) : emit(j, "null", 4));
}

void json_str(struct json *j, const char *key, const char *s)
{
    json_strn(j, key, s, s ? strlen(s) : 0);
}

/* A value written as text already (numbers, true, false, null). */
static void raw(struct json *j, const char *key, const char *text)
{
    size_t save;
    if (start(j, key, &save) == 0)
        end(j, save, emit(j, text, strlen(text)));
}

void json_int(struct json *j, const char *key, long long v)
{
    char t[32];
    snprintf(t, sizeof t, "%lld", v);
    raw(j, key, t);
}

void json_uint(struct json *j, const char *key, unsigned long long v)
{
    char t[32];
    snprintf(t, sizeof t, "%llu", v);
    raw(j, key, t);
}

void json_real(struct json *j, const char *key, double v, int decimals)
{
    char t[64];
    if (!isfinite(v) || v > 1e18 || v < -1e18)
        snprintf(t, sizeof t, "null");
    else
        snprintf(t, sizeof t, "%.*f", decimals < 0 ? 0 : decimals > 3 ? 3 : decimals, v);
    raw(j, key, t);
}

void json_bool(struct json *j, const char *key, int v)
{
    raw(j, key, v ? "true" : "false");
}

void json_null(struct json *j, const char *key)
{
    raw(j, key, "null");
}

/* Append n bytes into the room KEEP kept (json_finish alone). */
static void force(struct json *j, const char *s, size_t n)
{
    if (j->off + n < j->cap) {
        memcpy(j->p + j->off, s, n);
        j->off += n;
        j->p[j->off] = '\0';
    }
}

size_t json_finish(struct json *j)
{
    while (j->depth > 0) {
        j->depth--;
        if (j->depth == 0 && j->cut && j->close[0] == '}') {
            const char *t = ",\"truncated\":true";
            force(j, t + !j->more[0], strlen(t) - !j->more[0]);
        }
        force(j, &j->close[j->depth], 1);
    }
    return j->off;
}
