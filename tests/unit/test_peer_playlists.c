/* Playlists written by other projects (read in place from $HG_PEER_DIR, default
 * ../../shared/peer-playlists relative to tests/): every file must get a defined outcome.
 *
 * For each file the rewriter runs whole, split in two at many points and byte by byte; all runs
 * must agree. A deliberately simple whole-file oracle, written separately from the streaming
 * parser, says where each URI is and what it should become. The fake emit writes a marker
 * "\x01<n>\x02" for the n-th replaced URI, so the check is:
 *   - output == input with exactly the oracle's replaced URIs swapped for markers, in order
 *     (hence every other byte is untouched), and putting the original URI text back in place of
 *     each marker gives the input again;
 *   - every emitted URI has the kind, key and query the oracle expects;
 *   - kept / refused counters match the oracle.
 * Inputs that do not start with #EXTM3U (after a BOM) must be refused with HG_ENOTPLAYLIST. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hls/rewrite.h"
#include "test.h"

#define BASE "peer/a/b"
#define MAX_EMITS 100000

typedef struct {
    int kind;
    size_t key_off, key_len, q_off, q_len; /* into keys */
    int has_query;
} emitted_t;

typedef struct {
    emitted_t *e;
    size_t n;
    hg_buf_t keys;
} record_t;

static int marker_emit(void *ud, hg_uri_kind_t kind, const char *key, size_t key_len,
                       const char *query, size_t query_len, hg_buf_t *out)
{
    record_t *rec = ud;
    if (rec->n >= MAX_EMITS) return HG_EOVERFLOW;
    emitted_t *e = &rec->e[rec->n];
    e->kind = kind;
    e->key_off = rec->keys.len;
    e->key_len = key_len;
    hg_buf_append(&rec->keys, key, key_len);
    e->has_query = query != NULL;
    e->q_off = rec->keys.len;
    e->q_len = query_len;
    if (query) hg_buf_append(&rec->keys, query, query_len);
    return hg_buf_appendf(out, "\x01%zu\x02", rec->n++);
}

/* ---- the oracle ------------------------------------------------------------------------- */

enum { CTX_AUTO, CTX_PLAYLIST };
enum { EXP_REPLACE, EXP_KEEP, EXP_REFUSE };

typedef struct {
    size_t off, len; /* URI text in the input (trimmed); for EXP_REPLACE: up to any '#' */
    int ctx, expect;
} span_t;

typedef struct {
    span_t *s;
    size_t n, cap;
    long malformed; /* URI tags whose attribute list is broken: refused as a whole */
} spans_t;

static void add_span(spans_t *sp, size_t off, size_t len, int ctx)
{
    if (sp->n == sp->cap) {
        sp->cap = sp->cap ? sp->cap * 2 : 64;
        sp->s = realloc(sp->s, sp->cap * sizeof *sp->s);
    }
    sp->s[sp->n++] = (span_t){off, len, ctx, 0};
}

static int starts(const char *p, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n >= l && memcmp(p, lit, l) == 0;
}

/* Scan one tag line for NAME="..." at attribute starts, tracking quotes by toggling. */
static void oracle_tag(const char *in, size_t off, size_t n, const char *attr, int ctx, spans_t *sp)
{
    const char *s = in + off;
    const char *colon = memchr(s, ':', n);
    if (!colon) return;
    size_t quotes = 0;
    for (size_t i = 0; i < n; i++)
        quotes += s[i] == '"';
    if (quotes % 2) { /* unterminated quoted string */
        sp->malformed++;
        return;
    }
    size_t first = sp->n;
    int in_q = 0, at_start = 1;
    size_t alen = strlen(attr);
    for (size_t i = (size_t)(colon - s) + 1; i < n; i++) {
        char c = s[i];
        if (in_q) {
            if (c == '"') {
                in_q = 0;
                size_t j = i + 1; /* after a closing quote: spaces, then ',' or the end */
                while (j < n && (s[j] == ' ' || s[j] == '\t'))
                    j++;
                if (j < n && s[j] != ',') {
                    sp->n = first;
                    sp->malformed++;
                    return;
                }
            }
            continue;
        }
        if (c == '"') {
            in_q = 1;
            continue;
        }
        if (at_start && (c == ' ' || c == '\t')) continue;
        if (at_start && starts(s + i, n - i, attr) && i + alen + 1 < n && s[i + alen] == '=' &&
            s[i + alen + 1] == '"') {
            const char *close = memchr(s + i + alen + 2, '"', n - i - alen - 2);
            size_t v = i + alen + 2, e = (size_t)(close - s);
            while (v < e && (s[v] == ' ' || s[v] == '\t'))
                v++;
            while (e > v && (s[e - 1] == ' ' || s[e - 1] == '\t'))
                e--;
            add_span(sp, off + v, e - v, ctx);
        }
        at_start = c == ',';
    }
}

/* Returns 0, HG_ENOTPLAYLIST or HG_EEMPTY; fills sp for playlists. */
static int oracle_scan(const char *in, size_t n, spans_t *sp)
{
    if (n == 0) return HG_EEMPTY;
    size_t i = starts(in, n, "\xEF\xBB\xBF") ? 3 : 0;
    if (!starts(in + i, n - i, "#EXTM3U")) return HG_ENOTPLAYLIST;
    for (i += 7; i < n && in[i] != '\n' && in[i] != '\r'; i++)
        if (in[i] != ' ' && in[i] != '\t') return HG_ENOTPLAYLIST;
    int stream_inf = 0;
    while (i < n) {
        if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n') i++;
        i++; /* past the line end */
        size_t b = i;
        while (i < n && in[i] != '\n' && in[i] != '\r')
            i++;
        const char *s = in + b;
        size_t len = i - b;
        if (len > 0 && s[0] == '#') {
            if (starts(s, len, "#EXT-X-STREAM-INF:")) stream_inf = 1;
            static const struct {
                const char *tag, *attr;
                int ctx;
            } uri_tags[] = {
                {"#EXT-X-MAP:", "URI", CTX_AUTO},
                {"#EXT-X-KEY:", "URI", CTX_AUTO},
                {"#EXT-X-SESSION-KEY:", "URI", CTX_AUTO},
                {"#EXT-X-SESSION-DATA:", "URI", CTX_AUTO},
                {"#EXT-X-PART:", "URI", CTX_AUTO},
                {"#EXT-X-PRELOAD-HINT:", "URI", CTX_AUTO},
                {"#EXT-X-CONTENT-STEERING:", "SERVER-URI", CTX_AUTO},
                {"#EXT-X-MEDIA:", "URI", CTX_PLAYLIST},
                {"#EXT-X-I-FRAME-STREAM-INF:", "URI", CTX_PLAYLIST},
                {"#EXT-X-IMAGE-STREAM-INF:", "URI", CTX_PLAYLIST},
                {"#EXT-X-RENDITION-REPORT:", "URI", CTX_PLAYLIST},
            };
            for (size_t t = 0; t < sizeof uri_tags / sizeof uri_tags[0]; t++)
                if (starts(s, len, uri_tags[t].tag))
                    oracle_tag(in, b, len, uri_tags[t].attr, uri_tags[t].ctx, sp);
            continue;
        }
        size_t a = 0, e = len;
        while (a < e && (s[a] == ' ' || s[a] == '\t'))
            a++;
        while (e > a && (s[e - 1] == ' ' || s[e - 1] == '\t'))
            e--;
        if (a == e) continue;
        add_span(sp, b + a, e - a, stream_inf ? CTX_PLAYLIST : CTX_AUTO);
        stream_inf = 0;
    }
    return 0;
}

static int hexv(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The oracle's own resolution: EXP_KEEP, EXP_REFUSE, or EXP_REPLACE with key/query filled. */
static int oracle_resolve(const char *t, size_t n, hg_buf_t *key, size_t *q_off, size_t *q_len,
                          int *has_q, size_t *path_len)
{
    if (n >= 2 && t[0] == '/' && t[1] == '/') return EXP_KEEP;
    for (size_t i = 0; i + 1 < n; i++)
        if (t[i] == '{' && t[i + 1] == '$') return EXP_KEEP;
    /* scheme: a letter, then letters, digits, '+', '-', '.', up to a ':' */
    size_t c = 0;
    while (c < n && ((t[c] | 0x20) >= 'a' && (t[c] | 0x20) <= 'z'))
        c++;
    if (c > 0)
        while (c < n && (((t[c] | 0x20) >= 'a' && (t[c] | 0x20) <= 'z') ||
                         (t[c] >= '0' && t[c] <= '9') || t[c] == '+' || t[c] == '-' || t[c] == '.'))
            c++;
    if (c > 0 && c < n && t[c] == ':') return EXP_KEEP;
    size_t p = 0;
    while (p < n && t[p] != '?' && t[p] != '#')
        p++;
    size_t hash = p;
    while (hash < n && t[hash] != '#')
        hash++;
    *has_q = p < n && t[p] == '?';
    *q_off = p + 1;
    *q_len = *has_q ? hash - p - 1 : 0;
    *path_len = hash;
    char full[4096];
    size_t fl = 0;
    if (p == 0 || p > 2000) return EXP_REFUSE;
    if (t[0] != '/') {
        fl = strlen(BASE "/");
        memcpy(full, BASE "/", fl);
    }
    for (size_t i = t[0] == '/'; i < p; i++) {
        char ch = t[i];
        if (ch == '%') {
            if (i + 2 >= p) return EXP_REFUSE;
            int h = hexv(t[i + 1]), l = hexv(t[i + 2]);
            if (h < 0 || l < 0) return EXP_REFUSE;
            ch = (char)(h * 16 + l);
            i += 2;
        }
        if ((unsigned char)ch < 0x20 || ch == 0x7f || ch == '\\') return EXP_REFUSE;
        full[fl++] = ch;
    }
    /* segments on a stack of (start, len) */
    size_t st[512][2], depth = 0, s0 = 0;
    for (size_t i = 0; i <= fl; i++) {
        if (i < fl && full[i] != '/') continue;
        size_t sl = i - s0;
        int last = i == fl;
        if (sl == 0) return EXP_REFUSE;
        if (sl == 1 && full[s0] == '.') {
            if (last) return EXP_REFUSE;
        } else if (sl == 2 && full[s0] == '.' && full[s0 + 1] == '.') {
            if (depth == 0 || last) return EXP_REFUSE;
            depth--;
        } else {
            if (depth == 512) return EXP_REFUSE;
            st[depth][0] = s0;
            st[depth][1] = sl;
            depth++;
        }
        s0 = i + 1;
    }
    for (size_t d = 0; d < depth; d++) {
        if (d) hg_buf_appendc(key, '/');
        hg_buf_append(key, full + st[d][0], st[d][1]);
    }
    return EXP_REPLACE;
}

static int same_buf(const hg_buf_t *a, const hg_buf_t *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static int ends_ci(const char *s, size_t n, const char *suf)
{
    size_t l = strlen(suf);
    if (n < l) return 0;
    for (size_t i = 0; i < l; i++) {
        char c = s[n - l + i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != suf[i]) return 0;
    }
    return 1;
}

/* ---- running ------------------------------------------------------------------------------ */

typedef struct {
    long files, playlists, not_playlist, empty, other;
    long presigned, gateway, kept, refused, split_runs;
} totals_t;

static int rewrite(const char *in, size_t n, size_t cut, size_t step, record_t *rec, hg_buf_t *out,
                   hg_rewriter_t *meta)
{
    hg_rewriter_t rw;
    hg_buf_reset(out);
    rec->n = 0;
    hg_buf_reset(&rec->keys);
    if (hg_rewriter_init(&rw, BASE, strlen(BASE), 0, marker_emit, rec) != 0) return HG_ENOMEM;
    int rc = 0;
    if (step) {
        for (size_t at = 0; at < n && rc == 0; at += step)
            rc = hg_rewriter_feed(&rw, in + at, at + step <= n ? step : n - at, out);
    } else {
        rc = hg_rewriter_feed(&rw, in, cut, out);
        if (rc == 0) rc = hg_rewriter_feed(&rw, in + cut, n - cut, out);
    }
    if (rc == 0) rc = hg_rewriter_finish(&rw, out);
    hg_rewriter_free(&rw);
    if (meta) *meta = rw;
    return rc;
}

static void check_file(const char *path, totals_t *tot, int verbose)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f) return;
    hg_buf_t in, out, other, want, key;
    hg_buf_init(&in, 0);
    hg_buf_init(&out, 0);
    hg_buf_init(&other, 0);
    hg_buf_init(&want, 0);
    hg_buf_init(&key, 0);
    char tmp[65536];
    size_t got;
    while ((got = fread(tmp, 1, sizeof tmp, f)) > 0)
        hg_buf_append(&in, tmp, got);
    fclose(f);
    const char *s = in.data ? in.data : "";
    size_t n = in.len;

    record_t rec = {calloc(MAX_EMITS, sizeof(emitted_t)), 0, {0}};
    hg_buf_init(&rec.keys, 0);
    spans_t sp = {0};
    int want_rc = oracle_scan(s, n, &sp);
    hg_rewriter_t meta;
    int rc = rewrite(s, n, n, 0, &rec, &out, &meta);
    tot->files++;
    if (rc != want_rc) fprintf(stderr, "%s: rc %d, oracle %d\n", path, rc, want_rc);
    CHECK(rc == want_rc);

    /* Split at sampled points (all of them for small files) and byte by byte: same result. */
    size_t budget = 48u << 20, max_runs = n ? budget / n : 1;
    if (max_runs < 40) max_runs = 40;
    size_t edge = 64, stride = 1;
    if (n + 1 > max_runs) {
        edge = max_runs / 4 < 64 ? max_runs / 4 : 64;
        stride = n / (max_runs - 2 * edge);
        if (stride < 97) stride = 97;
    }
    int bad = 0;
    for (size_t cut = 0; cut <= n; cut++) {
        if (stride > 1 && cut >= edge && cut + edge <= n && cut % stride) continue;
        tot->split_runs++;
        int rc2 = rewrite(s, n, cut, 0, &rec, &other, NULL);
        if (rc2 != rc || !same_buf(&other, &out)) {
            if (bad++ == 0) fprintf(stderr, "%s: split at %zu differs\n", path, cut);
        }
    }
    int rc2 = rewrite(s, n, 0, 1, &rec, &other, NULL);
    if (rc2 != rc || !same_buf(&other, &out)) bad++;
    CHECK(bad == 0);
    rc = rewrite(s, n, n, 0, &rec, &out, &meta); /* again, for the emit records */

    if (want_rc == HG_ENOTPLAYLIST) tot->not_playlist++;
    if (want_rc == HG_EEMPTY) tot->empty++;
    if (rc != 0 || want_rc != 0) {
        if (verbose) printf("  %-70s rc=%d\n", path, rc);
        goto done;
    }
    tot->playlists++;

    /* Expected output: the input with each replaced URI swapped for its marker. */
    long exp_kept = 0, exp_refused = sp.malformed, emits = 0;
    size_t at = 0;
    int wrong = 0;
    for (size_t i = 0; i < sp.n; i++) {
        span_t *x = &sp.s[i];
        size_t q_off = 0, q_len = 0, path_len = 0;
        int has_q = 0;
        hg_buf_reset(&key);
        x->expect = oracle_resolve(s + x->off, x->len, &key, &q_off, &q_len, &has_q, &path_len);
        if (x->expect == EXP_KEEP) exp_kept++;
        if (x->expect == EXP_REFUSE) exp_refused++;
        if (x->expect != EXP_REPLACE) continue;
        hg_buf_append(&want, s + at, x->off - at);
        hg_buf_appendf(&want, "\x01%ld\x02", emits);
        at = x->off + path_len;
        x->len = path_len;
        int kind = x->ctx == CTX_PLAYLIST || ends_ci(key.data, key.len, ".m3u8") ||
                   ends_ci(key.data, key.len, ".m3u");
        if ((size_t)emits < rec.n) {
            emitted_t *e = &rec.e[emits];
            int ok = e->kind == kind && e->key_len == key.len &&
                     memcmp(rec.keys.data + e->key_off, key.data, key.len) == 0 &&
                     e->has_query == has_q && e->q_len == q_len &&
                     (!q_len || memcmp(rec.keys.data + e->q_off, s + x->off + q_off, q_len) == 0);
            if (!ok && wrong++ == 0)
                fprintf(stderr, "%s: URI %.*s got kind %d key %.*s\n", path, (int)x->len,
                        s + x->off, e->kind, (int)e->key_len, rec.keys.data + e->key_off);
        }
        emits++;
    }
    hg_buf_append(&want, s + at, n - at);
    CHECK(wrong == 0);
    CHECK((size_t)emits == rec.n);
    CHECK(meta.presigned + meta.gateway == emits);
    CHECK(meta.kept == exp_kept);
    CHECK(meta.refused == exp_refused);
    if (!same_buf(&out, &want)) fprintf(stderr, "%s: output is not the input with markers\n", path);
    CHECK_MEM(out.data, out.len, want.data, want.len);

    /* Put the original URI text back in place of each marker: the input must come back. */
    if (!memchr(s, '\x01', n)) {
        hg_buf_t back;
        hg_buf_init(&back, 0);
        size_t k = 0, replaced = 0;
        for (size_t i = 0; i < out.len; i++) {
            if (out.data[i] != '\x01') {
                hg_buf_appendc(&back, out.data[i]);
                continue;
            }
            size_t idx = strtoul(out.data + i + 1, NULL, 10);
            while (k < sp.n && sp.s[k].expect != EXP_REPLACE)
                k++;
            CHECK(k < sp.n && idx == replaced++);
            if (k < sp.n) hg_buf_append(&back, s + sp.s[k].off, sp.s[k].len);
            k++;
            i = (size_t)((char *)memchr(out.data + i, '\x02', out.len - i) - out.data);
        }
        CHECK_MEM(back.data, back.len, s, n);
        hg_buf_free(&back);
    }
    tot->presigned += meta.presigned;
    tot->gateway += meta.gateway;
    tot->kept += meta.kept;
    tot->refused += meta.refused;
    if (verbose)
        printf("  %-70s ok: %ld presigned, %ld gateway, %ld kept, %ld refused%s%s\n", path,
               meta.presigned, meta.gateway, meta.kept, meta.refused,
               meta.is_master ? ", master" : "", hg_rewriter_is_live(&meta) ? ", live" : "");
done:
    free(sp.s);
    free(rec.e);
    hg_buf_free(&rec.keys);
    hg_buf_free(&in);
    hg_buf_free(&out);
    hg_buf_free(&other);
    hg_buf_free(&want);
    hg_buf_free(&key);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walk(const char *dir, totals_t *tot, int verbose)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d) return;
    char **names = NULL;
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        names = realloc(names, (count + 1) * sizeof *names);
        names[count++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, count, sizeof *names, cmp_str);
    for (size_t i = 0; i < count; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            walk(path, tot, verbose);
        else if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
            check_file(path, tot, verbose);
        free(names[i]);
    }
    free(names);
}

int main(void)
{
    const char *dir = getenv("HG_PEER_DIR");
    if (!dir || !*dir) dir = "../../shared/peer-playlists";
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        /* Skipped, not passed: ctest reads 77 as SKIP_RETURN_CODE. */
        printf("peer playlists: %s not found: SKIPPED\n", dir);
        return 77;
    }
    totals_t tot = {0};
    walk(dir, &tot, getenv("HG_PEER_VERBOSE") != NULL);
    printf("peer playlists: %ld files checked in %s (%ld playlists, %ld not playlists, %ld empty); "
           "%ld presigned, %ld gateway, %ld kept, %ld refused; %ld split runs\n",
           tot.files, dir, tot.playlists, tot.not_playlist, tot.empty, tot.presigned, tot.gateway,
           tot.kept, tot.refused, tot.split_runs);
    CHECK(tot.files > 0);
    TEST_DONE();
}
