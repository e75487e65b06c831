/* The real functions behind the hooks, found as dlsym(RTLD_NEXT) would find them but without
 * dlsym: a walk of the loader's list of objects from this library on, and a lookup in each
 * one's GNU hash table. It takes no lock, makes no system call and calls no libc function,
 * so it may run at load (where it is the shim's only work: see shim_load), in a vfork child
 * or in a signal handler. It lives with the constructors (.text.startup), so that loading the
 * shim touches as few pages as an empty library does. */
#include <elf.h>
#include <link.h>
#include <stdint.h>

#include "shim.h"

#define STARTUP __attribute__((section(".text.startup.muxshim")))

/* The native ELF types, named without link.h's ElfW() (which cppcheck cannot expand). */
#if UINTPTR_MAX > 0xffffffffu
typedef Elf64_Addr addr_t;
typedef Elf64_Dyn dyn_t;
typedef Elf64_Sym sym_t;
#else
typedef Elf32_Addr addr_t;
typedef Elf32_Dyn dyn_t;
typedef Elf32_Sym sym_t;
#endif

extern dyn_t _DYNAMIC[];

/* A d_ptr of m's dynamic section: the loader relocates most in place, not the vDSO's. */
STARTUP static addr_t dyn_addr(const struct link_map *m, addr_t p)
{
    return p < m->l_addr ? p + m->l_addr : p;
}

STARTUP static int same_name(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

/* name (GNU hash h) as a function defined in m at its default version, or NULL. */
STARTUP static void *lookup_in(const struct link_map *m, const char *name, uint32_t h)
{
    addr_t gh = 0, sym = 0, str = 0, ver = 0;
    for (const dyn_t *d = m->l_ld; d && d->d_tag != DT_NULL; d++) {
        if (d->d_tag == DT_GNU_HASH)
            gh = dyn_addr(m, d->d_un.d_ptr);
        else if (d->d_tag == DT_SYMTAB)
            sym = dyn_addr(m, d->d_un.d_ptr);
        else if (d->d_tag == DT_STRTAB)
            str = dyn_addr(m, d->d_un.d_ptr);
        else if (d->d_tag == DT_VERSYM)
            ver = dyn_addr(m, d->d_un.d_ptr);
    }
    if (!gh || !sym || !str)
        return NULL;
    const uint32_t *ht = (const uint32_t *)gh;
    uint32_t nbuckets = ht[0], symoffset = ht[1], bloom_size = ht[2], bloom_shift = ht[3];
    if (!nbuckets || !bloom_size)
        return NULL;
    const addr_t *bloom = (const addr_t *)(ht + 4);
    const uint32_t *buckets = (const uint32_t *)(bloom + bloom_size);
    const uint32_t *chain = buckets + nbuckets;
    const unsigned bits = sizeof(addr_t) * 8;
    addr_t word = bloom[(h / bits) % bloom_size];
    addr_t mask = ((addr_t)1 << (h % bits)) | ((addr_t)1 << ((h >> bloom_shift) % bits));
    if ((word & mask) != mask)
        return NULL;
    for (uint32_t i = buckets[h % nbuckets]; i >= symoffset; i++) {
        uint32_t c = chain[i - symoffset];
        const sym_t *s = (const sym_t *)sym + i;
        const uint16_t *vs = (const uint16_t *)ver;
        int type = ELF64_ST_TYPE(s->st_info);
        if ((c | 1) == (h | 1) && s->st_shndx != SHN_UNDEF && s->st_value &&
            (type == STT_FUNC || type == STT_GNU_IFUNC) &&
            (!vs || ((vs[i] & 0x7fff) != 0 && !(vs[i] & 0x8000))) &&
            same_name(name, (const char *)str + s->st_name)) {
            void *a = (void *)(m->l_addr + s->st_value);
            return type == STT_GNU_IFUNC ? ((void *(*)(void))a)() : a;
        }
        if (c & 1)
            break;
    }
    return NULL;
}

STARTUP void *shim_next_sym(const char *name)
{
    uint32_t h = 5381;
    for (const char *p = name; *p; p++)
        h = h * 33 + (unsigned char)*p;
    const struct link_map *m = _r_debug.r_map;
    while (m && m->l_ld != _DYNAMIC) /* this library: the search starts after it */
        m = m->l_next;
    for (m = m ? m->l_next : NULL; m; m = m->l_next) {
        void *a = lookup_in(m, name, h);
        if (a)
            return a;
    }
    return NULL;
}
