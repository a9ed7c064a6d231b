#include "window.h"

#include "sigv4.h"

int64_t hg_window_start(long window, time_t now)
{
    return window > 0 ? (int64_t)now - (int64_t)now % window : (int64_t)now;
}

long hg_window_expires(long expires, long window)
{
    long e = expires + window;
    return e > HG_PRESIGN_MAX_EXPIRES ? HG_PRESIGN_MAX_EXPIRES : e;
}
