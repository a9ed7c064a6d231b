-- Requests ZIPF_N distinct playlists with Zipf popularity: rank k (1-based) is asked for with
-- probability proportional to 1/k^ZIPF_S. Ranks map to paths through a fixed permutation, so
-- popularity is not simply alphabetical. Environment:
--   ZIPF_N (10000), ZIPF_S (1.0), ZIPF_PATTERN ("/hls/zipf/p%05d/index.m3u8"), BENCH_WRK_DIR
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

local n = tonumber(os.getenv("ZIPF_N") or "10000")
local s = tonumber(os.getenv("ZIPF_S") or "1.0")
local pattern = os.getenv("ZIPF_PATTERN") or "/hls/zipf/p%05d/index.m3u8"

-- Cumulative distribution over ranks, precomputed once per thread.
local cdf, total = {}, 0
for k = 1, n do
  total = total + 1 / (k ^ s)
  cdf[k] = total
end
for k = 1, n do cdf[k] = cdf[k] / total end

-- A fixed permutation rank -> playlist index (same in every thread and every run).
local perm = {}
for i = 1, n do perm[i] = i - 1 end
local seed = 12345
local function lcg()
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed
end
for i = n, 2, -1 do
  local j = lcg() % i + 1
  perm[i], perm[j] = perm[j], perm[i]
end

-- Requests are formatted once, in init() (wrk sets the Host header only then); request() only
-- picks one.
local reqs = {}

local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

init = function(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
  for k = 1, n do
    reqs[k] = wrk.format("GET", string.format(pattern, perm[k]))
  end
end

request = function()
  local u = math.random()
  local lo, hi = 1, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return reqs[lo]
end
