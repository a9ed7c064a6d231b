#include "head.h"

#include <stdio.h>
#include <string.h>

void hg_gz_etag(const char *etag, char *out, size_t cap)
{
    size_t l = etag ? strlen(etag) : 0;
    if (l >= 2) snprintf(out, cap, "%.*s-gz\"", (int)(l - 1), etag);
    else if (cap) out[0] = 0;
}

size_t hg_pl_head(char *dst, size_t cap, const hg_pl_head_t *h)
{
    char gz[64];
    const char *etag = h->etag ? h->etag : "";
    if (h->gzip && etag[0]) {
        hg_gz_etag(etag, gz, sizeof gz);
        etag = gz;
    }
    int n;
    if (h->status == 304) {
        n = snprintf(dst, cap, "%s%s%sCache-Control: public, max-age=%ld\r\nVary: Accept-Encoding\r\n\r\n",
                     etag[0] ? "ETag: " : "", etag, etag[0] ? "\r\n" : "", h->max_age);
    } else {
        char len[48] = "";
        if (h->chunked) snprintf(len, sizeof len, "Transfer-Encoding: chunked\r\n");
        else if (h->length >= 0) snprintf(len, sizeof len, "Content-Length: %lld\r\n", h->length);
        n = snprintf(dst, cap, "Content-Type: " PLAYLIST_CONTENT_TYPE "\r\nCache-Control: public, max-age=%ld\r\n%s%s%s"
                               "Vary: Accept-Encoding\r\n%s%s\r\n",
                     h->max_age, etag[0] ? "ETag: " : "", etag, etag[0] ? "\r\n" : "",
                     h->gzip ? "Content-Encoding: gzip\r\n" : "", len);
    }
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

int hg_etag_matches(const char *inm, size_t len, const char *etag)
{
    if (!len || !etag || !etag[0]) return 0;
    size_t el = strlen(etag);
    const char *p = inm, *e = inm + len;
    while (p < e) {
        while (p < e && (*p == ' ' || *p == ',' || *p == '\t')) p++;
        if (p + 2 <= e && p[0] == 'W' && p[1] == '/') p += 2;
        const char *s = p;
        while (p < e && *p != ',') p++;
        const char *t = p;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t')) t--;
        if ((size_t)(t - s) == 1 && *s == '*') return 1;
        if ((size_t)(t - s) == el && memcmp(s, etag, el) == 0) return 1;
    }
    return 0;
}
