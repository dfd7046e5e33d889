-- bench/storage_chat.lua: the wrk script of the chat figure of
-- bench/storage.sh (bench/storage_bench.py runs it).
--
-- LX_BENCH_CHAT names a file with one line per user:
--
--   TOKEN THREAD_ID DOCUMENT_ID
--
-- Run wrk with as many threads as lines and one connection per thread
-- (wrk -t4 -c4): setup() gives thread i the i-th line, so each connection
-- is one user on its own thread about its own document. Every request is
-- POST /api/v2/agent/chat with Authorization: Bearer TOKEN and the JSON
-- body {"query", "thread_id", "document_id"}, the query numbered by a
-- per-thread counter so that no two turns of a thread are alike.
--
-- At the end it prints "LX NAME VALUE" lines for the caller to parse:
--
--   users sent answered status_2xx status_other errors_connect errors_read
--   errors_write errors_status errors_timeout requests duration_s rate
--   p50_ms p99_ms max_ms mean_ms, and status_NNN for each status seen
--
-- Run wrk with a --timeout longer than the run, so that every answer is in
-- its latency histogram. The caller fails the run on any non-2xx answer or
-- socket error: a figure is never made of errors.

local threads = {}
local users = {}
local path = os.getenv("LX_BENCH_CHAT")
if path == nil or path == "" then
   error("storage_chat.lua: LX_BENCH_CHAT (the users file) is not set")
end
for line in io.lines(path) do
   local token, thread_id, doc_id = line:match("^(%S+)%s+(%S+)%s+(%S+)%s*$")
   if token ~= nil then
      table.insert(users, { token = token, thread_id = thread_id, doc_id = doc_id })
   end
end
if #users == 0 then
   error("storage_chat.lua: no users in " .. path)
end

function setup(thread)
   table.insert(threads, thread)
   local u = users[(#threads - 1) % #users + 1]
   thread:set("auth", "Bearer " .. u.token)
   thread:set("thread_id", u.thread_id)
   thread:set("doc_id", u.doc_id)
end

function init(args)
   sent = 0
   answered = 0
   statuses = {}
   headers = { ["Authorization"] = auth, ["Content-Type"] = "application/json" }
   -- Ids and the query are plain ASCII without quotes or backslashes.
   body_fmt = '{"query":"How does the water cycle move water %d?","thread_id":"' .. thread_id ..
      '","document_id":"' .. doc_id .. '"}'
end

function request()
   sent = sent + 1
   return wrk.format("POST", "/api/v2/agent/chat", headers, string.format(body_fmt, sent))
end

function response(status, hdrs, body)
   answered = answered + 1
   statuses[status] = (statuses[status] or 0) + 1
end

local function out(name, value)
   io.write(string.format("LX %s %s\n", name, tostring(value)))
end

function done(summary, latency, requests)
   local sent_all, answered_all, ok, other = 0, 0, 0, 0
   local st = {}
   for _, thread in ipairs(threads) do
      sent_all = sent_all + (thread:get("sent") or 0)
      answered_all = answered_all + (thread:get("answered") or 0)
      for code, n in pairs(thread:get("statuses") or {}) do
         st[code] = (st[code] or 0) + n
      end
   end
   for code, n in pairs(st) do
      if code >= 200 and code < 300 then ok = ok + n else other = other + n end
      out("status_" .. code, n)
   end
   local secs = summary.duration / 1e6
   out("users", #users)
   out("sent", sent_all)
   out("answered", answered_all)
   out("status_2xx", ok)
   out("status_other", other)
   out("errors_connect", summary.errors.connect)
   out("errors_read", summary.errors.read)
   out("errors_write", summary.errors.write)
   out("errors_status", summary.errors.status)
   out("errors_timeout", summary.errors.timeout)
   out("requests", summary.requests)
   out("duration_s", string.format("%.3f", secs))
   if summary.requests > 0 and secs > 0 then
      out("rate", string.format("%.2f", summary.requests / secs))
      out("p50_ms", string.format("%.2f", latency:percentile(50) / 1000))
      out("p99_ms", string.format("%.2f", latency:percentile(99) / 1000))
      out("max_ms", string.format("%.2f", latency.max / 1000))
      out("mean_ms", string.format("%.2f", latency.mean / 1000))
   end
end
