-- wrk script: POST /v2/pay/verify with the payment id and the secret key.
--
--   wrk -s bench/sandbox/verify.lua http://127.0.0.1:PORT -- PAYMENT_ID KEY [PATH]
--
-- or from the environment (the arguments win):
--   OKRA_BENCH_PAYMENT_ID  24 hex characters (default 5f88ebf63103d912f1d4baca)
--   OKRA_BENCH_KEY         secret key       (default sk_test_okra_sandbox)
--   OKRA_BENCH_PATH        request path     (default /v2/pay/verify)
--   OKRA_BENCH_CHECK=1     count non-2xx answers in Lua (exact, including 3xx;
--                          slows wrk down, so off for the measurement runs,
--                          where wrk's own count of status >= 400 is used)
--
-- done() prints one machine-readable line for run.sh:
--   WRK_RESULT requests=N duration_us=N rps=F p50_us=N p90_us=N p99_us=N
--              max_us=N non2xx=N connect_err=N read_err=N write_err=N timeout_err=N

local payment_id = os.getenv("OKRA_BENCH_PAYMENT_ID") or "5f88ebf63103d912f1d4baca"
local key        = os.getenv("OKRA_BENCH_KEY") or "sk_test_okra_sandbox"
local path       = os.getenv("OKRA_BENCH_PATH") or "/v2/pay/verify"
local check      = os.getenv("OKRA_BENCH_CHECK") == "1"

local threads = {}
local non2xx = 0

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   if args[1] and args[1] ~= "" then payment_id = args[1] end
   if args[2] and args[2] ~= "" then key = args[2] end
   if args[3] and args[3] ~= "" then path = args[3] end
   wrk.method = "POST"
   wrk.path = path
   wrk.body = string.format('{"payment_id":"%s"}', payment_id)
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Authorization"] = "Bearer " .. key
   -- No request() function on purpose: wrk then formats the request once,
   -- after init(), and sends the same bytes every time without calling Lua.
end

if check then
   function response(status, headers, body)
      if status < 200 or status > 299 then
         non2xx = non2xx + 1
      end
   end
end

function done(summary, latency, requests)
   local bad = summary.errors.status
   if check then
      bad = 0
      for _, t in ipairs(threads) do
         bad = bad + (t:get("non2xx") or 0)
      end
   end
   local secs = summary.duration / 1e6
   io.write(string.format(
      "WRK_RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d " ..
      "p99_us=%d max_us=%d non2xx=%d connect_err=%d read_err=%d write_err=%d " ..
      "timeout_err=%d\n",
      summary.requests, summary.duration, summary.requests / secs,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, bad, summary.errors.connect, summary.errors.read,
      summary.errors.write, summary.errors.timeout))
end
