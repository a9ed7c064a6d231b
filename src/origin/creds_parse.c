#include "creds_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int hg_creds_parse_iso8601(const char *s, size_t len, time_t *out)
{
    int y, mo, d, h, mi, se;
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
        s[16] != ':' || digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) || digits(s + 11, 2, &h) ||
        digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return -1;
    size_t i = 19;
    if (i < len && s[i] == '.') {
        i++;
        size_t start = i;
        while (i < len && s[i] >= '0' && s[i] <= '9') i++;
        if (i == start) return -1;
    }
    long zone = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) i++;
    else if (i + 6 <= len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int zh, zm;
        if (digits(s + i + 1, 2, &zh) || digits(s + i + 4, 2, &zm) || zh > 23 || zm > 59) return -1;
        zone = (s[i] == '+' ? 1 : -1) * (zh * 3600L + zm * 60L);
        i += 6;
    } else
        return -1;
    if (i != len) return -1;
    *out = hg_clock_utc(y, mo, d, h, mi, se) - zone;
    return 0;
}

/* ---- JSON: one flat object of string values (nested values are skipped) ------------------- */

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
    return p;
}

/* Read a JSON string starting after its opening quote into dst (NUL-terminated, at most cap-1
 * bytes; longer is an error). Returns the position after the closing quote, or NULL. Escapes
 * other than \uXXXX of ASCII are refused: credentials never need them. */
static const char *json_string(const char *p, const char *e, char *dst, size_t cap)
{
    size_t n = 0;
    while (p < e && *p != '"') {
        char ch = *p++;
        if ((unsigned char)ch < 0x20) return NULL;
        if (ch == '\\') {
            if (p >= e) return NULL;
            char esc = *p++;
            switch (esc) {
            case '"': case '\\': case '/': ch = esc; break;
            case 'n': ch = '\n'; break;
            case 't': ch = '\t'; break;
            case 'r': ch = '\r'; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'u': {
                unsigned v = 0;
                for (int k = 0; k < 4; k++) {
                    if (p >= e) return NULL;
                    char hx = *p++;
                    v <<= 4;
                    if (hx >= '0' && hx <= '9') v |= (unsigned)(hx - '0');
                    else if (hx >= 'a' && hx <= 'f') v |= (unsigned)(hx - 'a' + 10);
                    else if (hx >= 'A' && hx <= 'F') v |= (unsigned)(hx - 'A' + 10);
                    else return NULL;
                }
                if (v == 0 || v > 0x7f) return NULL;
                ch = (char)v;
                break;
            }
            default: return NULL;
            }
        }
        if (n + 1 >= cap) return NULL;
        dst[n++] = ch;
    }
    if (p >= e) return NULL;
    dst[n] = 0;
    return p + 1;
}

/* Skip one JSON value of any kind (for keys we do not want); depth-bounded. */
static const char *json_skip(const char *p, const char *e, int depth)
{
    p = skip_ws(p, e);
    if (p >= e || depth > 16) return NULL;
    if (*p == '"') {
        for (p++; p < e; p++) {
            if (*p == '\\') p++;
            else if (*p == '"') return p + 1;
        }
        return NULL;
    }
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = skip_ws(p + 1, e);
        if (p < e && *p == close) return p + 1;
        while (p < e) {
            if (close == '}') {
                p = skip_ws(p, e);
                if (p >= e || *p != '"' || !(p = json_skip(p, e, depth + 1))) return NULL;
                p = skip_ws(p, e);
                if (p >= e || *p++ != ':') return NULL;
            }
            if (!(p = json_skip(p, e, depth + 1))) return NULL;
            p = skip_ws(p, e);
            if (p < e && *p == ',') p++;
            else if (p < e && *p == close) return p + 1;
            else return NULL;
        }
        return NULL;
    }
    /* number, true, false, null */
    const char *s = p;
    while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') p++;
    return p > s ? p : NULL;
}

static int parse_json(const char *body, size_t len, hg_creds_parsed_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *p = body, *e = body + len;
    char key[64], exp[64] = "", code[64] = "", msg[160] = "";
    int have_ak = 0, have_sk = 0;
    p = skip_ws(p, e);
    if (p >= e || *p++ != '{') return fail(err, errlen, "answer is not a JSON object");
    p = skip_ws(p, e);
    if (p < e && *p == '}') p = e; /* empty object: falls through to the missing-field error */
    while (p < e) {
        p = skip_ws(p, e);
        if (p >= e || *p != '"' || !(p = json_string(p + 1, e, key, sizeof key)))
            return fail(err, errlen, "malformed JSON (expected a string key)");
        p = skip_ws(p, e);
        if (p >= e || *p++ != ':') return fail(err, errlen, "malformed JSON (expected ':')");
        p = skip_ws(p, e);
        char *dst = NULL;
        size_t cap = 0;
        if (!strcmp(key, "AccessKeyId")) dst = out->access_key, cap = sizeof out->access_key, have_ak = 1;
        else if (!strcmp(key, "SecretAccessKey")) dst = out->secret_key, cap = sizeof out->secret_key, have_sk = 1;
        else if (!strcmp(key, "Token")) dst = out->session_token, cap = sizeof out->session_token;
        else if (!strcmp(key, "Expiration")) dst = exp, cap = sizeof exp;
        else if (!strcmp(key, "Code")) dst = code, cap = sizeof code;
        else if (!strcmp(key, "Message")) dst = msg, cap = sizeof msg;
        if (dst) {
            if (p >= e || *p != '"' || !(p = json_string(p + 1, e, dst, cap))) {
                hg_creds_parsed_wipe(out);
                return fail(err, errlen, "malformed JSON value for %s", key);
            }
        } else if (!(p = json_skip(p, e, 0))) {
            hg_creds_parsed_wipe(out);
            return fail(err, errlen, "malformed JSON value for %.40s", key);
        }
        p = skip_ws(p, e);
        if (p < e && *p == ',') p++;
        else if (p < e && *p == '}') break;
        else {
            hg_creds_parsed_wipe(out);
            return fail(err, errlen, "malformed JSON (expected ',' or '}')");
        }
    }
    if (code[0] && strcmp(code, "Success") != 0) {
        hg_creds_parsed_wipe(out);
        return fail(err, errlen, "endpoint answered Code=%s %s", code, msg);
    }
    if (!have_ak || !have_sk || !out->access_key[0] || !out->secret_key[0]) {
        hg_creds_parsed_wipe(out);
        return fail(err, errlen, "answer has no AccessKeyId/SecretAccessKey");
    }
    if (!exp[0] || hg_creds_parse_iso8601(exp, strlen(exp), &out->expiration)) {
        hg_creds_parsed_wipe(out);
        return fail(err, errlen, "answer has no valid Expiration");
    }
    return 0;
}

/* ---- XML (STS): find <Tag>text</Tag>, decode the five predefined entities -------------------- */

/* Text of the first <tag>...</tag> inside [p, e), entity-decoded into dst. 1 found, 0 absent,
 * -1 too long or malformed. */
static int xml_text(const char *p, const char *e, const char *tag, char *dst, size_t cap)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    size_t ol = strlen(open), cl = strlen(close);
    const char *s = NULL;
    for (const char *q = p; q + ol <= e; q++)
        if (*q == '<' && memcmp(q, open, ol) == 0) {
            s = q + ol;
            break;
        }
    if (!s) return 0;
    const char *t = NULL;
    for (const char *q = s; q + cl <= e; q++)
        if (*q == '<') {
            if (memcmp(q, close, cl) == 0) t = q;
            break; /* no nested elements in the values we read */
        }
    if (!t) return -1;
    size_t n = 0;
    for (const char *q = s; q < t; q++) {
        char ch = *q;
        if (ch == '&') {
            static const struct { const char *ent; char ch; } ENT[] = {
                {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
            size_t k, found = 0;
            for (k = 0; k < 5; k++) {
                size_t el = strlen(ENT[k].ent);
                if ((size_t)(t - q) >= el && memcmp(q, ENT[k].ent, el) == 0) {
                    ch = ENT[k].ch;
                    q += el - 1;
                    found = 1;
                    break;
                }
            }
            if (!found) return -1;
        }
        if (n + 1 >= cap) return -1;
        dst[n++] = ch;
    }
    /* Values are tokens: trim the whitespace pretty-printers put around them. */
    while (n && (dst[n - 1] == ' ' || dst[n - 1] == '\n' || dst[n - 1] == '\r' || dst[n - 1] == '\t')) n--;
    dst[n] = 0;
    size_t lead = 0;
    while (dst[lead] == ' ' || dst[lead] == '\n' || dst[lead] == '\r' || dst[lead] == '\t') lead++;
    if (lead) memmove(dst, dst + lead, n - lead + 1);
    return 1;
}

static int parse_sts(const char *body, size_t len, hg_creds_parsed_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *e = body + len;
    char code[96] = "", msg[200] = "", exp[64] = "";
    if (xml_text(body, e, "Code", code, sizeof code) == 1) {
        xml_text(body, e, "Message", msg, sizeof msg);
        return fail(err, errlen, "STS error %s: %s", code, msg);
    }
    /* Look inside <Credentials> only (AssumedRoleUser also has an Arn, and so on). */
    const char *c = NULL;
    for (const char *q = body; q + 13 <= e; q++)
        if (memcmp(q, "<Credentials>", 13) == 0) {
            c = q;
            break;
        }
    if (!c) return fail(err, errlen, "STS answer has no Credentials element");
    if (xml_text(c, e, "AccessKeyId", out->access_key, sizeof out->access_key) != 1 ||
        xml_text(c, e, "SecretAccessKey", out->secret_key, sizeof out->secret_key) != 1 ||
        xml_text(c, e, "SessionToken", out->session_token, sizeof out->session_token) != 1 || !out->access_key[0] ||
        !out->secret_key[0] || !out->session_token[0]) {
        hg_creds_parsed_wipe(out);
        return fail(err, errlen, "STS answer lacks AccessKeyId, SecretAccessKey or SessionToken");
    }
    if (xml_text(c, e, "Expiration", exp, sizeof exp) != 1 || hg_creds_parse_iso8601(exp, strlen(exp), &out->expiration)) {
        hg_creds_parsed_wipe(out);
        return fail(err, errlen, "STS answer has no valid Expiration");
    }
    return 0;
}

/* ---- shared credentials file ---------------------------------------------------------------- */

static void trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t' || **s == '\r')) (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r')) (*e)--;
}

static int parse_ini(const char *text, size_t len, const char *profile, hg_creds_parsed_t *out, char *err,
                     size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *p = text, *end = text + len;
    int in = 0, seen = 0;
    size_t pl = strlen(profile);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end, *ls = p;
        p = nl ? nl + 1 : end;
        trim(&ls, &le);
        if (ls == le || *ls == '#' || *ls == ';') continue;
        if (*ls == '[') {
            const char *s = ls + 1, *e2 = le;
            if (e2 > s && e2[-1] == ']') e2--;
            trim(&s, &e2);
            /* "[profile name]" belongs to the config file, but accept it as the SDKs do. */
            if ((size_t)(e2 - s) > 8 && memcmp(s, "profile ", 8) == 0) {
                s += 8;
                trim(&s, &e2);
            }
            in = (size_t)(e2 - s) == pl && memcmp(s, profile, pl) == 0;
            seen |= in;
            continue;
        }
        if (!in) continue;
        const char *eq = memchr(ls, '=', (size_t)(le - ls));
        if (!eq) continue;
        const char *ks = ls, *ke = eq, *vs = eq + 1, *ve = le;
        trim(&ks, &ke);
        trim(&vs, &ve);
        size_t kl = (size_t)(ke - ks), vl = (size_t)(ve - vs);
        char *dst = NULL;
        size_t cap = 0;
        if (kl == 17 && !memcmp(ks, "aws_access_key_id", kl)) dst = out->access_key, cap = sizeof out->access_key;
        else if (kl == 21 && !memcmp(ks, "aws_secret_access_key", kl)) dst = out->secret_key, cap = sizeof out->secret_key;
        else if (kl == 17 && !memcmp(ks, "aws_session_token", kl)) dst = out->session_token, cap = sizeof out->session_token;
        if (!dst) continue;
        if (vl >= cap) {
            hg_creds_parsed_wipe(out);
            return fail(err, errlen, "profile %.64s: value of %.*s is too long", profile, (int)kl, ks);
        }
        memcpy(dst, vs, vl);
        dst[vl] = 0;
    }
    if (!seen) return fail(err, errlen, "profile %.64s not found", profile);
    if (!out->access_key[0] || !out->secret_key[0]) {
        hg_creds_parsed_wipe(out);
        return fail(err, errlen, "profile %.64s has no aws_access_key_id/aws_secret_access_key", profile);
    }
    return 0;
}

void hg_creds_parsed_wipe(hg_creds_parsed_t *p)
{
    volatile char *v = (volatile char *)p;
    for (size_t i = 0; i < sizeof *p; i++) v[i] = 0;
}

int hg_creds_parse_json(const char *body, size_t len, hg_creds_parsed_t *out, char *err, size_t errlen)
{
    /* Whatever went wrong, nothing read before the failure (a secret) is left behind. */
    int rc = parse_json(body, len, out, err, errlen);
    if (rc) hg_creds_parsed_wipe(out);
    return rc;
}

int hg_creds_parse_sts(const char *body, size_t len, hg_creds_parsed_t *out, char *err, size_t errlen)
{
    /* Whatever went wrong, nothing read before the failure (a secret) is left behind. */
    int rc = parse_sts(body, len, out, err, errlen);
    if (rc) hg_creds_parsed_wipe(out);
    return rc;
}

int hg_creds_parse_ini(const char *text, size_t len, const char *profile, hg_creds_parsed_t *out, char *err,
                       size_t errlen)
{
    int rc = parse_ini(text, len, profile, out, err, errlen);
    if (rc) hg_creds_parsed_wipe(out);
    return rc;
}
