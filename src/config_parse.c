/* Configuration values: parsers, the --config env file, cleanup. */
#include "config_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#include "common/base64.h"
#include "common/log.h"

/* "true"/"false" and friends; -1 when neither. */
int cfg_parse_bool(const char *v)
{
    if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on")) return 1;
    if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off")) return 0;
    return -1;
}

int cfg_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return HG_CONFIG_ERROR;
}

/* "S3_BUCKET" -> "--s3-bucket" */
void cfg_flag_name(const char *env, char *out, size_t cap)
{
    size_t o = 0;
    out[o++] = '-';
    out[o++] = '-';
    for (; *env && o + 1 < cap; env++) out[o++] = *env == '_' ? '-' : (char)tolower((unsigned char)*env);
    out[o] = 0;
}

int cfg_parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || !isdigit((unsigned char)s[0])) return -1;
    *out = v;
    return 0;
}


int cfg_parse_listen(hg_config_t *c, const char *v)
{
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v) return LISTEN_FORM;
    const char *h = v;
    size_t hl = (size_t)(colon - v);
    if (h[0] == '[') {
        if (hl < 3 || h[hl - 1] != ']') return LISTEN_FORM;
        h++;
        hl -= 2;
    }
    char host[64];
    if (hl >= sizeof host) return LISTEN_HOST;
    memcpy(host, h, hl);
    host[hl] = 0;
    unsigned char tmp[16];
    if (inet_pton(AF_INET, host, tmp) != 1 && inet_pton(AF_INET6, host, tmp) != 1) return LISTEN_HOST;
    long port;
    if (cfg_parse_long(colon + 1, &port) || port < 0 || port > 65535) return LISTEN_PORT;
    free(c->listen_host);
    c->listen_host = strdup(host);
    c->listen_port = (int)port;
    return 0;
}

/* scheme://host[:port] with no path, query or credentials; the result has no trailing '/'. */
char *cfg_parse_url(const char *v)
{
    size_t skip;
    if (strncmp(v, "http://", 7) == 0) skip = 7;
    else if (strncmp(v, "https://", 8) == 0) skip = 8;
    else return NULL;
    size_t len = strlen(v);
    while (len > skip && v[len - 1] == '/') len--;
    if (len == skip) return NULL;
    for (size_t i = skip; i < len; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch <= ' ' || ch >= 0x7f || ch == '@' || ch == '?' || ch == '#' || ch == '"' || ch == '\\' ||
            ch == '/')
            return NULL;
    }
    return strndup(v, len);
}

/* SEGMENT_BASE_URL: scheme://host[:port][/path]; trailing '/' dropped; the path may hold only
 * characters that are safe to put into a URL, a CloudFront policy and an Akamai acl as they are. */
char *cfg_parse_base_url(const char *v)
{
    size_t skip;
    if (strncmp(v, "http://", 7) == 0) skip = 7;
    else if (strncmp(v, "https://", 8) == 0) skip = 8;
    else return NULL;
    size_t len = strlen(v);
    while (len > skip && v[len - 1] == '/') len--;
    if (len == skip || v[skip] == '/') return NULL;
    for (size_t i = skip; i < len; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch <= ' ' || ch >= 0x7f || strchr("@?#\"\\~!*<>^`{}|", ch)) return NULL;
    }
    return strndup(v, len);
}

int cfg_valid_bucket(const char *b)
{
    size_t n = strlen(b);
    if (n < 1 || n > 255) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)b[i];
        if (!isalnum(ch) && ch != '.' && ch != '-' && ch != '_') return 0;
    }
    return 1;
}

int cfg_valid_region(const char *r)
{
    if (!*r || strlen(r) > 64) return 0;
    for (; *r; r++)
        if (!isalnum((unsigned char)*r) && *r != '-' && *r != '_') return 0;
    return 1;
}

int cfg_valid_token_chars(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f) return 0;
    return 1;
}

/* Trim '/' from both ends; reject "." / ".." segments, empty segments, control bytes. */
char *cfg_parse_prefix(const char *v)
{
    while (*v == '/') v++;
    size_t n = strlen(v);
    while (n && v[n - 1] == '/') n--;
    const char *seg = v;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && ((unsigned char)v[i] < 0x20 || v[i] == 0x7f || v[i] == '\\')) return NULL;
        if (i == n || v[i] == '/') {
            size_t sl = (size_t)(v + i - seg);
            if (n && (sl == 0 || (sl == 1 && seg[0] == '.') || (sl == 2 && seg[0] == '.' && seg[1] == '.')))
                return NULL;
            seg = v + i + 1;
        }
    }
    return strndup(v, n);
}

char **cfg_parse_exts(const char *v)
{
    size_t count = 1;
    for (const char *p = v; *p; p++) count += *p == ',';
    char **list = calloc(count + 1, sizeof *list);
    if (!list) return NULL;
    size_t k = 0;
    const char *p = v;
    while (1) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && isspace((unsigned char)*p)) p++, len--;
        while (len && isspace((unsigned char)p[len - 1])) len--;
        if (len && *p == '.') p++, len--;
        if (len) {
            char *s = strndup(p, len);
            for (size_t i = 0; s && i < len; i++) {
                if (!isalnum((unsigned char)s[i])) {
                    free(s);
                    s = NULL;
                    break;
                }
                s[i] = (char)tolower((unsigned char)s[i]);
            }
            if (!s) {
                for (size_t i = 0; i < k; i++) free(list[i]);
                free(list);
                return NULL;
            }
            list[k++] = s;
        }
        if (!e) break;
        p = e + 1;
    }
    return list;
}

/* "a, b,c" -> {"a","b","c",NULL}: names of letters, digits, '-', '_' and '.'; case kept. */
char **cfg_parse_names(const char *v)
{
    size_t count = 1;
    for (const char *p = v; *p; p++) count += *p == ',';
    char **list = calloc(count + 1, sizeof *list);
    if (!list) return NULL;
    size_t k = 0;
    for (const char *p = v;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && isspace((unsigned char)*p)) p++, len--;
        while (len && isspace((unsigned char)p[len - 1])) len--;
        for (size_t i = 0; i < len; i++) {
            if (!isalnum((unsigned char)p[i]) && p[i] != '-' && p[i] != '_' && p[i] != '.') {
                for (size_t j = 0; j < k; j++) free(list[j]);
                free(list);
                return NULL;
            }
        }
        if (len && !(list[k++] = strndup(p, len))) {
            for (size_t j = 0; j + 1 < k; j++) free(list[j]);
            free(list);
            return NULL;
        }
        if (!e) break;
        p = e + 1;
    }
    return list;
}

int hg_config_seg_ext_allowed(const hg_config_t *cfg, const char *ext, size_t len)
{
    for (char **e = cfg->seg_exts; e && *e; e++)
        if (strlen(*e) == len && strncasecmp(*e, ext, len) == 0) return 1;
    return 0;
}


int cfg_read_envfile(envfile_t *ef, const char *path, char *err, size_t errlen)
{
    memset(ef, 0, sizeof *ef);
    FILE *f = fopen(path, "r");
    if (!f) return cfg_fail(err, errlen, "--config: cannot open '%.200s': %s", path, strerror(errno));
    size_t cap = 0, len = 0;
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + got + 1 > cap) {
            cap = (len + got + 1) * 2;
            char *t = realloc(ef->text, cap);
            if (!t || cap > (1 << 20)) {
                free(t ? t : ef->text);
                ef->text = NULL;
                fclose(f);
                return cfg_fail(err, errlen, "--config: '%.200s' is too large", path);
            }
            ef->text = t;
        }
        memcpy(ef->text + len, chunk, got);
        len += got;
    }
    fclose(f);
    if (!ef->text && !(ef->text = calloc(1, 1))) return cfg_fail(err, errlen, "--config: out of memory");
    ef->text[len] = 0;
    int lineno = 0;
    for (char *line = ef->text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        lineno++;
        char *p = line;
        size_t l = strlen(p);
        while (l && (p[l - 1] == '\r' || p[l - 1] == ' ' || p[l - 1] == '\t')) p[--l] = 0;
        while (*p == ' ' || *p == '\t') p++;
        if (!strncmp(p, "export ", 7)) p += 7;
        if (*p && *p != '#') {
            char *eq = strchr(p, '=');
            if (!eq || eq == p || ef->n == 256) {
                free(ef->text);
                ef->text = NULL;
                return cfg_fail(err, errlen, "--config: %.200s line %d is not NAME=VALUE", path, lineno);
            }
            *eq = 0;
            char *v = eq + 1;
            size_t vl = strlen(v);
            if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
                v[vl - 1] = 0;
                v++;
            }
            ef->names[ef->n] = p;
            ef->values[ef->n++] = v;
        }
        line = nl ? nl + 1 : NULL;
    }
    return 0;
}

/* A setting's value: the --config file first, then the environment. */
const char *cfg_lookup(const envfile_t *ef, const char *name)
{
    for (int i = ef->n - 1; i >= 0; i--)
        if (!strcmp(ef->names[i], name)) return ef->values[i];
    return getenv(name);
}

/* Free a secret after overwriting it (n 0: a NUL-terminated string). */
static void wipe_free(void *p, size_t n)
{
    if (!p) return;
    memset(p, 0, n ? n : strlen(p));
    free(p);
}

void hg_config_free(hg_config_t *c)
{
    char **strs[] = {&c->config_file, &c->listen_host, &c->s3_endpoint, &c->s3_bucket, &c->s3_region, &c->access_key,
                     &c->session_token, &c->key_prefix, &c->public_base_url, &c->token_param, &c->seg_base_url,
                     &c->cf_key_pair_id, &c->cf_key_file, &c->akamai_token_name, &c->gcdn_key_name, &c->ca_file,
                     &c->shared_creds_file, &c->aws_profile, &c->web_identity_token_file, &c->role_arn,
                     &c->role_session_name, &c->sts_endpoint, &c->container_full_uri, &c->container_relative_uri,
                     &c->container_auth_token_file, &c->imds_endpoint};
    for (size_t k = 0; k < sizeof strs / sizeof strs[0]; k++) free(*strs[k]);
    wipe_free(c->secret_key, 0);
    wipe_free(c->token_secret, c->token_secret_len);
    wipe_free(c->akamai_key, c->akamai_key_len);
    wipe_free(c->bunny_key, 0);
    wipe_free(c->container_auth_token, 0);
    for (char **e = c->seg_exts; e && *e; e++) free(*e);
    free(c->seg_exts);
    char ***lists[] = {&c->s3_query_allow, &c->pass_query, &c->cache_key_query};
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) {
        for (char **e = *lists[k]; e && *e; e++) free(*e);
        free(*lists[k]);
    }
    memset(c, 0, sizeof *c);
}
