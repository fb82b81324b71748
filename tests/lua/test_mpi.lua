-- C.mpi (vm/lmpi.c): outside a job (a plain optlab) and under mpirun.
local lib = require "lib"
local report = require "report"
local C = require "optlab.core"
local check, raises = lib.check, lib.raises

local T = {}
local q = report.shell_quote
local EXE = os.getenv("OPTLAB") or require("experiment").optlab_exe()
local TMP = os.tmpname()
os.remove(TMP)
report.mkdir_p(TMP)

-- Runs a shell command; returns its exit status, stdout and stderr.
local function sh(cmd)
  local out, err = TMP .. "/stdout", TMP .. "/stderr"
  local ok, _, code = os.execute(cmd .. " > " .. q(out) .. " 2> " .. q(err))
  return ok and 0 or code, report.read_file(out) or "", report.read_file(err) or ""
end

local function script(name, text)
  local path = TMP .. "/" .. name
  report.write_file(path, text)
  return path
end

function T.outside_a_job_one_rank_and_no_peers()
  check(C.mpi.active() == false, "a plain optlab must not initialize MPI")
  check(C.mpi.rank() == 0 and C.mpi.size() == 1, "rank 0 of 1")
  check(#C.mpi.hostname() > 0, "hostname")
  C.mpi.barrier()
  local all = C.mpi.allgather("abc")
  check(#all == 1 and all[1] == "abc", "allgather on one process")
  -- at the caller's line, naming what is missing
  local line = debug.getinfo(1, "l").currentline + 1
  raises(function() C.mpi.send("x", 0, 1) end, "test_mpi.lua:" .. line .. ": mpi.send: optlab was not started by an MPI launcher")
  raises(function() C.mpi.recv() end, "mpi.recv: optlab was not started by an MPI launcher")
  raises(function() C.mpi.iprobe() end, "mpi.iprobe: optlab was not started")
end

-- Every call of the binding across 3 ranks: sizes from 0 bytes to 1 MB, tags,
-- any source, iprobe, allgather of strings of different sizes, argument checks.
local PING = [==[
local M = require("optlab.core").mpi
local r, n = M.rank(), M.size()
assert(M.active() and n == 3, "3 ranks")
local function payload(k) return string.rep(string.char(65 + k), k == 2 and 1000000 or k * 7) end
local all = M.allgather(payload(r))
for k = 0, n - 1 do assert(all[k + 1] == payload(k), "allgather: rank " .. k .. "'s string") end
assert(#M.allgather("")[1] == 0, "empty strings")
if r == 0 then
  local seen = {}
  for _ = 1, 2 * (n - 1) do
    local s, src, tag = M.recv(nil, nil)
    assert(s == payload(src) .. tag, "message from " .. src .. " tag " .. tag)
    seen[src .. ":" .. tag] = true
  end
  for k = 1, n - 1 do assert(seen[k .. ":5"] and seen[k .. ":6"], "both tags from " .. k) end
  for k = 1, n - 1 do M.send("go " .. k, k, 9) end
  -- a message waits until it is asked for, by source and tag
  local s, src, tag = M.recv(2, 11)
  assert(s == "" and src == 2 and tag == 11, "empty message")
else
  M.send(payload(r) .. 5, 0, 5)
  M.send(payload(r) .. 6, 0, 6)
  while not M.iprobe(0, 9) do end
  local src, tag, size = M.iprobe(0, 9)
  assert(src == 0 and tag == 9 and size == #("go " .. r), "iprobe")
  assert(M.recv(0, 9) == "go " .. r, "reply")
  if r == 2 then M.send("", 0, 11) end
end
local ok, err = pcall(M.send, "x", n, 1)
assert(not ok and err:find("destination rank", 1, true), "a rank out of range: " .. tostring(err))
ok, err = pcall(M.send, "x", 0, 40000)
assert(not ok and err:find("tag", 1, true), "a tag out of range: " .. tostring(err))
M.barrier()
print("rank " .. r .. " of " .. n .. " on " .. M.hostname() .. ": ok")
]==]

function T.under_mpirun_three_ranks_talk()
  local mpirun = lib.mpirun(3)
  local rc, out, err = sh("timeout 120 " .. mpirun .. q(EXE) .. " " .. q(script("ping.lua", PING)))
  check(rc == 0, "mpirun exit status " .. tostring(rc) .. ":\n" .. out .. err)
  for r = 0, 2 do check(out:find("rank " .. r .. " of 3 on [^\n]+: ok"), "rank " .. r .. ":\n" .. out .. err) end
end

-- A rank that raises, or exits with a failure, ends the whole job (MPI_Abort)
-- instead of leaving the others waiting for it.
local HANG = [==[
local M = require("optlab.core").mpi
if M.rank() == 1 then
  if arg[1] == "exit" then os.exit(3) else error("rank 1 gives up") end
end
M.recv()   -- nobody sends: only the abort ends this
]==]

function T.under_mpirun_a_failing_rank_ends_the_job()
  local mpirun = lib.mpirun(3)
  local path = script("hang.lua", HANG)
  local rc, out, err = sh("timeout 60 " .. mpirun .. q(EXE) .. " " .. q(path))
  check(rc ~= 0 and rc ~= 124, "exit status " .. tostring(rc) .. " (124: the job hung)")
  check(err:find("hang.lua:3: rank 1 gives up", 1, true), "the error, at its line:\n" .. out .. err)
  rc = sh("timeout 60 " .. mpirun .. q(EXE) .. " " .. q(path) .. " exit")
  check(rc == 3, "os.exit(3) on one rank: exit status " .. tostring(rc) .. " (124: the job hung)")
end

return T
