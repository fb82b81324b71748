-- A comparison's runs per minute over 1, 2 and 3 MPI ranks on this machine: the Keras
-- example's protocol cut short (3 optimizers x 2 seeds = 6 runs, 1 epoch on train_limit
-- images), each rank on one thread (OMP_NUM_THREADS=1), under mpirun. The wall time is
-- mpirun's, start-up of the ranks and rank 0's closing views (tables, plots) included;
-- the ratio to 1 rank is the figure to read. A machine with fewer idle cores than ranks
-- shows the ranks sharing them, not a cluster.
-- usage: optlab bench/bench_mpi.lua [train_limit] [max ranks]
local report = require "report"
local LIMIT = tonumber(arg and arg[1]) or 3000
local MAXR = tonumber(arg and arg[2]) or 3
local q = report.shell_quote
local exe = require("experiment").optlab_exe()
local root = exe:match("^(.*)/build/") or "."

local p = io.popen("command -v mpirun; id -u")
local mpirun, uid = p:read("l"), p:read("l")
p:close()
if not mpirun or not mpirun:match("^/") then print("bench_mpi: no mpirun (make deps installs openmpi-bin); skipped") return end

local tmp = os.tmpname()
os.remove(tmp)
report.mkdir_p(tmp)
local args = string.format("%s/experiments/mnist_optimizers.lua epochs=1 train_limit=%d val_limit=500 " ..
                           "optimizers=Adam,SGD,RMSprop seeds=1,2 runs_dir=%s", root, LIMIT, q(tmp))
print(string.format("bench_mpi: 6 runs (Adam, SGD, RMSprop x 2 seeds), 1 epoch of %d MNIST images each, 1 thread per rank", LIMIT))
local base
for n = 1, MAXR do
  local cmd = string.format("mpirun --oversubscribe%s -x OMP_NUM_THREADS=1 -n %d %s %s > %s/log 2>&1",
                            uid == "0" and " --allow-run-as-root" or "", n, q(exe), args, q(tmp))
  local t0 = sys.time()
  local ok = os.execute(cmd)
  local wall = sys.time() - t0
  if not ok then print("bench_mpi: mpirun failed; its output:\n" .. (report.read_file(tmp .. "/log") or "")) return end
  local rpm = 6 * 60 / wall
  base = base or rpm
  print(string.format("  %d rank%s: %6.1f s, %6.1f runs per minute, %.2fx 1 rank", n, n == 1 and " " or "s", wall, rpm, rpm / base))
end
os.execute("rm -rf " .. q(tmp))
