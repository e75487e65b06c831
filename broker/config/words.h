/* Small look-ups shared by the broker's modules: comma lists and environment arrays. */
#ifndef MUXSHIM_WORDS_H
#define MUXSHIM_WORDS_H

#include <stddef.h>

/* 1 if the first wl bytes of word are one of the items of the comma-separated list. */
int words_in_list(const char *list, const char *word, size_t wl);
/* The value of NAME in a NULL-terminated NAME=VALUE array (env may be NULL), or NULL. */
const char *words_env(char *const *env, const char *name);

#endif
