-- wrk script for benches/web.rs: optional path rotation, then the figures the bench parses.
-- PATHS (environment) is a file with one path per line; without it, wrk's URL path is used.
local paths = {}
local file = os.getenv("PATHS")
if file then
  for line in io.lines(file) do paths[#paths + 1] = line end
end
local i = 0
request = function()
  if #paths == 0 then return wrk.format("GET") end
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f rps=%.1f\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6)))
end
