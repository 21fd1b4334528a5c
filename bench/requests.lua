-- Replays pre-built requests (bench/common.py write_request_file) and checks every answer.
--   BENCH_REQUESTS: the request file; records end with \30, fields are split by \31
--     (method, path, headers, body), headers by \29 ("Name: value").
--   BENCH_EXPECT: text every response body must contain (else it counts as an error).
--   BENCH_THREADS: wrk's -t.
-- Each wrk thread takes every n-th request, so no two connections send the same one
-- (a repeated MessageSid is cheap to answer and would flatter the figure). A thread that
-- runs out starts over and counts it in `wrapped`, which the caller reports.

local threads = {}
local counter = 0

function setup(thread)
   thread:set("thread_index", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

function init(args)
   -- wrk calls setup and init thread by thread, so the count comes from the caller.
   local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")
   local handle = assert(io.open(os.getenv("BENCH_REQUESTS"), "rb"))
   local data = handle:read("*a")
   handle:close()
   expect = os.getenv("BENCH_EXPECT") or ""
   local records = {}
   for record in data:gmatch("([^\30]+)\30") do
      table.insert(records, record)
   end
   assert(#records > 0, "no requests in " .. os.getenv("BENCH_REQUESTS"))
   -- Fewer records than threads (a single GET /healthz): every thread replays them all.
   local share = #records >= thread_count
   prepared = {}
   for index, record in ipairs(records) do
      if not share or (index - 1) % thread_count == thread_index then
         local method, path, header_text, body = record:match("^([^\31]*)\31([^\31]*)\31([^\31]*)\31(.*)$")
         local headers = {}
         for line in header_text:gmatch("[^\29]+") do
            local name, value = line:match("^([^:]+): (.*)$")
            headers[name] = value
         end
         if body == "" then body = nil end
         table.insert(prepared, wrk.format(method, path, headers, body))
      end
   end
   position = 0
   wrapped = 0
   bad = 0
end

function request()
   position = position + 1
   if position > #prepared then
      position = 1
      wrapped = wrapped + 1
   end
   return prepared[position]
end

function response(status, headers, body)
   if status ~= 200 or not (body and body:find(expect, 1, true)) then
      bad = bad + 1
   end
end

function done(summary, latency, requests)
   local wrapped_total, bad_total = 0, 0
   for _, thread in ipairs(threads) do
      wrapped_total = wrapped_total + (thread:get("wrapped") or 0)
      bad_total = bad_total + (thread:get("bad") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "errors": %d, "wrapped": %d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      bad_total + e.connect + e.read + e.write + e.timeout, wrapped_total))
end
