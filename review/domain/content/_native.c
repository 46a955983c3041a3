/*
 * Compiled hot paths of the content filter (optional: review.domain.content.native falls
 * back to the pure-Python reference when this module cannot be built).
 *
 *   set_tables(table)  the per-character fold (code point -> folded string, "" deletes),
 *                      from normalize.tables(); call once per process before fold().
 *   fold(text)         the match view of text: exactly normalize.match_view(text) (the
 *                      per-character fold, the spaced-run join, the leetspeak fold), as
 *                      (view, starts, ends, joints): starts/ends are native int32 arrays
 *                      (bytes) mapping each view character to its original [start, end),
 *                      or None for the identity map; joints a tuple of view indices right
 *                      after a removed separator, or None.
 *   spaced_hits(buf)   byte offsets in a UTF-8 buffer where a run of three single
 *                      characters separated only by non-token bytes ends (a superset of
 *                      the spaced-out evasion on the view), found 64 bytes at a time.
 *
 * The regex semantics reproduced here (normalize.SPACED_RE, normalize.LEET_RE) are pinned
 * by differential tests against the Python reference (tests/unit/content/test_native.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ------------------------------------------------------------------ fold table */

#define NPAGES (0x110000 >> 8)
static int32_t identity_page[256];
static int32_t *pages[NPAGES];      /* entry: -1 identity, else index into entries */
static int32_t *entry_off = NULL;   /* offset into pool */
static int32_t *entry_len = NULL;   /* folded length (0: deleted) */
static Py_UCS4 *pool = NULL;
static int tables_ready = 0;
static Py_ssize_t max_exp = 1;       /* longest folded string */
static Py_UCS4 ascii_fold[128];      /* the fold of each ASCII character (all one-to-one) */
static unsigned char folds_to_letter[128]; /* the ASCII characters that fold to a view letter a-z (view_of's fast path) */

static inline int32_t lookup(Py_UCS4 cp) { return pages[cp >> 8][cp & 0xFF]; }

static void free_tables(void) {
    for (int i = 0; i < NPAGES; i++) {
        if (pages[i] && pages[i] != identity_page) PyMem_Free(pages[i]);
        pages[i] = identity_page;
    }
    PyMem_Free(entry_off); PyMem_Free(entry_len); PyMem_Free(pool);
    entry_off = entry_len = NULL; pool = NULL;
    tables_ready = 0;
}

static PyObject *set_tables(PyObject *self, PyObject *table) {
    if (!PyDict_Check(table)) {
        PyErr_SetString(PyExc_TypeError, "set_tables expects a dict {code point: folded str}");
        return NULL;
    }
    Py_ssize_t n = PyDict_Size(table), pos = 0, total = 0;
    PyObject *k, *v;
    while (PyDict_Next(table, &pos, &k, &v)) {
        if (!PyLong_Check(k) || !PyUnicode_Check(v)) {
            PyErr_SetString(PyExc_TypeError, "set_tables: keys must be int, values str");
            return NULL;
        }
        total += PyUnicode_GET_LENGTH(v);
    }
    free_tables();
    entry_off = PyMem_Malloc(sizeof(int32_t) * (n + 1));
    entry_len = PyMem_Malloc(sizeof(int32_t) * (n + 1));
    pool = PyMem_Malloc(sizeof(Py_UCS4) * (total + 1));
    if (!entry_off || !entry_len || !pool) { free_tables(); return PyErr_NoMemory(); }
    pos = 0;
    Py_ssize_t e = 0, at = 0;
    while (PyDict_Next(table, &pos, &k, &v)) {
        long cp = PyLong_AsLong(k);
        if (cp < 0 || cp >= 0x110000) {
            free_tables();
            if (!PyErr_Occurred()) PyErr_Format(PyExc_ValueError, "set_tables: code point %ld out of range", cp);
            return NULL;
        }
        Py_ssize_t len = PyUnicode_GET_LENGTH(v);
        int kind = PyUnicode_KIND(v);
        const void *data = PyUnicode_DATA(v);
        for (Py_ssize_t i = 0; i < len; i++) pool[at + i] = PyUnicode_READ(kind, data, i);
        entry_off[e] = (int32_t)at;
        entry_len[e] = (int32_t)len;
        int32_t *page = pages[cp >> 8];
        if (page == identity_page) {
            page = PyMem_Malloc(sizeof(int32_t) * 256);
            if (!page) { free_tables(); return PyErr_NoMemory(); }
            memcpy(page, identity_page, sizeof(identity_page));
            pages[cp >> 8] = page;
        }
        page[cp & 0xFF] = (int32_t)e;
        at += len;
        e++;
    }
    max_exp = 1;
    for (Py_ssize_t i = 0; i < e; i++) if (entry_len[i] > max_exp) max_exp = entry_len[i];
    for (int c = 0; c < 128; c++) {
        int32_t x = lookup((Py_UCS4)c);
        if (x >= 0 && entry_len[x] != 1) {
            free_tables();
            PyErr_Format(PyExc_ValueError, "set_tables: ASCII %d must fold to exactly one character", c);
            return NULL;
        }
        ascii_fold[c] = x < 0 ? (Py_UCS4)c : pool[entry_off[x]];
        folds_to_letter[c] = ascii_fold[c] >= 'a' && ascii_fold[c] <= 'z';
    }
    tables_ready = 1;
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ view classes */

/* Character classes of the view, by table (every class is ASCII). */
enum { C_LOWER = 1, C_DIGIT = 2, C_LEET = 4, C_TOK = 8, C_SEP = 16 };
static unsigned char cls[128];

static void init_classes(void) {
    for (int c = 0; c < 128; c++) {
        unsigned char k = 0;
        if (c >= 'a' && c <= 'z') k |= C_LOWER | C_TOK;
        if (c >= '0' && c <= '9') k |= C_DIGIT | C_TOK;
        if (c == '@' || c == '$' || c == '!' || c == '|') k |= C_TOK;
        if (strchr("013457@$!|", c) && c) k |= C_LEET;
        /* SEP_ASCII: " \t\r\n\"#%&'()*+,-./:;<=>?[\\]^_`{}~" */
        if (c && strchr(" \t\r\n\"#%&'()*+,-./:;<=>?[\\]^_`{}~", c)) k |= C_SEP;
        cls[c] = k;
    }
}

static inline unsigned char cl(Py_UCS4 c) { return c < 128 ? cls[c] : 0; }
static inline int is_lower(Py_UCS4 c) { return cl(c) & C_LOWER; }
static inline int is_alnum(Py_UCS4 c) { return cl(c) & (C_LOWER | C_DIGIT); }
/* [013457@$!|] */
static inline int is_leet(Py_UCS4 c) { return cl(c) & C_LEET; }
/* [a-z0-9@$!|] */
static inline int is_tok(Py_UCS4 c) { return cl(c) & C_TOK; }
/* [a-z013457@$!|] */
static inline int is_lw(Py_UCS4 c) { return cl(c) & (C_LOWER | C_LEET); }
static inline int is_sep(Py_UCS4 c) { return cl(c) & C_SEP; }
static inline Py_UCS4 leet_to(Py_UCS4 c) {
    switch (c) {
    case '0': return 'o'; case '1': return 'i'; case '3': return 'e'; case '4': return 'a';
    case '5': return 's'; case '7': return 't'; case '@': return 'a'; case '$': return 's';
    case '!': return 'i'; case '|': return 'i';
    }
    return c;
}

/* One SPACED_RE match starting at i, (?<!TOK)TOK(?:SEP{1,3}TOK(?!TOK)){2,}: its end, or -1. */
static Py_ssize_t spaced_at(const Py_UCS4 *s, Py_ssize_t n, Py_ssize_t i) {
    if (!is_tok(s[i]) || (i > 0 && is_tok(s[i - 1]))) return -1;
    Py_ssize_t j = i + 1, count = 1;
    for (;;) {
        Py_ssize_t k = j, seps = 0;
        while (k < n && seps < 3 && is_sep(s[k])) { k++; seps++; }
        if (seps == 0 || k >= n || !is_tok(s[k])) break;
        if (k + 1 < n && is_tok(s[k + 1])) break;
        count++;
        j = k + 1;
    }
    return count >= 3 ? j : -1;
}

typedef struct View View;
static int add_joint(View *w, Py_ssize_t at);
static inline int is_punct_leet(Py_UCS4 c) { return c == '!' || c == '|' || c == '$'; }
static inline int is_han(Py_UCS4 c) { return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF); }

/* LEET_RE.sub(_leet_run, src) into dst (same length), with re's left-to-right semantics. A closing run
 * that starts with ! | or $ also gets a joint where it starts (PUNCT_LEET in normalize.py): "kill!"
 * reads as "kill" + boundary as well as "killi". Returns -1 on a memory error. */
static int leet_fold(const Py_UCS4 *src, Py_UCS4 *dst, Py_ssize_t n, View *w, const Py_ssize_t *at, Py_ssize_t nat) {
    /* at: the indices of src's leetspeak characters, ascending (or NULL: look at every character) */
    Py_ssize_t p = 0, k = 0;
    while (p < n) {
        if (at) {
            while (k < nat && at[k] < p) k++;
            if (k == nat) break;
            p = at[k];
        } else if (!is_leet(src[p])) { p++; continue; }
        Py_ssize_t r = p;
        while (r < n && is_leet(src[r])) r++;
        Py_ssize_t end = -1;
        if (p > 0 && is_lower(src[p - 1]) && r < n && is_lower(src[r])) {
            end = r;  /* (?<=[a-z])L(?=[a-z]) */
        } else if ((p == 0 || !is_alnum(src[p - 1])) && r + 1 < n && is_lower(src[r]) && is_lw(src[r + 1])) {
            end = r;  /* (?<![a-z0-9])L(?=[a-z]LW) */
        } else if (p >= 2 && is_lw(src[p - 2]) && is_lower(src[p - 1])) {
            for (Py_ssize_t q = r; q > p; q--) {  /* (?<=LW[a-z])L(?![a-z0-9]), L+ backtracking */
                if (q == n || !is_alnum(src[q])) { end = q; break; }
            }
            if (end > p && is_punct_leet(src[p]) && add_joint(w, p) < 0) return -1;
        }
        if (end > p) {
            for (Py_ssize_t q = p; q < end; q++) dst[q] = leet_to(src[q]);
            p = end;
        } else {
            p++;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ fold() */

struct View {
    Py_UCS4 *a, *b;   /* work buffers; the view is out (one of them) */
    Py_UCS4 *out;
    int32_t *st;      /* original index of each view character (its end is st + 1) */
    Py_ssize_t cap;   /* capacity of a, b, st */
    Py_ssize_t m;     /* view length */
    int changed;      /* the map is not the identity */
    Py_ssize_t *jt;   /* joints: view indices right after a removed separator */
    Py_ssize_t nj, cj;
    Py_ssize_t *lp;   /* view indices of the leetspeak characters (the first pass records them) */
    Py_ssize_t clp;
    Py_ssize_t *cs;   /* original indices of the - . _ between two ASCII letters or digits (split_tokens starts there) */
    Py_ssize_t ncs, ccs;
};

/* One workspace, reused by every call (the GIL serializes them): no allocation per text. */
static View W;

static int reserve(View *w, Py_ssize_t need) {
    if (need <= w->cap) return 0;
    Py_ssize_t c = w->cap ? w->cap : 1024;
    while (c < need) c *= 2;
    Py_UCS4 *na = PyMem_Realloc(w->a, sizeof(Py_UCS4) * c);
    if (na) w->a = na;
    Py_UCS4 *nb = PyMem_Realloc(w->b, sizeof(Py_UCS4) * c);
    if (nb) w->b = nb;
    int32_t *ns = PyMem_Realloc(w->st, sizeof(int32_t) * c);
    if (ns) w->st = ns;
    Py_ssize_t *nl = PyMem_Realloc(w->lp, sizeof(Py_ssize_t) * c);
    if (nl) w->lp = nl;
    if (!na || !nb || !ns || !nl) { PyErr_NoMemory(); return -1; }
    w->cap = c;
    return 0;
}

/* Append x to a growable array of Py_ssize_t (*a, *n items, room for *cap): 0, or -1 with MemoryError. */
static int push_index(Py_ssize_t **a, Py_ssize_t *n, Py_ssize_t *cap, Py_ssize_t x) {
    if (*n == *cap) {
        Py_ssize_t c = *cap ? 2 * *cap : 16;
        Py_ssize_t *g = PyMem_Realloc(*a, sizeof(Py_ssize_t) * c);
        if (!g) { PyErr_NoMemory(); return -1; }
        *a = g; *cap = c;
    }
    (*a)[(*n)++] = x;
    return 0;
}

static int add_joint(View *w, Py_ssize_t at) { return push_index(&w->jt, &w->nj, &w->cj, at); }
static int add_cand(View *w, Py_ssize_t at) { return push_index(&w->cs, &w->ncs, &w->ccs, at); }

/* The words split_words and split_tokens look at: ASCII letters and digits, split by - . or _ */
static inline int ascii_letter(Py_UCS4 c) { return c < 128 && ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }
static inline int word_sep(Py_UCS4 c) { return c == '-' || c == '.' || c == '_'; }
static inline int ascii_alnum(Py_UCS4 c) { return ascii_letter(c) || (c >= '0' && c <= '9'); }

/* The match view of text into W.out[0:W.m] (0) or an exception (-1): per-character fold,
 * spaced-run join, leetspeak fold. W.st is always filled. */
static int view_of(PyObject *text) {
    View *w = &W;
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "fold expects str");
        return -1;
    }
    if (!tables_ready) {
        PyErr_SetString(PyExc_RuntimeError, "fold: set_tables() was not called");
        return -1;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (reserve(w, n * max_exp + 1) < 0) return -1;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_UCS4 *a = w->a;
    int32_t *st = w->st;
    Py_ssize_t o = 0, nl = 0;
    Py_ssize_t *lp = w->lp;
    int changed = 0;
    w->ncs = 0;
    /* One pass: the per-character fold, one loop per string kind (ASCII straight from ascii_fold, the rest by
     * table), and as each view character is written:
     * - a run of spaces (and of the separators that fold to one: tab, line break, -, _, .) reads as one space, so
     *   "pipe  bomb" and "pipe - bomb" read "pipe bomb" (normalize._collapse_spaces); a run between two Han
     *   characters goes (a word break there is no break);
     * - the leetspeak characters are listed (the leet fold visits only those);
     * - whether a spaced run (SPACED_RE: three or more one-character tokens, one to three separators apart) may
     *   be there: one-character tokens are counted; the exact search runs only when three come in a row. */
    int in_run = 0, maybe_spaced = 0;
    Py_UCS4 before_run = 0;
    int prev = 0;                    /* class of the previous character: 0 other, 1 token, 2 separator */
    Py_ssize_t toklen = 0, seps = 0, singles = 0, pend = 0;
#define EMIT(C, I)                                                                                        \
    do {                                                                                                  \
        Py_UCS4 c_ = (C);                                                                                 \
        if (c_ == ' ') {                                                                                  \
            if (in_run) { changed = 1; break; }  /* collapsed: as if it never came */                     \
            in_run = 1;                                                                                   \
            before_run = o ? a[o - 1] : 0;                                                                \
        } else if (in_run) {                                                                              \
            in_run = 0;                                                                                   \
            if (before_run && is_han(before_run) && is_han(c_)) { o--; changed = 1; }                     \
        }                                                                                                 \
        unsigned char k_ = cl(c_);                                                                        \
        if (k_ & C_TOK) {                                                                                 \
            if (prev == 1) { toklen++; singles = 0; }                                                     \
            else { toklen = 1; pend = (prev == 2 && seps <= 3 && singles) ? singles + 1 : 1; }            \
            prev = 1;                                                                                     \
        } else if (k_ & C_SEP) {                                                                          \
            if (prev == 1) {                                                                              \
                singles = toklen == 1 ? pend : 0;                                                         \
                maybe_spaced |= singles >= 3;                                                             \
                seps = 1;                                                                                 \
            } else if (prev == 2) {                                                                       \
                seps++;                                                                                   \
            } else {                                                                                      \
                seps = 1; singles = 0;                                                                    \
            }                                                                                             \
            prev = 2;                                                                                     \
        } else {                                                                                          \
            if (prev == 1 && toklen == 1 && pend >= 3) maybe_spaced = 1;                                  \
            prev = 0; singles = 0;                                                                        \
        }                                                                                                 \
        if (k_ & C_LEET) lp[nl++] = o;                                                                    \
        a[o] = c_; st[o] = (int32_t)(I); o++;                                                             \
    } while (0)
#define FOLD_LOOP(T)                                                                                      \
    do {                                                                                                  \
        const T *d = data;                                                                                \
        for (Py_ssize_t i = 0; i < n; i++) {                                                              \
            Py_UCS4 c = d[i];                                                                             \
            if (c < 0x80) {                                                                               \
                /* a letter inside a word (the previous view character a token, no space run open): what  \
                 * EMIT does then, without its branches (most characters of text are these) */             \
                if (prev == 1 && !in_run && folds_to_letter[c]) {                                            \
                    toklen++; singles = 0;                                                                \
                    a[o] = ascii_fold[c]; st[o] = (int32_t)i; o++;                                        \
                    continue;                                                                             \
                }                                                                                         \
                if ((c == '-' || c == '.' || c == '_') && i > 0 && i + 1 < n && ascii_alnum(d[i - 1])     \
                    && ascii_alnum(d[i + 1]) && add_cand(w, i) < 0) return -1;                           \
                EMIT(ascii_fold[c], i); continue;                                                         \
            }                                                                                             \
            int32_t e = lookup(c);                                                                        \
            if (e < 0) { EMIT(c, i); continue; }                                                          \
            if (entry_len[e] != 1) changed = 1;                                                           \
            const Py_UCS4 *f = pool + entry_off[e];                                                       \
            for (int32_t x = 0; x < entry_len[e]; x++) EMIT(f[x], i);                                     \
        }                                                                                                 \
    } while (0)
    if (kind == PyUnicode_1BYTE_KIND) FOLD_LOOP(Py_UCS1);
    else if (kind == PyUnicode_2BYTE_KIND) FOLD_LOOP(Py_UCS2);
    else FOLD_LOOP(Py_UCS4);
#undef FOLD_LOOP
#undef EMIT
    if (prev == 1 && toklen == 1 && pend >= 3) maybe_spaced = 1;
    Py_ssize_t m = o;
    int leet = nl > 0, positions = 1;
    w->nj = 0;
    /* the spaced-run join: keep every character outside the runs and the tokens inside */
    Py_ssize_t ms = m + 1, me = m + 1;
    for (Py_ssize_t i = 0; maybe_spaced && i + 1 < m; i++) {
        if (!is_sep(a[i + 1]) || !is_tok(a[i])) continue;  /* a run starts with a token and a separator */
        Py_ssize_t e = spaced_at(a, m, i);
        if (e >= 0) { ms = i; me = e; break; }
    }
    if (ms <= m) {
        Py_ssize_t wr = 0, i = 0;
        while (i < m) {
            if (i < ms) { a[wr] = a[i]; st[wr] = st[i]; wr++; i++; continue; }
            /* a run reads as one word (normalize._contextual): "s k i l l s" is not "kill"; only a leading or
               trailing "a" or "i" may be a word of its own ("do I k i l l him"), a joint after or before it */
            Py_ssize_t first = -1, last = -1;
            for (Py_ssize_t k = ms; k < me; k++) {
                if (is_sep(a[k])) continue;
                if (first < 0) first = wr;
                last = wr;
                a[wr] = a[k]; st[wr] = st[k]; wr++;
            }
            int lead = last > first && (a[first] == 'a' || a[first] == 'i');
            if (lead && add_joint(w, first + 1) < 0) return -1;
            if (last > first && (a[last] == 'a' || a[last] == 'i') && !(lead && last == first + 1) && add_joint(w, last) < 0) return -1;
            i = me;
            ms = me = m + 1;  /* the next run, searched from the end of this one */
            for (Py_ssize_t q = i; q + 1 < m; q++) {
                if (!is_sep(a[q + 1]) || !is_tok(a[q])) continue;
                Py_ssize_t e = spaced_at(a, m, q);
                if (e >= 0) { ms = q; me = e; break; }
            }
        }
        m = wr;
        changed = 1;
        leet = 1;
        positions = 0;  /* the join moved the characters: the leet fold looks at all of them */
    }
    if (leet) {
        memcpy(w->b, a, sizeof(Py_UCS4) * m);
        Py_ssize_t before = w->nj;
        if (leet_fold(a, w->b, m, w, positions ? lp : NULL, nl) < 0) return -1;
        if (w->nj > before && before > 0) {  /* keep the joints ascending (fold_batch walks them in order) */
            for (Py_ssize_t i = 1; i < w->nj; i++) {
                Py_ssize_t x = w->jt[i], j = i;
                while (j > 0 && w->jt[j - 1] > x) { w->jt[j] = w->jt[j - 1]; j--; }
                w->jt[j] = x;
            }
            Py_ssize_t u = 1;  /* and once each */
            for (Py_ssize_t i = 1; i < w->nj; i++) if (w->jt[i] != w->jt[u - 1]) w->jt[u++] = w->jt[i];
            w->nj = u;
        }
        w->out = w->b;
    } else {
        w->out = a;
    }
    w->m = m;
    w->changed = changed;
    return 0;
}

static PyObject *fold(PyObject *self, PyObject *arg) {
    if (view_of(arg) < 0) return NULL;
    View *w = &W;
    PyObject *result = NULL, *view = NULL, *pst = NULL, *pen = NULL, *pj = NULL;
    view = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, w->out, w->m);
    if (!view) goto done;
    if (w->changed) {
        pst = PyBytes_FromStringAndSize((const char *)w->st, (Py_ssize_t)sizeof(int32_t) * w->m);
        pen = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)sizeof(int32_t) * w->m);
        if (!pst || !pen) goto done;
        int32_t *en = (int32_t *)PyBytes_AS_STRING(pen);
        for (Py_ssize_t i = 0; i < w->m; i++) en[i] = w->st[i] + 1;
    } else {
        pst = Py_NewRef(Py_None);
        pen = Py_NewRef(Py_None);
    }
    if (w->nj) {
        pj = PyTuple_New(w->nj);
        if (!pj) goto done;
        for (Py_ssize_t i = 0; i < w->nj; i++) {
            PyObject *x = PyLong_FromSsize_t(w->jt[i]);
            if (!x) goto done;
            PyTuple_SET_ITEM(pj, i, x);
        }
    } else {
        pj = Py_NewRef(Py_None);
    }
    result = PyTuple_Pack(4, view, pst, pen, pj);
done:
    Py_XDECREF(view); Py_XDECREF(pst); Py_XDECREF(pen); Py_XDECREF(pj);
    return result;
}

/* ------------------------------------------------------------------ fold_views(), resolve_hits(), fold_batch() */

/* The byte map and joints of one fold_views() call, kept in C (a capsule): resolve_hits() reads them for the few
 * bytes where a term matched, so the map (4 bytes per view byte) is never copied into a Python object. A freed
 * capsule's buffers are kept for the next call (one spare), so a steady audit allocates nothing per chunk. */
typedef struct {
    int32_t *starts; Py_ssize_t cap_t, nt;  /* byte offset of each view in buf, plus its size (nt + 1 entries) */
    int32_t *omap; Py_ssize_t cap_m, size;  /* per byte of buf: the original index of its view character; -1 at NULs */
    Py_ssize_t *joints; Py_ssize_t cap_j, nj; /* ascending byte offsets right after a removed separator */
    Py_ssize_t *cands; Py_ssize_t cap_c, nc;  /* (text, original index) pairs: View.cs of each text, in order */
} Views;

#define VIEWS_CAPSULE "ethics_review._native.views"
static Views *spare_views = NULL;

static void views_free(Views *v) {
    PyMem_Free(v->starts); PyMem_Free(v->omap); PyMem_Free(v->joints); PyMem_Free(v->cands); PyMem_Free(v);
}

static void views_capsule_free(PyObject *cap) {
    Views *v = PyCapsule_GetPointer(cap, VIEWS_CAPSULE);
    if (!v) { PyErr_Clear(); return; }
    if (!spare_views) spare_views = v; else views_free(v);
}

static int arr_reserve(void **p, Py_ssize_t *cap, Py_ssize_t need, size_t item) {
    if (need <= *cap) return 0;
    Py_ssize_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *np = PyMem_Realloc(*p, item * (size_t)c);
    if (!np) { PyErr_NoMemory(); return -1; }
    *p = np; *cap = c;
    return 0;
}

/* Called after each text's view is written (W still holds it): 0, or -1 with an exception. */
typedef int (*ViewHook)(void *ctx, Py_ssize_t t, PyObject *text);

/* The views of texts as one new bytes object (each view as UTF-8, then one NUL byte); the map and joints into v;
 * hook (or NULL) sees each view in turn. */
static PyObject *fold_into(PyObject *arg, Views *v, ViewHook hook, void *ctx) {
    PyObject *seq = PySequence_Fast(arg, "fold_batch expects a sequence of str");
    if (!seq) return NULL;
    Py_ssize_t nt = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    Py_ssize_t est = 64;
    for (Py_ssize_t t = 0; t < nt; t++) {
        if (!PyUnicode_Check(items[t])) continue;  /* view_of raises below */
        int kind = PyUnicode_KIND(items[t]);
        est += PyUnicode_GET_LENGTH(items[t]) * (kind == PyUnicode_1BYTE_KIND ? 1 : kind == PyUnicode_2BYTE_KIND ? 3 : 4) + 1;
    }
    est += est / 16;
    PyObject *out = PyBytes_FromStringAndSize(NULL, est);
    if (!out) goto fail;
    Py_ssize_t cap = est, pos = 0;
    v->nj = 0;
    v->nc = 0;
    if (arr_reserve((void **)&v->starts, &v->cap_t, nt + 1, sizeof(int32_t)) < 0) goto fail;
    for (Py_ssize_t t = 0; t < nt; t++) {
        if (view_of(items[t]) < 0) goto fail;
        View *w = &W;
        Py_ssize_t m = w->m, need = pos + 4 * m + 1;
        if (need > INT32_MAX) { PyErr_SetString(PyExc_OverflowError, "fold_batch: more than 2 GB of views in one batch"); goto fail; }
        v->starts[t] = (int32_t)pos;
        if (need > cap) {
            Py_ssize_t c = cap * 2;
            while (c < need) c *= 2;
            if (_PyBytes_Resize(&out, c) < 0) goto fail;
            cap = c;
        }
        if (arr_reserve((void **)&v->omap, &v->cap_m, need, sizeof(int32_t)) < 0) goto fail;
        if (arr_reserve((void **)&v->joints, &v->cap_j, v->nj + w->nj, sizeof(Py_ssize_t)) < 0) goto fail;
        unsigned char *o0 = (unsigned char *)PyBytes_AS_STRING(out), *o = o0 + pos;
        int32_t *om = v->omap + pos;
        const Py_UCS4 *vv = w->out;
        const int32_t *vs = w->st;
        Py_ssize_t i = 0;
        for (Py_ssize_t q = 0; q <= w->nj; q++) {
            Py_ssize_t stop = q < w->nj ? w->jt[q] : m;
            if (stop > m) stop = m;
            for (; i < stop; i++) {
                Py_UCS4 c = vv[i];
                int32_t src = vs[i];
                if (c < 0x80) {
                    *o++ = (unsigned char)c; *om++ = src;
                } else if (c < 0x800) {
                    *o++ = 0xC0 | (c >> 6); *o++ = 0x80 | (c & 0x3F);
                    om[0] = om[1] = src; om += 2;
                } else if (c < 0x10000) {
                    *o++ = 0xE0 | (c >> 12); *o++ = 0x80 | ((c >> 6) & 0x3F); *o++ = 0x80 | (c & 0x3F);
                    om[0] = om[1] = om[2] = src; om += 3;
                } else {
                    *o++ = 0xF0 | (c >> 18); *o++ = 0x80 | ((c >> 12) & 0x3F); *o++ = 0x80 | ((c >> 6) & 0x3F); *o++ = 0x80 | (c & 0x3F);
                    om[0] = om[1] = om[2] = om[3] = src; om += 4;
                }
            }
            if (q < w->nj && stop < m) {  /* a joint before view character `stop`, once */
                Py_ssize_t at = (Py_ssize_t)(o - o0);
                if (v->nj == 0 || v->joints[v->nj - 1] != at) v->joints[v->nj++] = at;
            }
        }
        *o++ = 0; *om++ = -1;
        pos = (Py_ssize_t)(o - o0);
        if (w->ncs) {
            if (arr_reserve((void **)&v->cands, &v->cap_c, 2 * (v->nc + w->ncs), sizeof(Py_ssize_t)) < 0) goto fail;
            for (Py_ssize_t k = 0; k < w->ncs; k++) { v->cands[2 * v->nc] = t; v->cands[2 * v->nc + 1] = w->cs[k]; v->nc++; }
        }
        if (hook && hook(ctx, t, items[t]) < 0) goto fail;
    }
    v->starts[nt] = (int32_t)pos;
    v->nt = nt;
    v->size = pos;
    if (_PyBytes_Resize(&out, pos) < 0) goto fail;
    Py_DECREF(seq);
    return out;
fail:
    Py_XDECREF(out);
    Py_DECREF(seq);
    return NULL;
}

static Views *views_take(void) {
    Views *v = spare_views;
    if (v) { spare_views = NULL; return v; }
    v = PyMem_Calloc(1, sizeof(Views));
    if (!v) PyErr_NoMemory();
    return v;
}

/* fold_views(texts) -> (buf, views): buf as fold_batch's; views an opaque handle for resolve_hits. */
static PyObject *fold_views(PyObject *self, PyObject *arg) {
    Views *v = views_take();
    if (!v) return NULL;
    PyObject *buf = fold_into(arg, v, NULL, NULL);
    if (!buf) { if (!spare_views) spare_views = v; else views_free(v); return NULL; }
    PyObject *cap = PyCapsule_New(v, VIEWS_CAPSULE, views_capsule_free);
    if (!cap) { Py_DECREF(buf); views_free(v); return NULL; }
    PyObject *r = PyTuple_Pack(2, buf, cap);
    Py_DECREF(buf); Py_DECREF(cap);
    return r;
}

/* fold_batch(texts) -> (buf, starts, omap, joints):
 *   buf     the views of texts as UTF-8, each followed by one NUL byte;
 *   starts  int32 byte offset of each view in buf, plus len(buf) (n + 1 entries);
 *   omap    int32 per byte of buf: the original index (in its own text) of the view
 *           character owning that byte (-1 for the NULs); a view span [sb, eb) comes from
 *           [omap[sb], omap[eb - 1] + 1) of the original;
 *   joints  byte offsets in buf of view characters right after a removed separator. */
static PyObject *fold_batch(PyObject *self, PyObject *arg) {
    Views *v = views_take();
    if (!v) return NULL;
    PyObject *buf = fold_into(arg, v, NULL, NULL), *ps = NULL, *pm = NULL, *pj = NULL, *r = NULL;
    if (!buf) goto done;
    ps = PyBytes_FromStringAndSize((const char *)v->starts, (Py_ssize_t)sizeof(int32_t) * (v->nt + 1));
    pm = PyBytes_FromStringAndSize((const char *)v->omap, (Py_ssize_t)sizeof(int32_t) * v->size);
    pj = PyList_New(v->nj);
    if (!ps || !pm || !pj) goto done;
    for (Py_ssize_t k = 0; k < v->nj; k++) {
        PyObject *x = PyLong_FromSsize_t(v->joints[k]);
        if (!x) goto done;
        PyList_SET_ITEM(pj, k, x);
    }
    r = PyTuple_Pack(4, buf, ps, pm, pj);
done:
    Py_XDECREF(buf); Py_XDECREF(ps); Py_XDECREF(pm); Py_XDECREF(pj);
    if (!spare_views) spare_views = v; else views_free(v);
    return r;
}

static inline int alnum_byte(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

static int has_joint(const Views *v, Py_ssize_t at) {
    Py_ssize_t lo = 0, hi = v->nj;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (v->joints[mid] < at) lo = mid + 1; else hi = mid;
    }
    return lo < v->nj && v->joints[lo] == at;
}

typedef struct { Py_ssize_t a, b; } Span;
static int span_cmp(const void *x, const void *y) {
    Py_ssize_t p = ((const Span *)x)->a, q = ((const Span *)y)->a;
    return (p > q) - (p < q);
}

/* resolve_hits(views, buf, flat, lens, flags, n_terms) -> [(text index, start, end, pattern id)]
 * flat: [pattern id, end, ...] byte matches in buf (a term below n_terms, an allow-list entry from there);
 * lens: int32 byte length per pattern; flags: one byte per pattern, 1 = must start a word, 2 = must end one.
 * An allow-list entry counts where it stands as a word (its flags); a term counts where it stands as a word
 * (a removed separator is a boundary too) and no counted allow-list entry covers it. Spans are in the original
 * text, in the order of flat (KeywordSet.find_flat's rules, in C). */
static PyObject *resolve_hits(PyObject *self, PyObject *args) {
    PyObject *cap, *flat, *out = NULL;
    Py_buffer buf = {0}, lens = {0}, flags = {0};
    Py_ssize_t n_terms;
    Span *allowed = NULL;
    Py_ssize_t *pmax = NULL;
    if (!PyArg_ParseTuple(args, "Oy*O!y*y*n", &cap, &buf, &PyList_Type, &flat, &lens, &flags, &n_terms)) return NULL;
    Views *v = PyCapsule_GetPointer(cap, VIEWS_CAPSULE);
    if (!v) goto done;
    Py_ssize_t size = buf.len, npid = lens.len / (Py_ssize_t)sizeof(int32_t), nf = PyList_GET_SIZE(flat);
    if (size != v->size || flags.len < npid || nf % 2) {
        PyErr_SetString(PyExc_ValueError, "resolve_hits: buf, lens, flags or flat do not fit the views");
        goto done;
    }
    const unsigned char *b = buf.buf;
    const int32_t *ln = lens.buf;
    const unsigned char *fl = flags.buf;
    PyObject **items = PySequence_Fast_ITEMS(flat);
    Py_ssize_t na = 0;
    for (Py_ssize_t k = 0; k < nf; k += 2) {
        Py_ssize_t pid = PyLong_AsSsize_t(items[k]), e = PyLong_AsSsize_t(items[k + 1]);
        if ((pid == -1 || e == -1) && PyErr_Occurred()) goto done;
        if (pid < 0 || pid >= npid || e > size || e - ln[pid] < 0) { PyErr_SetString(PyExc_ValueError, "resolve_hits: a match outside buf"); goto done; }
        if (pid < n_terms) continue;
        Py_ssize_t s = e - ln[pid];
        if ((fl[pid] & 1) && s > 0 && alnum_byte(b[s - 1])) continue;
        if ((fl[pid] & 2) && e < size && alnum_byte(b[e])) continue;
        if (!allowed) {
            allowed = PyMem_Malloc(sizeof(Span) * (size_t)(nf / 2));
            if (!allowed) { PyErr_NoMemory(); goto done; }
        }
        allowed[na].a = s; allowed[na].b = e; na++;
    }
    if (na) {
        qsort(allowed, (size_t)na, sizeof(Span), span_cmp);
        pmax = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)na);
        if (!pmax) { PyErr_NoMemory(); goto done; }
        for (Py_ssize_t k = 0; k < na; k++) pmax[k] = k && pmax[k - 1] > allowed[k].b ? pmax[k - 1] : allowed[k].b;
    }
    out = PyList_New(0);
    if (!out) goto done;
    for (Py_ssize_t k = 0; k < nf; k += 2) {
        Py_ssize_t pid = PyLong_AsSsize_t(items[k]), e = PyLong_AsSsize_t(items[k + 1]);
        if (pid >= n_terms) continue;
        Py_ssize_t s = e - ln[pid];
        if ((fl[pid] & 1) && s > 0 && alnum_byte(b[s - 1]) && !has_joint(v, s)) continue;
        if ((fl[pid] & 2) && e < size && alnum_byte(b[e]) && !has_joint(v, e)) continue;
        if (na) {  /* the last allowed span starting at or before s: does any of those reach e? */
            Py_ssize_t lo = 0, hi = na;
            while (lo < hi) { Py_ssize_t mid = (lo + hi) / 2; if (allowed[mid].a <= s) lo = mid + 1; else hi = mid; }
            if (lo > 0 && pmax[lo - 1] >= e) continue;
        }
        if (e <= s) continue;  /* an empty pattern: nothing to report */
        Py_ssize_t lo = 0, hi = v->nt + 1;  /* the view holding s: the last start <= s */
        while (lo < hi) { Py_ssize_t mid = (lo + hi) / 2; if (v->starts[mid] <= s) lo = mid + 1; else hi = mid; }
        PyObject *t = Py_BuildValue("(nnnn)", lo - 1, (Py_ssize_t)v->omap[s], (Py_ssize_t)v->omap[e - 1] + 1, pid);
        if (!t || PyList_Append(out, t) < 0) { Py_XDECREF(t); Py_CLEAR(out); goto done; }
        Py_DECREF(t);
    }
done:
    PyMem_Free(allowed); PyMem_Free(pmax);
    PyBuffer_Release(&buf); PyBuffer_Release(&lens); PyBuffer_Release(&flags);
    return out;
}

/* ------------------------------------------------------------------ spaced_hits() */

static inline int tok_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '@' || c == '$' || c == '!' || c == '|';
}

static uint64_t tok_mask64(const unsigned char *p) {
#if defined(__SSE2__)
    uint64_t mask = 0;
    const __m128i a1 = _mm_set1_epi8('a' - 1), z1 = _mm_set1_epi8('z' + 1);
    const __m128i d1 = _mm_set1_epi8('0' - 1), d2 = _mm_set1_epi8('9' + 1);
    const __m128i x20 = _mm_set1_epi8(0x20);
    const __m128i at = _mm_set1_epi8('@'), dol = _mm_set1_epi8('$'), ex = _mm_set1_epi8('!'), bar = _mm_set1_epi8('|');
    for (int q = 0; q < 4; q++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * q));
        __m128i lo = _mm_or_si128(v, x20);
        __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(lo, a1), _mm_cmplt_epi8(lo, z1));
        __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, d1), _mm_cmplt_epi8(v, d2));
        __m128i sym = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, at), _mm_cmpeq_epi8(v, dol)),
                                   _mm_or_si128(_mm_cmpeq_epi8(v, ex), _mm_cmpeq_epi8(v, bar)));
        uint64_t bits = (uint32_t)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(letter, digit), sym));
        mask |= bits << (16 * q);
    }
    return mask;
#else
    uint64_t mask = 0;
    for (int i = 0; i < 64; i++) mask |= (uint64_t)tok_byte(p[i]) << i;
    return mask;
#endif
}

static inline uint64_t tail_mask(const unsigned char *buf, Py_ssize_t n, Py_ssize_t at) {
    if (at + 64 <= n) return tok_mask64(buf + at);
    unsigned char tail[64];
    memset(tail, 0, 64);
    if (at < n) memcpy(tail, buf + at, n - at);
    return tok_mask64(tail);
}

/* The scan behind spaced_hits. -1 on error. */
static int spaced_scan(const unsigned char *buf, Py_ssize_t n, PyObject *out) {
    Py_ssize_t last_single = -1, last_n = -1, count = 0;
    uint64_t prev_top = 0;  /* was the byte before this block a token */
    uint64_t cur = n > 0 ? tail_mask(buf, n, 0) : 0;
    for (Py_ssize_t base = 0; base < n; base += 64) {
        uint64_t next = base + 64 < n ? tail_mask(buf, n, base + 64) : 0;
        uint64_t T = cur;
        if (T) {
            uint64_t left = (T << 1) | prev_top;
            uint64_t right = (T >> 1) | ((next & 1) << 63);
            uint64_t single = T & ~left & ~right;
            uint64_t N = T & ~single;
            uint64_t s = single;
            while (s) {
                int bit = __builtin_ctzll(s);
                Py_ssize_t p = base + bit;
                uint64_t below = bit ? (N & ((1ULL << bit) - 1)) : 0;
                Py_ssize_t ln = below ? base + 63 - __builtin_clzll(below) : last_n;
                count = (ln > last_single) ? 1 : count + 1;
                last_single = p;
                if (count >= 3) {
                    PyObject *v = PyLong_FromSsize_t(p);
                    if (!v || PyList_Append(out, v) < 0) { Py_XDECREF(v); return -1; }
                    Py_DECREF(v);
                }
                s &= s - 1;
            }
            if (N) last_n = base + 63 - __builtin_clzll(N);
        }
        prev_top = T >> 63;
        cur = next;
    }
    return 0;
}

static PyObject *spaced_hits(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *out = PyList_New(0);
    int rc = -1;
    if (out) {
        rc = spaced_scan(view.buf, view.len, out);
    }
    PyBuffer_Release(&view);
    if (rc < 0) { Py_XDECREF(out); return NULL; }
    return out;
}

/* ------------------------------------------------------------------ han_gaps() */

/* A CJK character (a 3-byte UTF-8 sequence led by 0xE3-0xE9: U+3000-U+9FFF) ending at buf[i-1]. */
static inline int cjk_before(const unsigned char *b, Py_ssize_t i) {
    return i >= 3 && b[i - 3] >= 0xE3 && b[i - 3] <= 0xE9 && (b[i - 2] & 0xC0) == 0x80 && (b[i - 1] & 0xC0) == 0x80;
}

/* Length of the separator at buf[i] (0: none): ASCII space, tab, line break, - . _, NBSP, ideographic space,
 * full-width hyphen, full stop, low line (what the view folds to a space). */
static inline Py_ssize_t gap_sep(const unsigned char *b, Py_ssize_t n, Py_ssize_t i) {
    unsigned char c = b[i];
    if (c == ' ' || c == '-' || c == '.' || c == '_' || c == '\t' || c == '\n' || c == '\r') return 1;
    if (c == 0xC2 && i + 1 < n && b[i + 1] == 0xA0) return 2;
    if (c == 0xE3 && i + 2 < n && b[i + 1] == 0x80 && b[i + 2] == 0x80) return 3;
    if (c == 0xEF && i + 2 < n && b[i + 1] == 0xBC && (b[i + 2] == 0x8D || b[i + 2] == 0x8E || b[i + 2] == 0xBF)) return 3;
    return 0;
}

/* Offsets in a UTF-8 buffer where a CJK character, separators, and another CJK character meet ("自 杀", "自-杀"):
 * the end of the gap. A superset of the view's Chinese gaps (normalize.HAN_GAP_RE), for the raw-bytes prefilter
 * (one pass with a byte test, instead of a Hyperscan database without a literal). */
/* Per 64-byte block: CJK lead bytes (0xE3-0xE9), and (only when the block or the one before holds one) bytes that
 * may start a separator (gap_sep; a tab or line break inside a JSONL string is escaped, so the raw bytes never
 * hold one between two characters there). An ASCII block costs two compares per 16 bytes. */
static void gap_masks64(const unsigned char *p, uint64_t *sep, uint64_t *lead, uint64_t carry) {
#if defined(__SSE2__)
    uint64_t s = 0, l = 0;
    const __m128i flip = _mm_set1_epi8((char)0x80);
    const __m128i lo = _mm_set1_epi8((char)(0xE2 ^ 0x80)), hi = _mm_set1_epi8((char)(0xEA ^ 0x80));
    __m128i v[4];
    for (int q = 0; q < 4; q++) {
        v[q] = _mm_loadu_si128((const __m128i *)(p + 16 * q));
        __m128i x = _mm_xor_si128(v[q], flip);
        l |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_and_si128(_mm_cmpgt_epi8(x, lo), _mm_cmplt_epi8(x, hi))) << (16 * q);
    }
    if (l | carry) {  /* any ASCII byte (the sign bit clear), or a lead byte of a non-ASCII separator */
        for (int q = 0; q < 4; q++) {
            __m128i m = _mm_or_si128(_mm_cmpeq_epi8(v[q], _mm_set1_epi8((char)0xC2)),
                                     _mm_or_si128(_mm_cmpeq_epi8(v[q], _mm_set1_epi8((char)0xE3)), _mm_cmpeq_epi8(v[q], _mm_set1_epi8((char)0xEF))));
            uint32_t ascii = ~(uint32_t)_mm_movemask_epi8(v[q]) & 0xFFFFu;
            s |= (uint64_t)(ascii | (uint32_t)_mm_movemask_epi8(m)) << (16 * q);
        }
    }
    *sep = s; *lead = l;
#else
    uint64_t s = 0, l = 0;
    (void)carry;
    for (int i = 0; i < 64; i++) {
        unsigned char c = p[i];
        s |= (uint64_t)(c < 0x80 || c == 0xC2 || c == 0xE3 || c == 0xEF) << i;  /* as the SSE2 path: any ASCII byte */
        l |= (uint64_t)(c >= 0xE3 && c <= 0xE9) << i;
    }
    *sep = s; *lead = l;
#endif
}

#define HAN_LO 0x3000
#define HAN_SPAN 0x7000  /* U+3000-U+9FFF */

static inline Py_ssize_t cp3(const unsigned char *p) { return ((p[0] & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F); }
static inline int bit_at(const unsigned char *bits, Py_ssize_t k) { return k >= 0 && k < HAN_SPAN && (bits[k >> 3] >> (k & 7)) & 1; }

/* Offsets in a UTF-8 buffer where a CJK character, separators, and another CJK character meet ("自 杀", "自-杀"):
 * the end of the gap, when the character before can be followed, and the one after preceded, within a library
 * term (``bits``: two bit sets over U+3000-U+9FFF, "may go on" then "may follow"). A superset of the view's gaps
 * inside a term (normalize.HAN_GAP_RE), for the raw-bytes prefilter: 64 bytes at a time, a separator 3 bytes
 * after a CJK lead byte is checked in full. */
static PyObject *han_gaps(PyObject *self, PyObject *args) {
    Py_buffer view, bv;
    PyObject *arg;
    if (!PyArg_ParseTuple(args, "Oy*", &arg, &bv)) return NULL;
    if (bv.len < 2 * HAN_SPAN / 8) { PyBuffer_Release(&bv); PyErr_SetString(PyExc_ValueError, "han_gaps: bits too short"); return NULL; }
    const unsigned char *go_on = bv.buf, *follow = (const unsigned char *)bv.buf + HAN_SPAN / 8;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) { PyBuffer_Release(&bv); return NULL; }
    const unsigned char *b = view.buf;
    Py_ssize_t n = view.len;
    PyObject *out = PyList_New(0);
    if (!out) { PyBuffer_Release(&view); PyBuffer_Release(&bv); return NULL; }
    uint64_t prev_lead = 0;
    Py_ssize_t next_ok = 0;  /* the end of the last gap reported: later candidates inside it are skipped */
    for (Py_ssize_t base = 0; base < n; base += 64) {
        uint64_t sep, lead;
        uint64_t carry = prev_lead >> 61;
        if (base + 64 <= n) {
            gap_masks64(b + base, &sep, &lead, carry);
        } else {
            unsigned char tail[64];
            memset(tail, 0, 64);
            memcpy(tail, b + base, n - base);
            gap_masks64(tail, &sep, &lead, carry);
        }
        uint64_t cand = sep & ((lead << 3) | carry);
        prev_lead = lead;
        while (cand) {
            Py_ssize_t i = base + __builtin_ctzll(cand);
            cand &= cand - 1;
            if (i < next_ok || i >= n) continue;
            Py_ssize_t k = gap_sep(b, n, i);
            if (!k || !cjk_before(b, i)) continue;
            Py_ssize_t j = i + k;
            while (j < n && (k = gap_sep(b, n, j))) j += k;
            if (j + 2 < n && b[j] >= 0xE3 && b[j] <= 0xE9 && (b[j + 1] & 0xC0) == 0x80 && (b[j + 2] & 0xC0) == 0x80
                    && bit_at(go_on, cp3(b + i - 3) - HAN_LO) && bit_at(follow, cp3(b + j) - HAN_LO)) {
                PyObject *v = PyLong_FromSsize_t(j);
                if (!v || PyList_Append(out, v) < 0) { Py_XDECREF(v); Py_DECREF(out); PyBuffer_Release(&view); PyBuffer_Release(&bv); return NULL; }
                Py_DECREF(v);
            }
            next_ok = j;
        }
    }
    PyBuffer_Release(&view);
    PyBuffer_Release(&bv);
    return out;
}

/* ------------------------------------------------------------------ classifier features */

/* The classifier's features (classifier.features: Latin words "w", word bigrams "b", char
 * 4-grams inside words longer than 4 "c", CJK 1-3-grams "z") of the match view, hashed
 * (64-bit FNV-1a over the feature string's code points) instead of built as strings, each
 * distinct feature counted once and its weight row (integers) added to per-class sums. */

#define FNV0 0xcbf29ce484222325ULL
static inline uint64_t fnv(uint64_t h, Py_UCS4 c) { return (h ^ c) * 0x100000001b3ULL; }

typedef struct {
    uint64_t *keys;   /* open addressing, 0 = empty */
    int32_t *row;     /* row of each slot */
    size_t mask;
    int64_t *w;       /* rows x ncls weights */
    Py_ssize_t ncls;
} Model;

static void model_free(PyObject *cap) {
    Model *m = PyCapsule_GetPointer(cap, "ethics_review.model");
    if (!m) return;
    PyMem_Free(m->keys); PyMem_Free(m->row); PyMem_Free(m->w); PyMem_Free(m);
}

static uint64_t str_hash(PyObject *s) {
    uint64_t h = FNV0;
    int kind = PyUnicode_KIND(s);
    const void *d = PyUnicode_DATA(s);
    for (Py_ssize_t i = 0, n = PyUnicode_GET_LENGTH(s); i < n; i++) h = fnv(h, PyUnicode_READ(kind, d, i));
    return h ? h : 1;
}

static PyObject *feature_hash(PyObject *self, PyObject *arg) {
    if (!PyUnicode_Check(arg)) { PyErr_SetString(PyExc_TypeError, "feature_hash expects str"); return NULL; }
    return PyLong_FromUnsignedLongLong(str_hash(arg));
}

/* model_new(weights: dict[str, list[int]], ncls) -> capsule */
static PyObject *model_new(PyObject *self, PyObject *args) {
    PyObject *table;
    Py_ssize_t ncls;
    if (!PyArg_ParseTuple(args, "O!n", &PyDict_Type, &table, &ncls)) return NULL;
    Py_ssize_t n = PyDict_Size(table);
    size_t cap = 16;
    while (cap < (size_t)(2 * n + 2)) cap <<= 1;
    Model *m = PyMem_Calloc(1, sizeof(Model));
    if (!m) return PyErr_NoMemory();
    m->keys = PyMem_Calloc(cap, sizeof(uint64_t));
    m->row = PyMem_Calloc(cap, sizeof(int32_t));
    m->w = PyMem_Calloc((size_t)(n ? n : 1) * (size_t)ncls, sizeof(int64_t));
    m->mask = cap - 1;
    m->ncls = ncls;
    PyObject *cap_obj = PyCapsule_New(m, "ethics_review.model", model_free);
    if (!cap_obj) { PyMem_Free(m->keys); PyMem_Free(m->row); PyMem_Free(m->w); PyMem_Free(m); return NULL; }
    if (!m->keys || !m->row || !m->w) { Py_DECREF(cap_obj); return PyErr_NoMemory(); }
    PyObject *k, *v;
    Py_ssize_t pos = 0, r = 0;
    while (PyDict_Next(table, &pos, &k, &v)) {
        if (!PyUnicode_Check(k) || !PyList_Check(v) || PyList_GET_SIZE(v) != ncls) {
            Py_DECREF(cap_obj);
            PyErr_SetString(PyExc_ValueError, "model_new: keys must be str and rows lists of ncls ints");
            return NULL;
        }
        for (Py_ssize_t c = 0; c < ncls; c++) {
            long long x = PyLong_AsLongLong(PyList_GET_ITEM(v, c));
            if (x == -1 && PyErr_Occurred()) { Py_DECREF(cap_obj); return NULL; }
            m->w[r * ncls + c] = x;
        }
        uint64_t h = str_hash(k);
        size_t i = h & m->mask;
        while (m->keys[i] && m->keys[i] != h) i = (i + 1) & m->mask;
        if (m->keys[i] == h) {  /* two feature strings with one 64-bit hash: refuse, never mix them */
            Py_DECREF(cap_obj);
            PyErr_SetString(PyExc_ValueError, "model_new: feature hash collision");
            return NULL;
        }
        m->keys[i] = h;
        m->row[i] = (int32_t)r;
        r++;
    }
    return cap_obj;
}

/* The distinct features of one text: a stamped open-addressing set, reused across calls. */
static uint64_t *fs_keys = NULL;
static uint32_t *fs_stamp = NULL;
static size_t fs_cap = 0;
static uint32_t fs_gen = 0;

static int fs_reserve(size_t items) {
    size_t need = 16;
    while (need < 2 * items + 16) need <<= 1;
    if (need > fs_cap) {
        uint64_t *k = PyMem_Realloc(fs_keys, need * sizeof(uint64_t));
        if (k) fs_keys = k;
        uint32_t *st = PyMem_Realloc(fs_stamp, need * sizeof(uint32_t));
        if (st) fs_stamp = st;
        if (!k || !st) { PyErr_NoMemory(); return -1; }
        memset(fs_stamp, 0, need * sizeof(uint32_t));
        fs_cap = need;
        fs_gen = 0;
    }
    if (++fs_gen == 0) { memset(fs_stamp, 0, fs_cap * sizeof(uint32_t)); fs_gen = 1; }
    return 0;
}

static inline int fs_add(uint64_t h) {  /* 1 when new */
    if (!h) h = 1;
    size_t mask = fs_cap - 1, i = h & mask;
    while (fs_stamp[i] == fs_gen) {
        if (fs_keys[i] == h) return 0;
        i = (i + 1) & mask;
    }
    fs_stamp[i] = fs_gen;
    fs_keys[i] = h;
    return 1;
}

static inline int fs_has(uint64_t h) {
    size_t mask = fs_cap - 1, i = h & mask;
    while (fs_stamp[i] == fs_gen) {
        if (fs_keys[i] == h) return 1;
        i = (i + 1) & mask;
    }
    return 0;
}


typedef struct { const Model *m; int64_t *sums; Py_ssize_t n; } Acc;

static inline void feature(Acc *a, uint64_t h) {
    if (!h) h = 1;
    if (!fs_add(h)) return;  /* seen in this text */
    a->n++;
    const Model *m = a->m;
    size_t j = h & m->mask;
    while (m->keys[j]) {
        if (m->keys[j] == h) {
            const int64_t *w = m->w + (size_t)m->row[j] * m->ncls;
            for (Py_ssize_t c = 0; c < m->ncls; c++) a->sums[c] += w[c];
            return;
        }
        j = (j + 1) & m->mask;
    }
}

static inline int is_cjk(Py_UCS4 c) {
    return (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF);
}

/* model_sums(model, text, max_chars) -> (sums: tuple[int, ...], n_features, units) */
static PyObject *model_sums_w(Model *m);

/* The (per-class sums, distinct features, evidence units) of one text as a new tuple. */
static PyObject *model_sums_of(Model *m, PyObject *text, Py_ssize_t max_chars) {
    if (!PyUnicode_Check(text)) { PyErr_SetString(PyExc_TypeError, "model_sums expects str"); return NULL; }
    Py_ssize_t len = PyUnicode_GET_LENGTH(text);
    PyObject *head = len > max_chars ? PyUnicode_Substring(text, 0, max_chars) : Py_NewRef(text);
    if (!head) return NULL;
    int rc = view_of(head);
    Py_DECREF(head);
    if (rc < 0) return NULL;
    return model_sums_w(m);
}

/* model_sums of the view in W (view_of has just run). */
static PyObject *model_sums_w(Model *m) {
    const Py_UCS4 *v = W.out;
    Py_ssize_t n = W.m;
    if (fs_reserve((size_t)(4 * n + 16)) < 0) return NULL;
    int64_t sums[64];
    if (m->ncls > 64) { PyErr_SetString(PyExc_ValueError, "model_sums: at most 64 classes"); return NULL; }
    memset(sums, 0, sizeof(sums));
    Acc a = {m, sums, 0};
    Py_ssize_t words = 0, cjk = 0;
    uint64_t bpre = fnv(fnv(fnv(FNV0, 'b'), '^'), ' ');  /* "b" + previous word + " " ("^" before the first word) */
    Py_ssize_t i = 0;
    while (i < n) {
        Py_UCS4 c = v[i];
        if (is_alnum(c)) {  /* [a-z0-9]+(?:'[a-z]+)? */
            Py_ssize_t j = i;
            while (j < n && is_alnum(v[j])) j++;
            if (j + 1 < n && v[j] == '\'' && is_lower(v[j + 1])) {
                j += 1;
                while (j < n && is_lower(v[j])) j++;
            }
            /* three independent FNV chains in one pass (the CPU overlaps them): the word "w", the bigram "b" with
             * the previous word (its prefix "b" + previous + " " kept from that word), and the next bigram's prefix */
            uint64_t hw = fnv(FNV0, 'w'), hb = bpre, hn = fnv(FNV0, 'b');
            for (Py_ssize_t k = i; k < j; k++) {
                Py_UCS4 ch = v[k];
                hw = fnv(hw, ch); hb = fnv(hb, ch); hn = fnv(hn, ch);
            }
            feature(&a, hw);
            feature(&a, hb);
            bpre = fnv(hn, ' ');
            Py_ssize_t wl = j - i;
            if (wl > 4) {  /* 4-grams of " " + w + " ": hashed first (independent chains), then looked up */
                uint64_t gh[64];
                Py_ssize_t ng = wl - 1, done = 0;  /* grams start at s0 = -1 .. wl - 3 */
                while (done < ng) {
                    Py_ssize_t batch = ng - done < 64 ? ng - done : 64;
                    for (Py_ssize_t g = 0; g < batch; g++) {
                        Py_ssize_t s0 = done + g - 1;
                        uint64_t h = fnv(FNV0, 'c');
                        for (Py_ssize_t k = s0; k < s0 + 4; k++) h = fnv(h, (k < 0 || k >= wl) ? ' ' : v[i + k]);
                        gh[g] = h;
                    }
                    for (Py_ssize_t g = 0; g < batch; g++) feature(&a, gh[g]);
                    done += batch;
                }
            }
            words++;
            i = j;
        } else if (is_cjk(c)) {
            Py_ssize_t j = i;
            while (j < n && is_cjk(v[j])) j++;
            cjk += j - i;
            for (Py_ssize_t k = i; k < j; k++) {
                uint64_t h = fnv(fnv(FNV0, 'z'), v[k]);
                feature(&a, h);
                if (k + 1 < j) {
                    h = fnv(h, v[k + 1]);
                    feature(&a, h);
                    if (k + 2 < j) feature(&a, fnv(h, v[k + 2]));
                }
            }
            i = j;
        } else {
            i++;
        }
    }
    PyObject *t = PyTuple_New(m->ncls);
    if (!t) return NULL;
    for (Py_ssize_t c = 0; c < m->ncls; c++) {
        PyObject *x = PyLong_FromLongLong(sums[c]);
        if (!x) { Py_DECREF(t); return NULL; }
        PyTuple_SET_ITEM(t, c, x);
    }
    return Py_BuildValue("Nnd", t, a.n, (double)words + (double)cjk / 2.0);
}

static PyObject *model_sums(PyObject *self, PyObject *args) {
    PyObject *cap, *text;
    Py_ssize_t max_chars;
    if (!PyArg_ParseTuple(args, "OUn", &cap, &text, &max_chars)) return NULL;
    Model *m = PyCapsule_GetPointer(cap, "ethics_review.model");
    if (!m) return NULL;
    return model_sums_of(m, text, max_chars);
}

/* model_sums_many(model, texts, max_chars): [model_sums(model, t, max_chars) for t in texts], one call. */
static PyObject *model_sums_many(PyObject *self, PyObject *args) {
    PyObject *cap, *texts;
    Py_ssize_t max_chars;
    if (!PyArg_ParseTuple(args, "OO!n", &cap, &PyList_Type, &texts, &max_chars)) return NULL;
    Model *m = PyCapsule_GetPointer(cap, "ethics_review.model");
    if (!m) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(texts);
    PyObject *out = PyList_New(n);
    if (!out) return NULL;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *r = model_sums_of(m, PyList_GET_ITEM(texts, k), max_chars);
        if (!r) { Py_DECREF(out); return NULL; }
        PyList_SET_ITEM(out, k, r);
    }
    return out;
}

/* softmax_many(rows, bias, scale, min_norm, inv_t, min_ev, safe, rank) -> [(class index, probability)]: for each
 * (sums, n, units) of model_sums, what SoftmaxRegression.predict gives, by the same double operations in the same
 * order (logits b + (a * scale) * norm with norm = 1 / sqrt(max(n, min_norm)); exp((x - top) * inv_t); z summed
 * left to right; p = e / z), libm's exp and sqrt as Python's math module. The class: ``safe`` when p[safe] >= 0.5
 * (probability p[safe]) or when units < min_ev (1.0); else the most probable other class, ties to the higher
 * ``rank`` (the class names' sorted order), with probability 1 - p[safe]. */
static PyObject *softmax_many(PyObject *self, PyObject *args) {
    PyObject *rows, *bias_o, *rank_o;
    double scale, min_norm, inv_t, min_ev;
    Py_ssize_t safe;
    if (!PyArg_ParseTuple(args, "O!O!ddddnO!", &PyList_Type, &rows, &PyTuple_Type, &bias_o, &scale, &min_norm, &inv_t, &min_ev,
                          &safe, &PyTuple_Type, &rank_o)) return NULL;
    Py_ssize_t nc = PyTuple_GET_SIZE(bias_o);
    if (nc < 1 || nc > 64 || PyTuple_GET_SIZE(rank_o) != nc || safe < 0 || safe >= nc) {
        PyErr_SetString(PyExc_ValueError, "softmax_many: 1-64 classes, one bias and rank each, safe among them");
        return NULL;
    }
    double bias[64], sc[64], ex[64];
    long rank[64];
    for (Py_ssize_t c = 0; c < nc; c++) {
        bias[c] = PyFloat_AsDouble(PyTuple_GET_ITEM(bias_o, c));
        rank[c] = PyLong_AsLong(PyTuple_GET_ITEM(rank_o, c));
    }
    if (PyErr_Occurred()) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(rows);
    PyObject *out = PyList_New(n);
    if (!out) return NULL;
    for (Py_ssize_t r = 0; r < n; r++) {
        PyObject *row = PyList_GET_ITEM(rows, r), *sums;
        Py_ssize_t nf;
        double units;
        if (!PyTuple_Check(row) || !PyArg_ParseTuple(row, "O!nd", &PyTuple_Type, &sums, &nf, &units) || PyTuple_GET_SIZE(sums) != nc) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "softmax_many: rows of (sums, n, units), one sum per class");
            Py_DECREF(out);
            return NULL;
        }
        Py_ssize_t k;
        double p;
        if (units < min_ev) {
            k = safe; p = 1.0;
        } else {
            double nn = (double)nf, norm = 1.0 / sqrt(min_norm > nn ? min_norm : nn);
            double top = 0.0;
            for (Py_ssize_t c = 0; c < nc; c++) {
                double a = PyLong_AsDouble(PyTuple_GET_ITEM(sums, c));
                if (a == -1.0 && PyErr_Occurred()) { Py_DECREF(out); return NULL; }
                sc[c] = bias[c] + (a * scale) * norm;
                if (c == 0 || sc[c] > top) top = sc[c];
            }
            double z = 0.0;
            for (Py_ssize_t c = 0; c < nc; c++) { ex[c] = exp((sc[c] - top) * inv_t); z += ex[c]; }
            double ps = ex[safe] / z;
            if (ps >= 0.5) {
                k = safe; p = ps;
            } else {
                k = -1;
                double best = 0.0;
                for (Py_ssize_t c = 0; c < nc; c++) {
                    if (c == safe) continue;
                    double pc = ex[c] / z;
                    if (k < 0 || pc > best || (pc == best && rank[c] > rank[k])) { k = c; best = pc; }
                }
                p = 1.0 - ps;
            }
        }
        PyObject *t = Py_BuildValue("nd", k, p);
        if (!t) { Py_DECREF(out); return NULL; }
        PyList_SET_ITEM(out, r, t);
    }
    return out;
}

/* ------------------------------------------------------------------ knowledge base prefilter */

/* knowledge.KnowledgeBase.could_match without building shingle strings: the k-character
 * shingles of " ".join(view.split()) hashed (FNV-1a, as feature_hash) into the stamped set,
 * then, for each exemplar whose size is within [t * n, n / t], the count of its shingle
 * hashes present, against t * max(n, size). */

typedef struct {
    Py_ssize_t count;
    Py_ssize_t max_size;   /* the largest exemplar's size */
    Py_ssize_t *size;      /* distinct shingles of each exemplar (from Python: exact) */
    Py_ssize_t *off;       /* count + 1 offsets into hashes */
    uint64_t *hashes;
} KB;

static void kb_free(PyObject *cap) {
    KB *kb = PyCapsule_GetPointer(cap, "ethics_review.kb");
    if (!kb) return;
    PyMem_Free(kb->size); PyMem_Free(kb->off); PyMem_Free(kb->hashes); PyMem_Free(kb);
}

/* kb_new(exemplars: list[set[str]]) -> capsule */
static PyObject *kb_new(PyObject *self, PyObject *arg) {
    PyObject *seq = PySequence_Fast(arg, "kb_new expects a sequence of sets of str");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq), total = 0;
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyAnySet_Check(items[i])) { Py_DECREF(seq); PyErr_SetString(PyExc_TypeError, "kb_new: sets of str"); return NULL; }
        total += PySet_GET_SIZE(items[i]);
    }
    KB *kb = PyMem_Calloc(1, sizeof(KB));
    if (kb) {
        kb->size = PyMem_Calloc(n + 1, sizeof(Py_ssize_t));
        kb->off = PyMem_Calloc(n + 1, sizeof(Py_ssize_t));
        kb->hashes = PyMem_Calloc(total + 1, sizeof(uint64_t));
    }
    PyObject *cap = kb ? PyCapsule_New(kb, "ethics_review.kb", kb_free) : NULL;
    if (!cap) { if (kb) { PyMem_Free(kb->size); PyMem_Free(kb->off); PyMem_Free(kb->hashes); PyMem_Free(kb); } Py_DECREF(seq); return PyErr_NoMemory(); }
    if (!kb->size || !kb->off || !kb->hashes) { Py_DECREF(cap); Py_DECREF(seq); return PyErr_NoMemory(); }
    kb->count = n;
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        kb->off[i] = at;
        kb->size[i] = PySet_GET_SIZE(items[i]);
        if (kb->size[i] > kb->max_size) kb->max_size = kb->size[i];
        PyObject *it = PyObject_GetIter(items[i]), *x;
        if (!it) { Py_DECREF(cap); Py_DECREF(seq); return NULL; }
        while ((x = PyIter_Next(it))) {
            if (!PyUnicode_Check(x)) { Py_DECREF(x); Py_DECREF(it); Py_DECREF(cap); Py_DECREF(seq); PyErr_SetString(PyExc_TypeError, "kb_new: sets of str"); return NULL; }
            kb->hashes[at++] = str_hash(x);
            Py_DECREF(x);
        }
        Py_DECREF(it);
        if (PyErr_Occurred()) { Py_DECREF(cap); Py_DECREF(seq); return NULL; }
    }
    kb->off[n] = at;
    Py_DECREF(seq);
    return cap;
}

/* kb_could_match(kb, text, k, t) -> bool */
static int kb_check_w(KB *kb, Py_ssize_t k, double t);

static PyObject *kb_could_match(PyObject *self, PyObject *args) {
    PyObject *cap, *text;
    Py_ssize_t k;
    double t;
    if (!PyArg_ParseTuple(args, "OUnd", &cap, &text, &k, &t)) return NULL;
    KB *kb = PyCapsule_GetPointer(cap, "ethics_review.kb");
    if (!kb) return NULL;
    if (k < 1) { PyErr_SetString(PyExc_ValueError, "kb_could_match: k >= 1"); return NULL; }
    if (view_of(text) < 0) return NULL;
    int r = kb_check_w(kb, k, t);
    if (r < 0) return NULL;
    return PyBool_FromLong(r);
}

/* kb_could_match on the view in W (view_of has just run): 1, 0, or -1 with an exception. */
static int kb_check_w(KB *kb, Py_ssize_t k, double t) {
    /* " ".join(view.split()) in place, in W.a (free once the view is in W.b or W.a) */
    Py_UCS4 *sq = W.out == W.a ? W.b : W.a;
    Py_ssize_t m = 0;
    int gap = 0;
    for (Py_ssize_t i = 0; i < W.m; i++) {
        Py_UCS4 c = W.out[i];
        if (Py_UNICODE_ISSPACE(c)) { gap = 1; continue; }
        if (gap && m) sq[m++] = ' ';
        gap = 0;
        sq[m++] = c;
    }
    if (m == 0) return 0;
    if (fs_reserve((size_t)(m > k ? m - k + 1 : 1)) < 0) return -1;
    Py_ssize_t n = 0;
    if (m <= k) {
        uint64_t h = FNV0;
        for (Py_ssize_t i = 0; i < m; i++) h = fnv(h, sq[i]);
        n += fs_add(h);
    } else {
        /* an exemplar qualifies only with size >= t * n: once t * n passes the largest, none can (n only grows) */
        double biggest = (double)kb->max_size;
        for (Py_ssize_t i = 0; i + k <= m; i++) {
            uint64_t h = FNV0;
            for (Py_ssize_t j = i; j < i + k; j++) h = fnv(h, sq[j]);
            n += fs_add(h);
            if (t * (double)n > biggest) return 0;  /* the same product as lo below, which only grows */
        }
    }
    double lo = t * (double)n, hi = (double)n / t;
    for (Py_ssize_t e = 0; e < kb->count; e++) {
        double size = (double)kb->size[e];
        if (size < lo || size > hi) continue;
        double need = t * (double)(n > kb->size[e] ? n : kb->size[e]);
        Py_ssize_t hit = 0;
        for (Py_ssize_t q = kb->off[e]; q < kb->off[e + 1]; q++) hit += fs_has(kb->hashes[q]);
        if ((double)hit >= need) return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ fold_scan() */

/* One fold per text for every built-in scanner: the keyword views (fold_views), and on the same view the
 * classifier's sums (model_sums; a text longer than max_chars is summed on its head, folded apart as model_sums
 * does) and the knowledge base's prefilter (kb_could_match). */
typedef struct {
    Model *model; Py_ssize_t max_chars; PyObject *sums;
    KB *kb; Py_ssize_t k; double t; PyObject *kb_flags;
} ScanHooks;

static int scan_hook(void *ctx, Py_ssize_t t, PyObject *text) {
    ScanHooks *h = ctx;
    if (h->kb) {
        int r = kb_check_w(h->kb, h->k, h->t);
        if (r < 0) return -1;
        PyList_SET_ITEM(h->kb_flags, t, PyBool_FromLong(r));
    }
    if (h->model) {
        PyObject *r = PyUnicode_GET_LENGTH(text) > h->max_chars ? model_sums_of(h->model, text, h->max_chars) : model_sums_w(h->model);
        if (!r) return -1;
        PyList_SET_ITEM(h->sums, t, r);
    }
    return 0;
}

/* fold_scan(texts, model, max_chars, kb, k, t) -> (buf, views, sums, kb_flags): fold_views(texts), and per text
 * model_sums(model, text, max_chars) and kb_could_match(kb, text, k, t) from the same fold; model or kb None: that
 * list is None. */
static PyObject *fold_scan(PyObject *self, PyObject *args) {
    PyObject *texts, *mcap, *kcap;
    ScanHooks h = {0};
    if (!PyArg_ParseTuple(args, "O!OnOnd", &PyList_Type, &texts, &mcap, &h.max_chars, &kcap, &h.k, &h.t)) return NULL;
    if (mcap != Py_None && !(h.model = PyCapsule_GetPointer(mcap, "ethics_review.model"))) return NULL;
    if (kcap != Py_None && !(h.kb = PyCapsule_GetPointer(kcap, "ethics_review.kb"))) return NULL;
    if (h.kb && h.k < 1) { PyErr_SetString(PyExc_ValueError, "fold_scan: k >= 1"); return NULL; }
    Py_ssize_t n = PyList_GET_SIZE(texts);
    PyObject *buf = NULL, *cap = NULL, *r = NULL;
    if (h.model && !(h.sums = PyList_New(n))) goto done;
    if (h.kb && !(h.kb_flags = PyList_New(n))) goto done;
    Views *v = views_take();
    if (!v) goto done;
    buf = fold_into(texts, v, scan_hook, &h);
    if (!buf) { if (!spare_views) spare_views = v; else views_free(v); goto done; }
    cap = PyCapsule_New(v, VIEWS_CAPSULE, views_capsule_free);
    if (!cap) { views_free(v); goto done; }
    r = PyTuple_Pack(4, buf, cap, h.sums ? h.sums : Py_None, h.kb_flags ? h.kb_flags : Py_None);
done:
    Py_XDECREF(buf); Py_XDECREF(cap); Py_XDECREF(h.sums); Py_XDECREF(h.kb_flags);
    return r;
}

/* term_view(buf) -> bytes of the same length: the buffer the prefilter's term literals are scanned in (matcher.
 * TERM_VIEW): ASCII l and L read i, tab, line breaks, - and _ read a space, and a non-ASCII character whose fold is
 * one character of the same UTF-8 length (Traditional -> Simplified, CJK compatibility forms, Greek and Cyrillic
 * capitals) reads as that character. Byte for byte, so offsets and lines stay where they are; every other byte
 * (invalid UTF-8 included) is copied. */
static unsigned char tv_ascii[128];

static PyObject *term_view(PyObject *self, PyObject *arg) {
    Py_buffer in;
    if (PyObject_GetBuffer(arg, &in, PyBUF_SIMPLE) < 0) return NULL;
    if (!tables_ready) {
        PyBuffer_Release(&in);
        PyErr_SetString(PyExc_RuntimeError, "term_view: set_tables() was not called");
        return NULL;
    }
    Py_ssize_t n = in.len;
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (!out) { PyBuffer_Release(&in); return NULL; }
    const unsigned char *s = in.buf;
    unsigned char *o = (unsigned char *)PyBytes_AS_STRING(out);
    Py_ssize_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) { o[i] = tv_ascii[c]; i++; continue; }
        int len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
        int ok = len > 1 && i + len <= n;
        for (int k = 1; ok && k < len; k++) ok = (s[i + k] & 0xC0) == 0x80;
        if (!ok) { o[i] = c; i++; continue; }
        Py_UCS4 cp = len == 2 ? ((Py_UCS4)(c & 0x1F) << 6) | (s[i + 1] & 0x3F)
                   : len == 3 ? ((Py_UCS4)(c & 0x0F) << 12) | ((Py_UCS4)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F)
                   : ((Py_UCS4)(c & 0x07) << 18) | ((Py_UCS4)(s[i + 1] & 0x3F) << 12) | ((Py_UCS4)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
        int32_t e = cp < 0x110000 ? lookup(cp) : -1;
        Py_UCS4 f = e >= 0 && entry_len[e] == 1 ? pool[entry_off[e]] : cp;
        int flen = f < 0x80 ? 1 : f < 0x800 ? 2 : f < 0x10000 ? 3 : 4;
        if (f == cp || flen != len || (f >= 0xD800 && f <= 0xDFFF)) {  /* no fold of the same length: as is */
            memcpy(o + i, s + i, (size_t)len);
        } else if (len == 2) {
            o[i] = 0xC0 | (f >> 6); o[i + 1] = 0x80 | (f & 0x3F);
        } else if (len == 3) {
            o[i] = 0xE0 | (f >> 12); o[i + 1] = 0x80 | ((f >> 6) & 0x3F); o[i + 2] = 0x80 | (f & 0x3F);
        } else {
            o[i] = 0xF0 | (f >> 18); o[i + 1] = 0x80 | ((f >> 12) & 0x3F); o[i + 2] = 0x80 | ((f >> 6) & 0x3F); o[i + 3] = 0x80 | (f & 0x3F);
        }
        i += len;
    }
    PyBuffer_Release(&in);
    return out;
}

/* split_words(texts) -> [(text index, start, end)]: every maximal run of ASCII letters and - . _ that starts and
 * ends with a letter and holds a separator with a letter on both sides (a word a separator splits: "mur-der",
 * "www.example.com"), in text then position order (normalize.SPLIT_WORD_RE is the reference). */

/* Whether text holds one separator between two ASCII letters or digits (no word of it is split otherwise). */
static int may_split(int kind, const void *data, Py_ssize_t n) {
#define MAY_SPLIT(T)                                                                                      \
    do {                                                                                                  \
        const T *d = data;                                                                                \
        for (Py_ssize_t i = 1; i + 1 < n; i++)                                                            \
            if (word_sep(d[i]) && ascii_alnum(d[i - 1]) && ascii_alnum(d[i + 1])) return 1;               \
    } while (0)
    if (kind == PyUnicode_1BYTE_KIND) MAY_SPLIT(Py_UCS1);
    else if (kind == PyUnicode_2BYTE_KIND) MAY_SPLIT(Py_UCS2);
    else MAY_SPLIT(Py_UCS4);
#undef MAY_SPLIT
    return 0;
}

static PyObject *split_words(PyObject *self, PyObject *arg) {
    PyObject *seq = PySequence_Fast(arg, "split_words expects a sequence of str");
    if (!seq) return NULL;
    Py_ssize_t nt = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    PyObject *out = PyList_New(0);
    if (!out) { Py_DECREF(seq); return NULL; }
    for (Py_ssize_t t = 0; t < nt; t++) {
        PyObject *text = items[t];
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "split_words expects str");
            goto fail;
        }
        Py_ssize_t n = PyUnicode_GET_LENGTH(text);
        int kind = PyUnicode_KIND(text);
        const void *data = PyUnicode_DATA(text);
        if (!may_split(kind, data, n)) continue;
#define SPLIT_LOOP(T)                                                                                     \
        do {                                                                                              \
            const T *d = data;                                                                            \
            Py_ssize_t i = 0;                                                                             \
            while (i < n) {                                                                               \
                if (!ascii_alnum(d[i])) { i++; continue; }                                                \
                /* a run from a letter or digit: those, and separators followed (after more) by one */    \
                Py_ssize_t s = i, e = i + 1, k = i + 1;                                                   \
                int split = 0, letter = ascii_letter(d[i]);                                               \
                while (k < n) {                                                                           \
                    if (ascii_alnum(d[k])) { letter |= ascii_letter(d[k]); e = ++k; continue; }           \
                    if (!word_sep(d[k])) break;                                                           \
                    Py_ssize_t q = k;                                                                     \
                    while (q < n && word_sep(d[q])) q++;                                                  \
                    if (q >= n || !ascii_alnum(d[q])) break;                                              \
                    if (q == k + 1) split = 1;  /* one separator between two letters */                   \
                    k = q;                                                                                \
                }                                                                                         \
                if (split && letter) {  /* a number (3.14, 2024-05-06) is no word */                     \
                    PyObject *tri = Py_BuildValue("(nnn)", t, s, e);                                      \
                    if (!tri || PyList_Append(out, tri) < 0) { Py_XDECREF(tri); goto fail; }              \
                    Py_DECREF(tri);                                                                       \
                }                                                                                         \
                i = e;                                                                                    \
            }                                                                                             \
        } while (0)
        if (kind == PyUnicode_1BYTE_KIND) SPLIT_LOOP(Py_UCS1);
        else if (kind == PyUnicode_2BYTE_KIND) SPLIT_LOOP(Py_UCS2);
        else SPLIT_LOOP(Py_UCS4);
#undef SPLIT_LOOP
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_DECREF(seq);
    Py_DECREF(out);
    return NULL;
}

/* split_tokens(texts, views) -> (tokens, spans): split_words(texts), found from the candidates fold_views(texts) noted
 * (views: its handle; a - . or _ between two ASCII letters or digits), not by reading every text again, and each
 * word with its - . _ taken out (tokens, a list of str); spans: int32 (text index, start, end) per token. A word is
 * the run of ASCII letters, digits and - . _ around a candidate, from a letter or digit to a letter or digit (the
 * maximal one: split_words' left-to-right reading gives one word per such run), with a letter in it. */
static PyObject *split_tokens(PyObject *self, PyObject *args) {
    PyObject *arg, *cap;
    if (!PyArg_ParseTuple(args, "OO", &arg, &cap)) return NULL;
    Views *v = PyCapsule_GetPointer(cap, VIEWS_CAPSULE);
    if (!v) return NULL;
    PyObject *seq = PySequence_Fast(arg, "split_tokens expects a sequence of str");
    if (!seq) return NULL;
    Py_ssize_t nt = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    PyObject *toks = NULL, *spans = NULL, *r = NULL;
    int32_t *sp = NULL;
    Py_ssize_t nsp = 0, csp = 0;
    if (nt != v->nt) { PyErr_SetString(PyExc_ValueError, "split_tokens: texts and views differ"); goto done; }
    toks = PyList_New(0);
    if (!toks) goto done;
    Py_ssize_t last_t = -1, last_e = 0;
    for (Py_ssize_t k = 0; k < v->nc; k++) {
        Py_ssize_t t = v->cands[2 * k], p = v->cands[2 * k + 1];
        if (t == last_t && p < last_e) continue;  /* in the word just taken */
        PyObject *text = items[t];
        if (!PyUnicode_Check(text)) { PyErr_SetString(PyExc_TypeError, "split_tokens expects str"); goto done; }
        Py_ssize_t n = PyUnicode_GET_LENGTH(text);
        int kind = PyUnicode_KIND(text);
        const void *data = PyUnicode_DATA(text);
        if (p < 1 || p + 1 >= n) { PyErr_SetString(PyExc_ValueError, "split_tokens: texts and views differ"); goto done; }
        Py_ssize_t s0 = p, e = p + 1, kept = 0;
        int letter = 0;
        char small[256], *tmp = small;
#define TOK_LOOP(T)                                                                                       \
        do {                                                                                              \
            const T *d = data;                                                                            \
            if (!word_sep(d[p]) || !ascii_alnum(d[p - 1]) || !ascii_alnum(d[p + 1])) {                    \
                PyErr_SetString(PyExc_ValueError, "split_tokens: texts and views differ"); goto done;     \
            }                                                                                             \
            while (s0 > 0 && (ascii_alnum(d[s0 - 1]) || word_sep(d[s0 - 1]))) s0--;                       \
            while (word_sep(d[s0])) s0++;                                                                 \
            Py_ssize_t q = p + 1;                                                                         \
            while (q < n) {                                                                               \
                if (ascii_alnum(d[q])) { e = ++q; continue; }                                             \
                if (!word_sep(d[q])) break;                                                               \
                Py_ssize_t z = q;                                                                         \
                while (z < n && word_sep(d[z])) z++;                                                      \
                if (z >= n || !ascii_alnum(d[z])) break;                                                  \
                q = z;                                                                                    \
            }                                                                                             \
            if (e - s0 > (Py_ssize_t)sizeof(small) && !(tmp = PyMem_Malloc(e - s0))) { PyErr_NoMemory(); goto done; } \
            for (Py_ssize_t x = s0; x < e; x++) {                                                         \
                Py_UCS4 c = d[x];                                                                         \
                if (word_sep(c)) continue;                                                                \
                letter |= ascii_letter(c);                                                                \
                tmp[kept++] = (char)c;                                                                    \
            }                                                                                             \
        } while (0)
        if (kind == PyUnicode_1BYTE_KIND) TOK_LOOP(Py_UCS1);
        else if (kind == PyUnicode_2BYTE_KIND) TOK_LOOP(Py_UCS2);
        else TOK_LOOP(Py_UCS4);
#undef TOK_LOOP
        last_t = t; last_e = e;
        if (letter) {  /* a number (3.14, 2024-05-06) is no word */
            PyObject *tok = PyUnicode_FromStringAndSize(tmp, kept);
            if (tmp != small) PyMem_Free(tmp);
            if (!tok || PyList_Append(toks, tok) < 0) { Py_XDECREF(tok); goto done; }
            Py_DECREF(tok);
            if (nsp + 3 > csp && arr_reserve((void **)&sp, &csp, nsp + 3, sizeof(int32_t)) < 0) goto done;
            sp[nsp++] = (int32_t)t; sp[nsp++] = (int32_t)s0; sp[nsp++] = (int32_t)e;
        } else if (tmp != small) {
            PyMem_Free(tmp);
        }
    }
    spans = PyBytes_FromStringAndSize((const char *)sp, (Py_ssize_t)sizeof(int32_t) * nsp);
    if (spans) r = PyTuple_Pack(2, toks, spans);
done:
    PyMem_Free(sp);
    Py_XDECREF(toks); Py_XDECREF(spans);
    Py_DECREF(seq);
    return r;
}

/* ------------------------------------------------------------------ plain_fields() */

static PyObject *s_id, *s_prompt, *s_output, *s_product, *s_metadata, *s_modality, *s_text;

/* The id of a plain text record (records_io._plain_id: a dict with a non-blank str id of at most max_id characters,
 * str prompt and output, no metadata, a known modality, a product that is empty or the audited one), else NULL
 * with no exception set; -1-style errors come back as NULL with an exception. */
static PyObject *plain_id(PyObject *obj, PyObject *product, PyObject *modalities, Py_ssize_t max_id, int *media) {
    if (!PyDict_CheckExact(obj)) return NULL;
    PyObject *rid = PyDict_GetItemWithError(obj, s_id);
    if (!rid || !PyUnicode_CheckExact(rid)) return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(rid);
    if (n == 0 || n > max_id) return NULL;
    int kind = PyUnicode_KIND(rid), blank = 1;
    const void *data = PyUnicode_DATA(rid);
    for (Py_ssize_t i = 0; i < n && blank; i++) blank = Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i));
    if (blank) return NULL;
    PyObject *v = PyDict_GetItemWithError(obj, s_prompt);
    if (v && !PyUnicode_CheckExact(v)) return NULL;
    v = PyDict_GetItemWithError(obj, s_output);
    if (v && !PyUnicode_CheckExact(v)) return NULL;
    v = PyDict_GetItemWithError(obj, s_metadata);
    if (v) {
        int t = PyObject_IsTrue(v);
        if (t != 0) return NULL;  /* metadata (or an error): the full validation decides */
    }
    v = PyDict_GetItemWithError(obj, s_modality);
    *media = 0;
    if (v) {
        int in = PySequence_Contains(modalities, v);
        if (in != 1) return NULL;
        int text = PyObject_RichCompareBool(v, s_text, Py_EQ);
        if (text < 0) return NULL;
        *media = !text;
    }
    v = PyDict_GetItemWithError(obj, s_product);
    if (v && v != Py_None) {
        if (!PyUnicode_CheckExact(v)) return NULL;
        if (PyUnicode_GET_LENGTH(v) && product != Py_None && PyUnicode_GET_LENGTH(product)) {
            int same = PyUnicode_Compare(v, product);
            if (same != 0) return NULL;
        }
    }
    if (PyErr_Occurred()) return NULL;
    return rid;
}

/* plain_fields(objs, product, modalities, max_id, cand) -> (ids, owners, texts, media) or None:
 * when every object is a plain text record (records_io._plain_id), its ids, and for the candidates (indices into
 * objs, ascending; None: all) the (id, field) owners and texts of their non-empty prompt and output
 * (taxonomy.add_fields), and how many records are image, audio or video. None when any record is not plain. */
static PyObject *plain_fields(PyObject *self, PyObject *args) {
    PyObject *objs, *product, *modalities, *cand;
    Py_ssize_t max_id;
    if (!PyArg_ParseTuple(args, "O!OOnO", &PyList_Type, &objs, &product, &modalities, &max_id, &cand)) return NULL;
    if (cand != Py_None && !PyList_Check(cand)) { PyErr_SetString(PyExc_TypeError, "plain_fields: cand must be a list or None"); return NULL; }
    Py_ssize_t n = PyList_GET_SIZE(objs), media = 0;
    PyObject *ids = PyList_New(n), *owners = PyList_New(0), *texts = PyList_New(0), *r = NULL;
    if (!ids || !owners || !texts) goto done;
    for (Py_ssize_t k = 0; k < n; k++) {
        int m = 0;
        PyObject *rid = plain_id(PyList_GET_ITEM(objs, k), product, modalities, max_id, &m);
        if (!rid) {
            if (PyErr_Occurred()) goto done;
            r = Py_NewRef(Py_None);
            goto done;
        }
        media += m;
        PyList_SET_ITEM(ids, k, Py_NewRef(rid));
    }
    Py_ssize_t nc = cand == Py_None ? n : PyList_GET_SIZE(cand);
    for (Py_ssize_t c = 0; c < nc; c++) {
        Py_ssize_t k = c;
        if (cand != Py_None) {
            k = PyLong_AsSsize_t(PyList_GET_ITEM(cand, c));
            if (k == -1 && PyErr_Occurred()) goto done;
            if (k < 0 || k >= n) { PyErr_SetString(PyExc_IndexError, "plain_fields: a candidate outside objs"); goto done; }
        }
        PyObject *obj = PyList_GET_ITEM(objs, k), *rid = PyList_GET_ITEM(ids, k);
        PyObject *fields[2] = {s_prompt, s_output};
        for (int f = 0; f < 2; f++) {
            PyObject *v = PyDict_GetItemWithError(obj, fields[f]);
            if (!v) { if (PyErr_Occurred()) goto done; continue; }
            if (!PyUnicode_GET_LENGTH(v)) continue;
            PyObject *own = PyTuple_Pack(2, rid, fields[f]);
            if (!own || PyList_Append(owners, own) < 0 || PyList_Append(texts, v) < 0) { Py_XDECREF(own); goto done; }
            Py_DECREF(own);
        }
    }
    r = Py_BuildValue("(OOOn)", ids, owners, texts, media);
done:
    Py_XDECREF(ids); Py_XDECREF(owners); Py_XDECREF(texts);
    return r;
}

static PyMethodDef methods[] = {
    {"set_tables", set_tables, METH_O, "Install the per-character fold table {code point: folded str}."},
    {"fold", fold, METH_O, "The match view of a str: (view, starts, ends, joints)."},
    {"fold_batch", fold_batch, METH_O, "The match views of many str as one UTF-8 buffer: (buf, starts, omap, joints)."},
    {"fold_scan", fold_scan, METH_VARARGS, "fold_scan(texts, model, max_chars, kb, k, t): (buf, views, sums, kb_flags) from one fold per text."},
    {"fold_views", fold_views, METH_O, "The match views of many str as one UTF-8 buffer, with an opaque handle for resolve_hits: (buf, views)."},
    {"plain_fields", plain_fields, METH_VARARGS, "plain_fields(objs, product, modalities, max_id, cand): (ids, owners, texts, media) when every record is plain text, else None."},
    {"resolve_hits", resolve_hits, METH_VARARGS, "resolve_hits(views, buf, flat, lens, flags, n_terms): [(text, start, end, pattern)] of the matches that count."},
    {"feature_hash", feature_hash, METH_O, "The classifier's 64-bit hash of a feature string."},
    {"model_new", model_new, METH_VARARGS, "A classifier weight table {feature: [int per class]} for model_sums."},
    {"softmax_many", softmax_many, METH_VARARGS, "SoftmaxRegression.predict's (class index, probability) of model_sums rows."},
    {"model_sums_many", model_sums_many, METH_VARARGS, "[model_sums(model, t, max_chars) for t in texts]."},
    {"model_sums", model_sums, METH_VARARGS, "(per-class weight sums, distinct features, evidence units) of a text."},
    {"kb_new", kb_new, METH_O, "Knowledge-base exemplar shingle sets for kb_could_match."},
    {"kb_could_match", kb_could_match, METH_VARARGS, "KnowledgeBase.could_match on hashed shingles."},
    {"spaced_hits", spaced_hits, METH_O, "Offsets in a UTF-8 buffer ending a run of three single-character tokens."},
    {"term_view", term_view, METH_O, "The prefilter's term view of a UTF-8 buffer (same length): l/L as i, separators as space, CJK variants folded."},
    {"split_words", split_words, METH_O, "[(text index, start, end)] of the words (letters and digits, a letter among them) a - . or _ splits."},
    {"split_tokens", split_tokens, METH_VARARGS, "split_words(texts) from fold_views(texts)'s candidates: (tokens without - . _, int32 (text, start, end) per token)."},
    {"han_gaps", han_gaps, METH_VARARGS, "han_gaps(buf, bits): offsets in a UTF-8 buffer where separators between two CJK characters of a term end."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};

PyMODINIT_FUNC PyInit__native(void) {
    init_classes();
    for (int c = 0; c < 128; c++) tv_ascii[c] = (unsigned char)c;
    tv_ascii['l'] = tv_ascii['L'] = 'i';
    tv_ascii['\t'] = tv_ascii['\n'] = tv_ascii['\r'] = tv_ascii['-'] = tv_ascii['_'] = ' ';
    for (int i = 0; i < 256; i++) identity_page[i] = -1;
    for (int i = 0; i < NPAGES; i++) pages[i] = identity_page;
    PyObject **names[] = {&s_id, &s_prompt, &s_output, &s_product, &s_metadata, &s_modality, &s_text};
    const char *values[] = {"id", "prompt", "output", "product", "metadata", "modality", "text"};
    for (int i = 0; i < 7; i++) {
        *names[i] = PyUnicode_InternFromString(values[i]);
        if (!*names[i]) return NULL;
    }
    return PyModule_Create(&module);
}
