#include "err.h"

const char *hg_strerror(int code)
{
    switch (code) {
    case HG_OK: return "ok";
    case HG_ENOMEM: return "out of memory";
    case HG_EINVAL: return "invalid input";
    case HG_EOVERFLOW: return "size limit reached";
    case HG_ECRYPTO: return "cryptography failure";
    case HG_ENOTPLAYLIST: return "origin object is not a playlist (no #EXTM3U)";
    case HG_ELINE: return "playlist line too long";
    case HG_EEMPTY: return "origin object is empty";
    case HG_ETOOMANY: return "playlist has more URIs than PLAYLIST_MAX_URIS";
    case HG_EVAR: return "playlist uses an undefined variable";
    default: return "error";
    }
}
