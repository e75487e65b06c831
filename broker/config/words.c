/* Small look-ups shared by the broker's modules: comma lists and environment arrays. */
#include "words.h"

#include <string.h>

int words_in_list(const char *list, const char *word, size_t wl)
{
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == wl && strncmp(p, word, n) == 0)
            return 1;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

const char *words_env(char *const *env, const char *name)
{
    size_t n = strlen(name);
    for (; env && *env; env++)
        if (!strncmp(*env, name, n) && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}
