-- wrk script for bench/intake_bench.py's closed loop: every signed webhook is sent exactly once.
--
-- Arguments (after wrk's "--"): DATA_DIR STORE_ID
--   DATA_DIR/thread-N.txt holds thread N's own slice, one webhook a line: "<hash> <form body>";
--   STORE_ID is sent as X-Order-Desk-Store-Id.
-- Each thread walks its slice once. A connection that finds the slice used up sends a cheap GET
-- for a path neither app serves (answered 404 with an HTML page): it must not idle connected,
-- because a sync gunicorn worker would wait for its request instead of serving the others. Those
-- fillers only happen in the last round trip of a thread and are not counted; a webhook is
-- always answered with JSON. Once every webhook of its slice is answered, the thread writes
-- DATA_DIR/done-N and stops; the bench then interrupts wrk, which runs done().
-- done() prints one JSON line prefixed "WRK_RESULT ": counts, seconds and latency percentiles.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local now_ts = ffi.new("bench_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, now_ts)
  return tonumber(now_ts.tv_sec) * 1000 + tonumber(now_ts.tv_nsec) / 1e6
end

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

-- Per-thread state (each wrk thread has its own Lua state); the counters are globals so that
-- done() can read them with thread:get().
sent, answered, ok, other, total, elapsed_ms = 0, 0, 0, 0, 0, 0
local items = {}
local filler
local first_sent
local data_dir
-- wrk calls request() once on thread 0's state right after init(), to check what it returns,
-- and never sends that request: that call must not use up a webhook of the slice.
local verifying

function init(args)
  data_dir = args[1]
  local headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Order-Desk-Store-Id"] = args[2],
  }
  for line in io.lines(data_dir .. "/thread-" .. id .. ".txt") do
    local hash, body = line:match("^(%S+) (.*)$")
    headers["X-Order-Desk-Hash"] = hash
    items[#items + 1] = wrk.format("POST", wrk.path, headers, body)
  end
  total = #items
  verifying = id == 0
  filler = wrk.format("GET", "/bench-slice-used-up")
end

function request()
  if verifying then
    verifying = false
    return items[1] or filler
  end
  if sent >= total then
    return filler
  end
  sent = sent + 1
  first_sent = first_sent or now_ms()
  return items[sent]
end

function response(status, headers, body)
  if body:sub(1, 1) ~= "{" then
    return -- a filler's 404 page
  end
  answered = answered + 1
  if status == 200 then
    ok = ok + 1
  else
    other = other + 1
  end
  if answered >= total then
    elapsed_ms = now_ms() - first_sent
    io.open(data_dir .. "/done-" .. id, "w"):close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local answered_all, ok_all, other_all, elapsed = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    answered_all = answered_all + thread:get("answered")
    ok_all = ok_all + thread:get("ok")
    other_all = other_all + thread:get("other")
    elapsed = math.max(elapsed, thread:get("elapsed_ms"))
  end
  io.write(string.format(
    'WRK_RESULT {"answered": %d, "ok": %d, "other": %d, "seconds": %.6f, '
      .. '"p50_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "socket_errors": %d}\n',
    answered_all, ok_all, other_all, elapsed / 1000,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write
  ))
end
