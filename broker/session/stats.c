/* Per host counters of served and handed-over sessions, shown by the CONTROL list reply. */
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATS_HOSTS 256
#define STATS_REASONS 12
#define REASON_LEN 49

struct reason {
    char text[REASON_LEN];
    unsigned long n;
};

struct hoststat {
    char host[256], user[64];
    int port;
    unsigned long served, handed;
    struct reason why[STATS_REASONS];
    int nwhy;
    struct hoststat *next;
};

static struct hoststat *hosts;
static int nhosts;

/* The entry for user@host:port, made when missing (NULL when the table is full). */
static struct hoststat *find(const char *host, int port, const char *user)
{
    for (struct hoststat *h = hosts; h; h = h->next)
        if (h->port == port && !strncmp(h->host, host, sizeof h->host - 1) &&
            !strncmp(h->user, user, sizeof h->user - 1))
            return h;
    if (nhosts >= STATS_HOSTS)
        return NULL;
    struct hoststat *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    snprintf(h->host, sizeof h->host, "%s", host);
    snprintf(h->user, sizeof h->user, "%s", user);
    h->port = port;
    /* Appended: the lines keep the order hosts were first seen in. */
    struct hoststat **pp = &hosts;
    while (*pp)
        pp = &(*pp)->next;
    *pp = h;
    nhosts++;
    return h;
}

void stats_served(const char *host, int port, const char *user)
{
    struct hoststat *h = find(host, port, user);
    if (h)
        h->served++;
}

void stats_handed(const char *host, int port, const char *user, const char *why)
{
    struct hoststat *h = find(host, port, user);
    if (!h)
        return;
    h->handed++;
    char head[REASON_LEN];
    size_t n = strcspn(why, ":");
    if (!why[n] || memchr(why, ' ', n) || n == 0)
        n = strcspn(why, "\r\n");
    snprintf(head, sizeof head, "%.*s", (int)n, why);
    struct reason *r = NULL;
    for (int i = 0; i < h->nwhy && !r; i++)
        if (!strcmp(h->why[i].text, head))
            r = &h->why[i];
    if (!r && h->nwhy < STATS_REASONS) {
        r = &h->why[h->nwhy++];
        snprintf(r->text, sizeof r->text, "%s", head);
    }
    if (!r) /* more kinds than kept: the last slot counts the rest */
        r = &h->why[STATS_REASONS - 1];
    r->n++;
}

size_t stats_format(char *out, size_t outlen)
{
    size_t off = 0;
    if (outlen == 0)
        return 0;
    out[0] = '\0';
    for (const struct hoststat *h = hosts; h; h = h->next) {
        char line[2048];
        int n = snprintf(line, sizeof line, "%s:%d %s: served %lu, handed to ssh %lu", h->host,
                         h->port, h->user[0] ? h->user : "-", h->served, h->handed);
        for (int i = 0; i < h->nwhy && n > 0 && (size_t)n < sizeof line; i++)
            n += snprintf(line + n, sizeof line - (size_t)n, "%s%s: %lu", i ? ", " : " (",
                          h->why[i].text, h->why[i].n);
        if (n > 0 && (size_t)n < sizeof line && h->nwhy)
            n += snprintf(line + n, sizeof line - (size_t)n, ")");
        if (n < 0 || (size_t)n >= sizeof line)
            continue;
        if (off + (size_t)n + 1 >= outlen)
            break;
        off += (size_t)snprintf(out + off, outlen - off, "%s\n", line);
    }
    return off;
}

void stats_json(struct json *j)
{
    for (const struct hoststat *h = hosts; h; h = h->next) {
        json_object(j, NULL);
        json_str(j, "host", h->host);
        json_int(j, "port", h->port);
        json_str(j, "user", h->user);
        json_uint(j, "served", h->served);
        json_uint(j, "handed", h->handed);
        json_array(j, "reasons");
        for (int i = 0; i < h->nwhy; i++) {
            json_object(j, NULL);
            json_str(j, "reason", h->why[i].text);
            json_uint(j, "count", h->why[i].n);
            json_close(j);
        }
        json_close(j);
        json_close(j);
    }
}
