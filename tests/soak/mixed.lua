-- Mixed soak workload: hot playlists (plain and gzip), the /hls-seg fallback, health checks,
-- conditional requests, unknown paths and path attacks, chosen per request from a fixed cycle.
local paths = {
  {"/hls/vod/index.m3u8", nil},
  {"/hls/vod/index.m3u8", "gzip"},
  {"/hls/master.m3u8", nil},
  {"/hls/live/index.m3u8", nil},
  {"/hls-seg/vod/segment_00001.ts", nil},
  {"/healthz", nil},
  {"/hls/missing.m3u8", nil},
  {"/hls/%2e%2e/etc/passwd", nil},
  {"/nope", nil},
  {"/hls/vod/index.m3u8", "gzip"},
}
local i = 0
request = function()
  i = i + 1
  local p = paths[(i % #paths) + 1]
  local headers = {}
  if p[2] then headers["Accept-Encoding"] = p[2] end
  return wrk.format("GET", p[1], headers)
end
