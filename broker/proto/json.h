/* A small JSON writer into a caller's buffer: strings escaped, commas and nesting tracked,
 * and the text always valid JSON, even when the buffer is too small (docs/status-json.md).
 * Shared by muxssh and the broker (`muxrun status --json`, `muxrun doctor --json`). */
#ifndef MUXSHIM_JSON_H
#define MUXSHIM_JSON_H

#include <stddef.h>

#define JSON_DEPTH 16

struct json {
    char *p; /* the text so far, NUL-terminated */
    size_t cap, off;
    int depth;                      /* containers open */
    unsigned char more[JSON_DEPTH]; /* a value written already at that depth: next a comma */
    char close[JSON_DEPTH];         /* the bracket that closes the container at that depth */
    int cut; /* a value did not fit (or nested too deep): it and all after it are left out */
};

/* Write JSON text into buf (cap bytes, at least 64). */
void json_init(struct json *j, char *buf, size_t cap);
/* Open an object: a member named key inside an object, else (key NULL) a value. */
void json_object(struct json *j, const char *key);
/* Open an array, named as json_object's. */
void json_array(struct json *j, const char *key);
/* Close the innermost open object or array. */
void json_close(struct json *j);
/* A string value (bytes escaped as json_escape does); NULL writes null. */
void json_str(struct json *j, const char *key, const char *s);
/* A string value of n bytes (a string that is not NUL-terminated). */
void json_strn(struct json *j, const char *key, const char *s, size_t n);
/* A whole number. */
void json_int(struct json *j, const char *key, long long v);
/* A whole number, unsigned (byte counts). */
void json_uint(struct json *j, const char *key, unsigned long long v);
/* A number with up to `decimals` digits after the point (3 at most). */
void json_real(struct json *j, const char *key, double v, int decimals);
/* true or false. */
void json_bool(struct json *j, const char *key, int v);
/* null. */
void json_null(struct json *j, const char *key);
/* Close every container still open (adding "truncated": true to the outermost object when
 * something was left out); returns the text's length. */
size_t json_finish(struct json *j);
/* s (n bytes) as a JSON string with its quotes into out (cap bytes, NUL-terminated): '"',
 * '\\' and control characters escaped, well-formed UTF-8 passed through, every byte of an
 * ill-formed sequence as U+FFFD. Returns the length the whole string needs (without the
 * NUL), as snprintf does; out holds it only when that is below cap. */
size_t json_escape(char *out, size_t cap, const char *s, size_t n);

#endif
