-- bench/tutoring.lua: the wrk script of bench/tutoring.sh.
--
-- Each request is POST (the URL's path) with the JSON body
-- {"query": "..."} and Content-Type: application/json; the Authorization
-- header comes from wrk's -H. Counts, over all threads, the requests sent,
-- the answers by status, and the answers whose body holds LX_BENCH_MARK (the
-- fake model's words: proof that the model answered, not a fallback). At the
-- end it prints "LX NAME VALUE" lines for the script to parse:
--
--   sent answered status_2xx status_other marked errors_connect errors_read
--   errors_write errors_status errors_timeout slow (answered after more than
--   LX_BENCH_SLOW_MS, default 10000) p50_ms p90_ms p99_ms max_ms mean_ms
--   status_NNN for each status seen
--
-- Run wrk with a --timeout longer than the run, so that every answer is in
-- its latency histogram; "slow" is then counted here from the histogram.

local threads = {}
local query = os.getenv("LX_BENCH_QUERY") or "What is photosynthesis? Please explain it simply."
local mark = os.getenv("LX_BENCH_MARK") or ""
local slow_us = (tonumber(os.getenv("LX_BENCH_SLOW_MS") or "") or 10000) * 1000

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
-- The query is plain ASCII without quotes or backslashes (the script sets it).
wrk.body = '{"query":"' .. query .. '"}'

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   sent = 0
   answered = 0
   marked = 0
   statuses = {}
end

function request()
   sent = sent + 1
   return wrk.format()
end

function response(status, headers, body)
   answered = answered + 1
   statuses[status] = (statuses[status] or 0) + 1
   if status >= 200 and status < 300 and mark ~= "" and body and string.find(body, mark, 1, true) then
      marked = marked + 1
   end
end

local function out(name, value)
   io.write(string.format("LX %s %s\n", name, tostring(value)))
end

function done(summary, latency, requests)
   local t = { sent = 0, answered = 0, marked = 0 }
   local st = {}
   for _, thread in ipairs(threads) do
      t.sent = t.sent + (thread:get("sent") or 0)
      t.answered = t.answered + (thread:get("answered") or 0)
      t.marked = t.marked + (thread:get("marked") or 0)
      for code, n in pairs(thread:get("statuses") or {}) do
         st[code] = (st[code] or 0) + n
      end
   end
   local ok, other = 0, 0
   for code, n in pairs(st) do
      if code >= 200 and code < 300 then ok = ok + n else other = other + n end
      out("status_" .. code, n)
   end
   -- Answers slower than slow_us: a bisection over ranks (walking the
   -- histogram value by value with latency(i) is quadratic in wrk 4.1).
   local count, slow = summary.requests, 0
   if count > 0 and latency.max > slow_us then
      if latency.min > slow_us then
         slow = count
      else
         -- wrk's percentile(p) is the value of rank round(p / 100 * count + 0.5).
         local function at(rank) return latency:percentile((rank - 0.5) / count * 100) end
         local lo, hi = 1, count -- at(lo) <= slow_us < at(hi)
         while hi - lo > 1 do
            local mid = math.floor((lo + hi) / 2)
            if at(mid) <= slow_us then lo = mid else hi = mid end
         end
         slow = count - lo
      end
   end
   out("sent", t.sent)
   out("answered", t.answered)
   out("status_2xx", ok)
   out("status_other", other)
   out("marked", t.marked)
   out("errors_connect", summary.errors.connect)
   out("errors_read", summary.errors.read)
   out("errors_write", summary.errors.write)
   out("errors_status", summary.errors.status)
   out("errors_timeout", summary.errors.timeout)
   out("slow", slow)
   out("duration_s", string.format("%.3f", summary.duration / 1e6))
   out("requests", summary.requests)
   if summary.requests > 0 then
      out("p50_ms", string.format("%.1f", latency:percentile(50) / 1000))
      out("p90_ms", string.format("%.1f", latency:percentile(90) / 1000))
      out("p99_ms", string.format("%.1f", latency:percentile(99) / 1000))
      out("max_ms", string.format("%.1f", latency.max / 1000))
      out("mean_ms", string.format("%.1f", latency.mean / 1000))
   end
end
