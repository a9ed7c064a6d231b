/* libFuzzer target: URI resolution and key validation (src/hls/uri.h).
 *
 * Input layout: byte 0 selects the base folder: its low 6 bits are a length L, and when
 * bytes 1..L form a valid namespace key they are the base, otherwise one of a few fixed folders
 * is used (hg_uri_resolve requires a decoded, valid folder). The rest of the input is the URI.
 * The whole input (and the URI) also goes through hg_key_check as a request key would.
 *
 * Invariants:
 *   hg_uri_resolve
 *   - the result is one of RESOLVED, KEEP, ESCAPES, INVALID (the buffer is unlimited: no NOMEM);
 *   - anything but RESOLVED leaves the key buffer exactly as it was (ESCAPES/INVALID never
 *     produce output), and so does KEEP;
 *   - KEEP exactly when the URI has a scheme, is protocol-relative or holds "{$";
 *   - a resolved key is non-empty, has no leading or trailing '/', no empty, "." or ".."
 *     segment, no NUL, control byte, DEL or backslash, and passes hg_key_check;
 *   - query and fragment point inside the URI, right after '?' / '#', and the query holds no '#';
 *   - resolving twice gives the same answer (stable), and resolving "/" + the key, percent-encoded,
 *     against any base gives the key back (a resolved key is a fixed point);
 *   hg_key_check
 *   - accepts exactly the keys a straightforward reference check accepts (non-empty, valid UTF-8
 *     without overlong forms, surrogates or code points above U+10FFFF, no C0/DEL/backslash, no
 *     empty/"."/".." segment), and ESCAPES implies a ".." segment. */
#include <stdint.h>
#include <string.h>

#include "common/pct.h"
#include "fuzz_common.h"
#include "hls/uri.h"

static const uint8_t *IN;
static size_t IN_LEN;

static void fail_dump(void)
{
    fz_dump("input", IN, IN_LEN);
}

/* Reference UTF-8 check, written from RFC 3629's table, independent of uri.c. */
static int ref_utf8_ok(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        unsigned cp, need;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            cp = c & 0x1F, need = 1;
        } else if ((c & 0xF0) == 0xE0) {
            cp = c & 0x0F, need = 2;
        } else if ((c & 0xF8) == 0xF0) {
            cp = c & 0x07, need = 3;
        } else {
            return 0;
        }
        if (n - i - 1 < need) return 0;
        for (unsigned k = 1; k <= need; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        static const unsigned min[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += need + 1;
    }
    return 1;
}

/* Reference key check: 1 acceptable, 0 not; *dotdot set when some segment is "..". */
static int ref_key_ok(const char *k, size_t n, int *dotdot)
{
    *dotdot = 0;
    int ok = n > 0 && ref_utf8_ok((const unsigned char *)k, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)k[i];
        if (c < 0x20 || c == 0x7f || c == '\\') ok = 0;
    }
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && k[i] != '/') continue;
        size_t seg = i - start;
        if (seg == 0 || (seg == 1 && k[start] == '.')) ok = 0;
        if (seg == 2 && k[start] == '.' && k[start + 1] == '.') ok = 0, *dotdot = 1;
        start = i + 1;
    }
    return ok;
}

static void check_key_check(const char *k, size_t n)
{
    int dotdot;
    int ref = ref_key_ok(k, n, &dotdot);
    hg_uri_result_t r = hg_key_check(k, n);
    FZ_CHECK(r == HG_URI_RESOLVED || r == HG_URI_INVALID || r == HG_URI_ESCAPES, "hg_key_check returned %d", r);
    if ((r == HG_URI_RESOLVED) != ref) {
        fz_dump("key", k, n);
        FZ_CHECK(0, "hg_key_check says %d, the reference says %s", r, ref ? "acceptable" : "not acceptable");
    }
    FZ_CHECK(r != HG_URI_ESCAPES || dotdot, "ESCAPES for a key without a \"..\" segment");
}

/* RFC 3986 scheme detection, protocol-relative and EXT-X-DEFINE references, from the spec. */
static int ref_keep(const char *u, size_t n)
{
    if (n >= 2 && u[0] == '/' && u[1] == '/') return 1;
    for (size_t i = 0; i + 1 < n; i++)
        if (u[i] == '{' && u[i + 1] == '$') return 1;
    if (n == 0 || !((u[0] >= 'a' && u[0] <= 'z') || (u[0] >= 'A' && u[0] <= 'Z'))) return 0;
    for (size_t i = 1; i < n; i++) {
        char c = u[i];
        if (c == ':') return 1;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
              c == '-' || c == '.'))
            return 0;
    }
    return 0;
}

static void check_resolved(const char *key, size_t n)
{
    FZ_CHECK(n > 0, "resolved to an empty key");
    FZ_CHECK(key[0] != '/' && key[n - 1] != '/', "resolved key with a leading or trailing '/'");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        FZ_CHECK(c >= 0x20 && c != 0x7f && c != '\\', "resolved key holds byte 0x%02x", c);
    }
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && key[i] != '/') continue;
        size_t seg = i - start;
        FZ_CHECK(seg > 0, "resolved key has an empty segment");
        FZ_CHECK(!(seg == 1 && key[start] == '.'), "resolved key has a \".\" segment");
        FZ_CHECK(!(seg == 2 && key[start] == '.' && key[start + 1] == '.'), "resolved key has a \"..\" segment");
        start = i + 1;
    }
    FZ_CHECK(hg_key_check(key, n) == HG_URI_RESOLVED, "resolved key fails hg_key_check");
}

static const char PREFIX[] = "pfx";

static hg_uri_result_t resolve(const char *base, size_t bl, const char *u, size_t ul, hg_buf_t *key,
                               hg_uri_parts_t *parts)
{
    hg_buf_reset(key);
    hg_buf_append(key, PREFIX, 3); /* results are appended: check nothing before is touched */
    hg_uri_result_t r = hg_uri_resolve(base, bl, u, ul, key, parts);
    FZ_CHECK(key->len >= 3 && memcmp(key->data, PREFIX, 3) == 0, "bytes before the key were changed");
    if (r != HG_URI_RESOLVED) FZ_CHECK(key->len == 3, "result %d but the key buffer grew", r);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const bases[] = {"shows/ep1", "", "a", "x/y/z"};
    fz_on_fail = fail_dump;
    IN = data;
    IN_LEN = size;

    check_key_check((const char *)data, size);
    if (size == 0) return 0;

    size_t bl = data[0] & 0x3f;
    if (bl > size - 1) bl = size - 1;
    const char *base = (const char *)data + 1;
    if (bl == 0 || hg_key_check(base, bl) != HG_URI_RESOLVED) {
        base = bases[data[0] >> 6];
        bl = strlen(base);
        /* no base bytes consumed: the URI is everything after byte 0 */
        check_key_check((const char *)data + 1, size - 1);
    } else {
        data += bl;
        size -= bl;
    }
    const char *uri = (const char *)data + 1;
    size_t ul = size - 1;

    hg_buf_t key, again, enc;
    hg_buf_init(&key, 0);
    hg_buf_init(&again, 0);
    hg_buf_init(&enc, 0);
    hg_uri_parts_t parts, parts2;
    hg_uri_result_t r = resolve(base, bl, uri, ul, &key, &parts);
    FZ_CHECK(r == HG_URI_RESOLVED || r == HG_URI_KEEP || r == HG_URI_ESCAPES || r == HG_URI_INVALID,
             "hg_uri_resolve returned %d", r);
    FZ_CHECK((r == HG_URI_KEEP) == ref_keep(uri, ul), "KEEP is %d but the reference says %d",
             r == HG_URI_KEEP, ref_keep(uri, ul));

    /* The shortcut for plain URIs gives exactly what the full resolution gives. */
    {
        hg_buf_t full;
        hg_buf_init(&full, 0);
        hg_buf_append(&full, PREFIX, 3);
        hg_uri_parts_t pf;
        hg_uri_result_t rf = hg_uri_resolve_full(base, bl, uri, ul, &full, &pf);
        FZ_CHECK(rf == r, "plain shortcut (%d) and full resolution (%d) disagree", r, rf);
        if (rf == HG_URI_RESOLVED)
            FZ_CHECK(full.len == key.len && memcmp(full.data, key.data, key.len) == 0 &&
                         pf.query_len == parts.query_len && pf.fragment_len == parts.fragment_len &&
                         (pf.query == NULL) == (parts.query == NULL) &&
                         (pf.fragment == NULL) == (parts.fragment == NULL),
                     "plain shortcut and full resolution give different keys or parts");
        if (hg_uri_plain(uri, ul))
            FZ_CHECK(rf == HG_URI_RESOLVED && pf.query == NULL && pf.fragment == NULL,
                     "hg_uri_plain accepted a URI that does not resolve as it is");
        hg_buf_free(&full);
    }

    /* Stable: the same call gives the same answer. */
    hg_uri_result_t r2 = resolve(base, bl, uri, ul, &again, &parts2);
    FZ_CHECK(r2 == r && again.len == key.len && memcmp(again.data, key.data, key.len) == 0 &&
                 parts2.query == parts.query && parts2.query_len == parts.query_len &&
                 parts2.fragment == parts.fragment && parts2.fragment_len == parts.fragment_len,
             "resolving twice gave different answers");

    if (r == HG_URI_RESOLVED) {
        const char *k = key.data + 3;
        size_t kl = key.len - 3;
        check_resolved(k, kl);
        if (parts.query) {
            FZ_CHECK(parts.query > uri && parts.query + parts.query_len <= uri + ul && parts.query[-1] == '?',
                     "query does not point after a '?' inside the URI");
            FZ_CHECK(!memchr(parts.query, '#', parts.query_len), "query holds '#'");
        }
        if (parts.fragment)
            FZ_CHECK(parts.fragment > uri && parts.fragment + parts.fragment_len == uri + ul &&
                         parts.fragment[-1] == '#',
                     "fragment does not point after a '#' inside the URI");

        /* Fixed point: "/" + encoded key resolves to the key, whatever the base. */
        hg_buf_appendc(&enc, '/');
        FZ_CHECK(hg_pct_encode(&enc, k, kl, 1) == 0, "encode");
        hg_uri_result_t r3 = resolve("x/y", 3, enc.data, enc.len, &again, &parts2);
        if (r3 != HG_URI_RESOLVED || again.len != key.len || memcmp(again.data, key.data, key.len) != 0) {
            fz_dump("key", k, kl);
            fz_dump("encoded", enc.data, enc.len);
            FZ_CHECK(0, "the encoded key does not resolve to itself (result %d)", r3);
        }
    }
    hg_key_is_playlist(uri, ul);
    hg_buf_free(&key);
    hg_buf_free(&again);
    hg_buf_free(&enc);
    return 0;
}
