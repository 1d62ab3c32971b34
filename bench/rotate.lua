-- wrk script for bench/scaling.py: each request reads the next agent's secret with that agent's
-- credential. args[1] is a file of `header<TAB>value<TAB>path` lines (bench/fleet.py), one per
-- agent; threads start at different agents. The report hook of bench/report.lua is loaded from
-- BENCH_REPORT_LUA, so results come out in the same BENCH_JSON line.
local report = os.getenv("BENCH_REPORT_LUA")
if report then dofile(report) end

local threads = 0
function setup(thread)
  thread:set("offset", threads)
  threads = threads + 1
end

local requests = {}
local index = 0

function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    local name, value, path = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)$")
    if name then
      requests[#requests + 1] = wrk.format("GET", path, {[name] = value})
    end
  end
  file:close()
  assert(#requests > 0, "no request lines in " .. args[1])
  index = ((offset or 0) * 7919) % #requests
end

function request()
  index = index % #requests + 1
  return requests[index]
end
