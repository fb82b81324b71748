-- Data-parallel training of one run: train.fit(model, opt, ds, {distributed = true}).
--
-- Each batch is cut into shards by a layout that depends on the batch's size alone: S shards
-- (S = `shards`, 4 by default), shard j holding examples floor((j-1)B/S) .. floor(jB/S) - 1.
-- A fixed number of shards rather than a fixed shard size, because part of a shard's cost
-- grows with the parameters, not with its examples: its gradient is written, packed, sent and
-- added whole. Shards of a fixed size would multiply that cost with the batch; a fixed S
-- bounds it (bench/bench_dp.lua: 12 shards cost the Keras example CNN 3.2x the CPU time of an
-- undivided step at batch 64, 4 shards 1.6x). 4 shards share evenly among 1, 2 and 4 ranks
-- (3 ranks take 1, 1 and 2); S bounds the ranks: {shards = 12} serves up to 12.
--
-- Rank r of K computes a contiguous block of the non-empty shards (forward and backward of
-- each apart: its mean loss and gradient), then every rank gathers every shard's gradient
-- (C.train.shard_exchange: an allgather of the packed float32 bytes into buffers kept from
-- step to step) and adds them in shard order, weighted by the
-- shards' sizes, in double, rounded to float32 once at the end (C.train.shard_sum). So every
-- rank holds the same bits whatever K is, and applies the same update. Without a launcher one
-- rank computes every shard in the same order and adds each as it is done: the same
-- operations, the same bits, the test's reference.
--
-- Randomness follows the batch, not the rank: every shard of a batch starts from the global
-- generator's state at the batch's start, and dropout draws the rows of the whole batch's mask
-- (nn.functional.set_batch_slice), so the masks are those of the undivided batch. Batch
-- statistics (BatchNorm in training mode) are refused: a shard cannot give them.
local base = require "train.base"
local C, train, fail = base.C, base.train, base.fail

local distributed = {}

distributed.DEFAULT_SHARDS = 4

-- The ranks: MPI's when optlab was started by a launcher, else one rank computing every shard.
local function ranks()
  local mpi = C.mpi
  if mpi and mpi.active() then return mpi.rank(), mpi.size() end
  return 0, 1
end

-- fit's `distributed` option (a comparison's `data_parallel`, named by `name`): nil/false
-- (off), true, or {shards = S}. Returns the plan or nil.
function distributed.plan(v, where, name)
  if v == nil or v == false then return nil end
  name = name or "distributed"
  local shards = distributed.DEFAULT_SHARDS
  if type(v) == "table" then
    for k in pairs(v) do
      if k ~= "shards" then fail(string.format("%s: %s: unknown option '%s' (valid: shards)", where, name, tostring(k))) end
    end
    shards = v.shards or shards
  elseif v ~= true then
    fail(string.format("%s: %s must be true, false or {shards = n}, got %s", where, name, tostring(v)))
  end
  if not compat.is_integer(shards) or shards < 1 then
    fail(string.format("%s: %s.shards must be a positive integer, got %s", where, name, tostring(shards)))
  end
  local rank, size = ranks()
  if size > shards then
    fail(string.format("%s: %d ranks but %d shards a batch: give %s = {shards = n} with n >= %d " ..
                       "(the shards fix the result; the ranks only share them out)", where, size, shards, name, size))
  end
  return { shards = shards, rank = rank, size = size }
end

-- The non-empty shards of a batch of b examples: {first (0-based), n} in shard order.
function distributed.layout(b, shards)
  local out = {}
  for j = 1, shards do
    local lo, hi = math.floor((j - 1) * b / shards), math.floor(j * b / shards)
    if hi > lo then out[#out + 1] = { first = lo, n = hi - lo } end
  end
  return out
end

-- Rank r's block of m shards among k ranks: shards lo..hi (1-based).
function distributed.block(m, k, r)
  return math.floor(r * m / k) + 1, math.floor((r + 1) * m / k)
end

local batch_id = 0   -- the batches' numbers for set_batch_slice; never reused in a process

-- One shard: forward, its mean loss and metrics, backward (the shard's mean gradient in .grad).
local function shard_pass(ctx, x, y, sh, b, id)
  local F = base.functional()
  F.set_batch_slice { id = id, first = sh.first, batch = b }
  for _, p in ipairs(ctx.params) do p.grad = nil end
  local xs, ys = x:narrow(1, sh.first + 1, sh.n), y:narrow(1, sh.first + 1, sh.n)
  local out = ctx.forward(xs)
  local loss = ctx.loss_fn(out, ys)
  local scalars = { loss:item() }
  for i, m in ipairs(ctx.metrics) do scalars[i + 1] = ctx.metric_value(m, out, ys) end
  loss:backward()
  return scalars
end

-- The gradient of one batch, data-parallel: sets every parameter's .grad to the batch's mean
-- gradient and returns the batch's mean loss and a list of its mean metrics, the same numbers
-- on every rank. ctx: params, forward(x), loss_fn, metrics, metric_value(m, out, y); the
-- plan keeps the running sums (C.train.shard_sum) from step to step.
function distributed.gradient(plan, ctx, x, y)
  local T = C.train
  local b = x:size(1)
  local shards = distributed.layout(b, plan.shards)
  if #shards < plan.size then
    fail(string.format("train.fit: a batch of %d examples cannot give each of %d ranks a shard: use a batch size " ..
                       "of at least %d (or drop_last = true for a short last batch)", b, plan.size, plan.size))
  end
  plan.sum = plan.sum or T.shard_sum(ctx.params, 1 + #ctx.metrics)
  batch_id = batch_id + 1
  local rng = tensor.get_rng_state()
  local F = base.functional()
  if plan.size == 1 then
    -- one rank: every shard here, added as it is computed
    local ok, err = pcall(function()
      for _, sh in ipairs(shards) do
        tensor.set_rng_state(rng)
        T.shard_add(plan.sum, ctx.params, sh.n, shard_pass(ctx, x, y, sh, b, batch_id))
      end
    end)
    F.set_batch_slice(nil)
    if not ok then error(err, 0) end   -- the sums are this fit's: it ends here
  else
    -- a rank of a job: its block, packed for the others; then every shard in shard order
    local lo, hi = distributed.block(#shards, plan.size, plan.rank)
    local ok, err = pcall(function()
      for j = lo, hi do
        tensor.set_rng_state(rng)
        T.shard_pack(plan.sum, ctx.params, shard_pass(ctx, x, y, shards[j], b, batch_id))
      end
    end)
    F.set_batch_slice(nil)
    -- a one-byte header, "G" then the shards or "E" then the error: a rank that failed says so,
    -- and every rank raises rather than waits for it. The bytes stay in the ShardSum (C).
    local got = T.shard_exchange(plan.sum, not ok and ("E" .. tostring(err)) or nil)
    for r, s in ipairs(got) do
      local h = s:sub(1, 1)
      if h == "B" then
        -- that rank left the run (distributed.agree): this rank leaves it too, and meets it there
        error(string.format("rank %d of %d ended the run before this step", r - 1, plan.size), 0)
      elseif h ~= "G" then
        error(string.format("rank %d of %d: %s", r - 1, plan.size, s:sub(2)), 0)
      end
    end
    for r, s in ipairs(got) do
      local rlo, rhi = distributed.block(#shards, plan.size, r - 1)
      local counts = {}
      for j = rlo, rhi do counts[#counts + 1] = shards[j].n end
      T.shard_add_gathered(plan.sum, ctx.params, r, counts)
    end
  end
  local v = { T.shard_finish(plan.sum, ctx.params) }
  local mvals = {}
  for i = 2, #v do mvals[i - 1] = v[i] end
  return v[1], mvals
end

-- The ranks' word at a run boundary, when they train runs one after another together (a
-- comparison's data_parallel under mpirun): stop nil to go on, or why this rank stops. Returns
-- nil when every rank goes on, else "rank r: why" of the first rank that stops; every rank gets
-- the same answer, so all start the next run or none does. A rank may reach the boundary while
-- others are still in a step of the run it left (rank 0 alone writes the folder and runs its
-- callbacks' rank-0 branches: an error there ends its run early): the others then receive this
-- "B" word in their step's gather, raise (distributed.gradient), and come here; until every
-- word is a "B" the exchange is repeated.
function distributed.agree(stop)
  local mpi = C.mpi
  if not (mpi.active() and mpi.size() > 1) then return stop and ("rank 0: " .. stop) or nil end
  local word = "B" .. (stop and ("S" .. stop) or "C")
  while true do
    local got, all, why = mpi.allgather(word), true, nil
    for r, s in ipairs(got) do
      if s:sub(1, 1) ~= "B" then all = false
      elseif s:sub(2, 2) == "S" and not why then why = string.format("rank %d: %s", r - 1, s:sub(3)) end
    end
    if all then return why end
  end
end

train.distributed = distributed
return distributed
