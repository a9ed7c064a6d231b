/* Signing windows: URLs are signed for the window `now` falls in, so every worker and replica
 * writes byte-identical playlists within a window. */
#ifndef HG_WINDOW_H
#define HG_WINDOW_H

#include <stdint.h>
#include <time.h>

/** Start of the window of `window` seconds that `now` falls in (now itself when window is 0). */
int64_t hg_window_start(long window, time_t now);
/** X-Amz-Expires for window-signed URLs: expires + window, capped at 7 days, so a URL served at
 *  the end of its window still lives `expires` seconds. */
long hg_window_expires(long expires, long window);

#endif
