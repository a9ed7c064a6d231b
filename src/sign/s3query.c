#include "s3query.h"

#include <string.h>

#include "../common/query.h"

/* S3's sub-resources and special parameters (REST API reference), lower case. */
static const char *const SPECIAL[] = {
    "accelerate", "acl", "analytics", "attributes", "cors", "delete", "delimiter", "encoding-type",
    "encryption", "intelligent-tiering", "inventory", "legal-hold", "lifecycle", "list-type",
    "location", "logging", "marker", "max-keys", "max-parts", "max-uploads", "metadata-table",
    "metrics", "notification", "object-lock", "ownershipcontrols", "part-number-marker",
    "partnumber", "policy", "policystatus", "prefix", "publicaccessblock", "replication",
    "requestpayment", "restore", "retention", "select", "select-type", "session", "start-after",
    "tagging", "torrent", "upload-id-marker", "uploadid", "uploads", "versionid", "versioning",
    "versions", "version-id-marker", "website", "x-id", "continuation-token", "fetch-owner",
    "key-marker", "renameobject",
};

int hg_s3_param_special(const char *n, size_t len)
{
    if (len >= 6 && hg_name_eq_ci(n, 6, "x-amz-")) return 1;
    if (len >= 9 && hg_name_eq_ci(n, 9, "response-")) return 1;
    for (size_t i = 0; i < sizeof SPECIAL / sizeof SPECIAL[0]; i++)
        if (hg_name_eq_ci(n, len, SPECIAL[i])) return 1;
    return 0;
}

static int allowed(const char *n, size_t len, char *const *allow)
{
    for (; allow && *allow; allow++)
        if (strlen(*allow) == len && memcmp(*allow, n, len) == 0) return 1;
    return 0;
}

int hg_s3_query_filter(hg_buf_t *out, const char *q, size_t qlen, char *const *allow)
{
    hg_query_iter_t it;
    const char *n, *v;
    size_t nl, vl;
    int first = 1;
    hg_query_iter(&it, q, qlen);
    while (hg_query_next(&it, &n, &nl, &v, &vl)) {
        if (hg_s3_param_special(n, nl) && !allowed(n, nl, allow)) continue;
        size_t whole = v ? (size_t)(v + vl - n) : nl;
        int rc = first ? 0 : hg_buf_appendc(out, '&');
        if (!rc) rc = hg_buf_append(out, n, whole);
        if (rc) return rc;
        first = 0;
    }
    return 0;
}
