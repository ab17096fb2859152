/*
 * elf_weak_verneed.c - inspect / patch the version needs of a 64-bit little-endian ELF shared library.
 *
 * Part of the TorchSharp-on-Debian-12 fix (see fix-libtorchsharp.sh beside this file). patchelf can
 * clear a symbol's version and add a DT_NEEDED entry, but it cannot mark an entry of .gnu.version_r
 * (SHT_GNU_verneed) as weak; glibc's loader refuses a library that needs a version the providing
 * library lacks, unless that Vernaux entry carries VER_FLG_WEAK.
 *
 * Usage:
 *   elf_weak_verneed check  LIB VERSION SYMBOL NEEDED
 *       Exit 0: nothing to do: LIB does not need VERSION, or it is fully patched, i.e. every Vernaux
 *               entry named VERSION is weak, no dynamic symbol named SYMBOL is bound to VERSION and
 *               LIB has a DT_NEEDED entry NEEDED.
 *       Exit 1: LIB needs patching; stdout lists the missing steps among: symver needed weak
 *       Exit 2: error (message on stderr).
 *       Exit 3: LIB is for another machine than this program (nothing that can be fixed here).
 *   elf_weak_verneed weaken LIB VERSION
 *       Sets VER_FLG_WEAK in every Vernaux entry named VERSION (in place). Exit 0 on success or if
 *       already weak, 2 on error or when no such entry exists.
 *
 * Written from the ELF gABI and the GNU symbol-versioning spec; structure layouts from <elf.h>.
 */
#define _FILE_OFFSET_BITS 64
#define _POSIX_C_SOURCE 200809L

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__x86_64__)
#define HOST_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define HOST_MACHINE EM_AARCH64
#else
#define HOST_MACHINE EM_NONE /* accept any machine */
#endif

#define EXIT_PATCHED 0
#define EXIT_NEEDS_PATCH 1
#define EXIT_ERROR 2
#define EXIT_FOREIGN 3

static const char *g_path;

typedef struct {
    unsigned char *data;
    size_t size;
    Elf64_Ehdr eh;
    Elf64_Shdr *sh; /* copied, aligned section headers */
    size_t shnum;
} Elf;

static int fail(const char *what)
{
    fprintf(stderr, "elf_weak_verneed: %s: %s\n", g_path, what);
    return EXIT_ERROR;
}

/* True if [off, off + len) lies inside the file. */
static int in_file(const Elf *e, uint64_t off, uint64_t len)
{
    return off <= e->size && len <= e->size - off;
}

static int load(Elf *e, const char *path)
{
    memset(e, 0, sizeof *e);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "elf_weak_verneed: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        close(fd);
        return fail("cannot stat or empty file"), -1;
    }
    e->size = (size_t)st.st_size;
    e->data = malloc(e->size);
    if (!e->data) {
        close(fd);
        return fail("out of memory"), -1;
    }
    size_t got = 0;
    while (got < e->size) {
        ssize_t n = read(fd, e->data + got, e->size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return fail("read error"), -1;
        }
        got += (size_t)n;
    }
    close(fd);

    if (e->size < sizeof(Elf64_Ehdr) || memcmp(e->data, ELFMAG, SELFMAG) != 0)
        return fail("not an ELF file"), -1;
    if (e->data[EI_CLASS] != ELFCLASS64 || e->data[EI_DATA] != ELFDATA2LSB)
        return fail("only 64-bit little-endian ELF files are supported"), -1;
    {
        const uint16_t probe = 1;
        if (*(const unsigned char *)&probe != 1)
            return fail("this program must run on a little-endian host"), -1;
    }
    memcpy(&e->eh, e->data, sizeof e->eh);
    if (e->eh.e_shoff == 0)
        return fail("no section header table"), -1;
    if (e->eh.e_shentsize != sizeof(Elf64_Shdr))
        return fail("unexpected section header size"), -1;

    /* The real section count is in sh[0].sh_size when e_shnum is 0 (SHN_UNDEF, >= SHN_LORESERVE). */
    Elf64_Shdr first;
    if (!in_file(e, e->eh.e_shoff, sizeof first))
        return fail("section header table outside the file"), -1;
    memcpy(&first, e->data + e->eh.e_shoff, sizeof first);
    e->shnum = e->eh.e_shnum ? e->eh.e_shnum : (size_t)first.sh_size;
    if (e->shnum == 0 || e->shnum > e->size / sizeof(Elf64_Shdr) ||
        !in_file(e, e->eh.e_shoff, (uint64_t)e->shnum * sizeof(Elf64_Shdr)))
        return fail("section header table outside the file"), -1;
    e->sh = malloc(e->shnum * sizeof(Elf64_Shdr));
    if (!e->sh)
        return fail("out of memory"), -1;
    memcpy(e->sh, e->data + e->eh.e_shoff, e->shnum * sizeof(Elf64_Shdr));
    for (size_t i = 0; i < e->shnum; i++) {
        const Elf64_Shdr *s = &e->sh[i];
        if (s->sh_type != SHT_NOBITS && s->sh_type != SHT_NULL && !in_file(e, s->sh_offset, s->sh_size))
            return fail("a section lies outside the file"), -1;
    }
    return 0;
}

static void unload(Elf *e)
{
    free(e->sh);
    free(e->data);
    memset(e, 0, sizeof *e);
}

/* First section of the given type, or NULL. */
static const Elf64_Shdr *find_section(const Elf *e, uint32_t type)
{
    for (size_t i = 0; i < e->shnum; i++)
        if (e->sh[i].sh_type == type)
            return &e->sh[i];
    return NULL;
}

/* The string table that section s links to, or NULL if the link is bad. */
static const Elf64_Shdr *linked_strtab(const Elf *e, const Elf64_Shdr *s)
{
    if (s->sh_link == 0 || s->sh_link >= e->shnum || e->sh[s->sh_link].sh_type != SHT_STRTAB)
        return NULL;
    return &e->sh[s->sh_link];
}

/* NUL-terminated string at offset off of string table st, or NULL if it does not fit. */
static const char *str_at(const Elf *e, const Elf64_Shdr *st, uint64_t off)
{
    if (off >= st->sh_size)
        return NULL;
    const char *p = (const char *)e->data + st->sh_offset + off;
    if (!memchr(p, '\0', st->sh_size - off))
        return NULL;
    return p;
}

#define MAX_MATCHES 64

typedef struct {
    size_t count;                    /* Vernaux entries named VERSION */
    uint64_t flags_off[MAX_MATCHES]; /* file offset of their vna_flags */
    uint16_t flags[MAX_MATCHES];
    uint16_t index[MAX_MATCHES];     /* vna_other: the version index symbols use */
} VersionMatches;

/* Walks SHT_GNU_verneed: Verneed entries chained by vn_next, each with vn_cnt Vernaux entries
   chained (from vn_aux) by vna_next; all offsets relative to the entry that holds them. */
static int find_version(const Elf *e, const char *version, VersionMatches *m)
{
    memset(m, 0, sizeof *m);
    const Elf64_Shdr *vr = find_section(e, SHT_GNU_verneed);
    if (!vr)
        return 0; /* needs no versions at all */
    const Elf64_Shdr *st = linked_strtab(e, vr);
    if (!st)
        return fail(".gnu.version_r does not link to a string table"), -1;

    const uint64_t end = vr->sh_offset + vr->sh_size;
    uint64_t off = vr->sh_offset;
    /* sh_info holds the number of Verneed entries; also bound the walk by the section size. */
    uint64_t max_entries = vr->sh_info ? vr->sh_info : vr->sh_size / sizeof(Elf64_Verneed);
    for (uint64_t i = 0; i < max_entries; i++) {
        Elf64_Verneed vn;
        if (off < vr->sh_offset || off > end || end - off < sizeof vn)
            return fail("Verneed entry outside .gnu.version_r"), -1;
        memcpy(&vn, e->data + off, sizeof vn);
        if (vn.vn_version != VER_NEED_CURRENT)
            return fail("unknown Verneed version"), -1;

        uint64_t aoff = off + vn.vn_aux;
        for (uint32_t j = 0; j < vn.vn_cnt; j++) {
            Elf64_Vernaux va;
            if (aoff < vr->sh_offset || aoff > end || end - aoff < sizeof va)
                return fail("Vernaux entry outside .gnu.version_r"), -1;
            memcpy(&va, e->data + aoff, sizeof va);
            const char *name = str_at(e, st, va.vna_name);
            if (!name)
                return fail("bad Vernaux name"), -1;
            if (strcmp(name, version) == 0) {
                if (m->count == MAX_MATCHES)
                    return fail("too many Vernaux entries with the same name"), -1;
                m->flags_off[m->count] = aoff + offsetof(Elf64_Vernaux, vna_flags);
                m->flags[m->count] = va.vna_flags;
                m->index[m->count] = va.vna_other;
                m->count++;
            }
            if (va.vna_next == 0)
                break;
            aoff += va.vna_next;
        }
        if (vn.vn_next == 0)
            break;
        off += vn.vn_next;
    }
    return 0;
}

/* 1 if LIB has DT_NEEDED == needed, 0 if not, -1 on error. */
static int has_needed(const Elf *e, const char *needed)
{
    const Elf64_Shdr *dyn = find_section(e, SHT_DYNAMIC);
    if (!dyn)
        return fail("no .dynamic section"), -1;
    const Elf64_Shdr *st = linked_strtab(e, dyn);
    if (!st)
        return fail(".dynamic does not link to a string table"), -1;
    size_t n = dyn->sh_size / sizeof(Elf64_Dyn);
    for (size_t i = 0; i < n; i++) {
        Elf64_Dyn d;
        memcpy(&d, e->data + dyn->sh_offset + i * sizeof d, sizeof d);
        if (d.d_tag == DT_NULL)
            break;
        if (d.d_tag == DT_NEEDED) {
            const char *name = str_at(e, st, d.d_un.d_val);
            if (name && strcmp(name, needed) == 0)
                return 1;
        }
    }
    return 0;
}

/* 1 if a dynamic symbol named symbol is bound to one of the version indexes in m, 0 if not, -1 on error. */
static int symbol_uses_version(const Elf *e, const char *symbol, const VersionMatches *m)
{
    const Elf64_Shdr *sym = find_section(e, SHT_DYNSYM);
    const Elf64_Shdr *ver = find_section(e, SHT_GNU_versym);
    if (!sym || !ver)
        return 0; /* without a .gnu.version table no symbol is bound to a version */
    const Elf64_Shdr *st = linked_strtab(e, sym);
    if (!st)
        return fail(".dynsym does not link to a string table"), -1;
    size_t nsym = sym->sh_size / sizeof(Elf64_Sym);
    size_t nver = ver->sh_size / sizeof(Elf64_Half);
    if (nver < nsym)
        return fail(".gnu.version is shorter than .dynsym"), -1;
    for (size_t i = 1; i < nsym; i++) {
        Elf64_Sym s;
        memcpy(&s, e->data + sym->sh_offset + i * sizeof s, sizeof s);
        const char *name = str_at(e, st, s.st_name);
        if (!name || strcmp(name, symbol) != 0)
            continue;
        Elf64_Half v;
        memcpy(&v, e->data + ver->sh_offset + i * sizeof v, sizeof v);
        v &= 0x7fff; /* bit 15 is VERSYM_HIDDEN */
        for (size_t k = 0; k < m->count; k++)
            if (v == m->index[k])
                return 1;
    }
    return 0;
}

static int check_loaded(const Elf *e, const char *version, const char *symbol, const char *needed);

static int cmd_check(const char *path, const char *version, const char *symbol, const char *needed)
{
    Elf e;
    int rc = load(&e, path) == 0 ? check_loaded(&e, version, symbol, needed) : EXIT_ERROR;
    unload(&e);
    return rc;
}

static int check_loaded(const Elf *e, const char *version, const char *symbol, const char *needed)
{
    if (HOST_MACHINE != EM_NONE && e->eh.e_machine != HOST_MACHINE) {
        printf("foreign-machine\n");
        return EXIT_FOREIGN;
    }
    VersionMatches m;
    if (find_version(e, version, &m) != 0)
        return EXIT_ERROR;
    if (m.count == 0) {
        printf("not-required\n");
        return EXIT_PATCHED;
    }
    int symver = symbol_uses_version(e, symbol, &m);
    int need = has_needed(e, needed);
    if (symver < 0 || need < 0)
        return EXIT_ERROR;
    int weak = 1;
    for (size_t k = 0; k < m.count; k++)
        if (!(m.flags[k] & VER_FLG_WEAK))
            weak = 0;

    if (!symver && need && weak) {
        printf("patched\n");
        return EXIT_PATCHED;
    }
    const char *sep = "";
    if (symver) {
        printf("%ssymver", sep);
        sep = " ";
    }
    if (!need) {
        printf("%sneeded", sep);
        sep = " ";
    }
    if (!weak)
        printf("%sweak", sep);
    printf("\n");
    return EXIT_NEEDS_PATCH;
}

static int cmd_weaken(const char *path, const char *version)
{
    Elf e;
    VersionMatches m;
    int rc = load(&e, path) == 0 ? find_version(&e, version, &m) : -1;
    unload(&e);
    if (rc != 0)
        return EXIT_ERROR;
    if (m.count == 0) {
        fprintf(stderr, "elf_weak_verneed: %s: no version need named %s\n", path, version);
        return EXIT_ERROR;
    }
    int fd = -1;
    for (size_t k = 0; k < m.count; k++) {
        if (m.flags[k] & VER_FLG_WEAK)
            continue;
        if (fd < 0 && (fd = open(path, O_WRONLY)) < 0)
            return fail(strerror(errno));
        uint16_t flags = (uint16_t)(m.flags[k] | VER_FLG_WEAK);
        if (pwrite(fd, &flags, sizeof flags, (off_t)m.flags_off[k]) != (ssize_t)sizeof flags) {
            close(fd);
            return fail("write error");
        }
    }
    if (fd >= 0 && close(fd) != 0)
        return fail("write error");
    return EXIT_PATCHED;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "check") == 0) {
        g_path = argv[2];
        return cmd_check(argv[2], argv[3], argv[4], argv[5]);
    }
    if (argc == 4 && strcmp(argv[1], "weaken") == 0) {
        g_path = argv[2];
        return cmd_weaken(argv[2], argv[3]);
    }
    fprintf(stderr,
            "usage: %s check LIB VERSION SYMBOL NEEDED\n"
            "       %s weaken LIB VERSION\n",
            argv[0], argv[0]);
    return EXIT_ERROR;
}
