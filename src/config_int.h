/* Internal to the configuration loader: value parsers, the env file reader and cleanup
 * (config_parse.c), used by the settings table (config.c). */
#ifndef HG_CONFIG_INT_H
#define HG_CONFIG_INT_H

#include "config.h"

enum { LISTEN_FORM = -1, LISTEN_HOST = -2, LISTEN_PORT = -3 };

/* An env file (--config): NAME=VALUE lines, split in place in one buffer. */
typedef struct {
    char *text;
    const char *names[256];
    const char *values[256];
    int n;
} envfile_t;

int cfg_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int cfg_parse_bool(const char *v);
void cfg_flag_name(const char *env, char *out, size_t cap);
int cfg_parse_long(const char *s, long *out);
int cfg_parse_listen(hg_config_t *c, const char *v);
char *cfg_parse_url(const char *v);
char *cfg_parse_base_url(const char *v);
int cfg_valid_bucket(const char *b);
int cfg_valid_region(const char *r);
int cfg_valid_token_chars(const char *s);
char *cfg_parse_prefix(const char *v);
char **cfg_parse_exts(const char *v);
char **cfg_parse_names(const char *v);
int cfg_read_envfile(envfile_t *ef, const char *path, char *err, size_t errlen);
const char *cfg_lookup(const envfile_t *ef, const char *name);

#endif
