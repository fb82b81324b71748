-- Code generation for declared optimizers: a trace (optim/trace.lua) becomes
-- the program description that kernels/optprog.c checks and runs: scalar
-- sections in slots, vector stages in registers, fused forms where a
-- single-use product, quotient or root feeds a sum, stores straight into
-- buffers where nothing reads their old contents after.
local C = require "optlab.core"
local trace = require "optim.trace"
local OPS = C.optim.program_ops
local info, is_node, key_of = trace.info, trace.is_node, trace.key_of

local function fail(msg) C.raise(msg) end
local function level(x) return is_node(x) and info[x].level or 0 end
local function kind(x) return is_node(x) and info[x].kind or 0 end

local function level(x) return is_node(x) and info[x].level or 0 end
local function kind(x) return is_node(x) and info[x].kind or 0 end

local function compile(T)
  -- slots: inputs, then constants, then computed scalars
  local slots, nslots = {}, 0
  local consts, inputs = {}, {}
  local function new_slot() nslots = nslots + 1; return nslots - 1 end
  for _, nm in ipairs(T.inputs) do inputs[#inputs + 1] = new_slot() end
  local const_slot = {}
  local function slot_of_const(v)
    local k = key_of(v)
    if not const_slot[k] then
      const_slot[k] = new_slot()
      consts[#consts + 1] = const_slot[k]; consts[#consts + 1] = v
    end
    return const_slot[k]
  end
  local input_slot = {}
  for i, nm in ipairs(T.inputs) do input_slot[nm] = inputs[i] end

  -- stage count
  local nstages = 1
  local reductions, mats, seen = {}, {}, {}
  local function walk(x)
    if not is_node(x) or seen[x] then return end
    seen[x] = true
    local ix = info[x]
    for _, a in ipairs(ix.args) do walk(a) end
    if ix.op == "SUM" or ix.op == "SUMSQ" or ix.op == "GSUM" or ix.op == "GSUMSQ" then
      reductions[#reductions + 1] = x
      nstages = math.max(nstages, level(ix.args[1]) + 1)
    elseif ix.op == "MAT" or ix.op == "RSUM" or ix.op == "CSUM" then
      -- x goes to a scratch buffer at its stage; f's result (the row or
      -- column sums) comes back in another
      local n = #T.bufs
      T.bufs[n + 1], T.bufs[n + 2] = "_in" .. n, "_out" .. n
      T.bufsize["_in" .. n] = "all"
      T.bufsize["_out" .. n] = ix.op == "RSUM" and "rows" or ix.op == "CSUM" and "cols" or "all"
      mats[#mats + 1] = { node = x, stage = level(ix.args[1]), inbuf = n, outbuf = n + 1, fn = ix.args[2], op = ix.op }
      mats[x] = mats[#mats]
      nstages = math.max(nstages, level(ix.args[1]) + 1)
    end
  end
  for _, st in ipairs(T.rcstores) do
    walk(st.value)
    nstages = math.max(nstages, level(st.value) + 1)
    -- written to a scratch row (column) during the last stage, copied after it:
    -- other elements of the row still read the old value in that stage
    st.tmpbuf = #T.bufs
    T.bufs[#T.bufs + 1] = "_new_" .. st.name
    T.bufsize["_new_" .. st.name] = st.op == "ROWSTORE" and "rows" or "cols"
  end
  for _, st in ipairs(T.stores) do walk(st.value); nstages = math.max(nstages, level(st.value) + 1) end
  for _, st in ipairs(T.sstores) do walk(st.value); nstages = math.max(nstages, level(st.value)) end
  for _, st in ipairs(T.gstores) do walk(st.value); nstages = math.max(nstages, level(st.value)) end
  -- how many nodes use each node: a single-use product folds into its sum (LIN2, MULADD...)
  local uses = {}
  for x in pairs(seen) do
    for _, a in ipairs(info[x].args) do if is_node(a) then uses[a] = (uses[a] or 0) + 1 end end
  end
  local function single(x, op) return is_node(x) and info[x].kind == 2 and info[x].op == op and uses[x] == 1 end

  -- scalar sections: every kind <= 1 node, in the section of its level
  local sections = {}
  for k = 0, nstages do sections[k] = {} end
  local scalar_slot, numel_slot, globals = {}, -1, {}
  local size_slot = {}
  local function emit_scalar(x)
    if type(x) == "number" then return slot_of_const(x) end
    if scalar_slot[x] then return scalar_slot[x] end
    local ix = info[x]
    local s
    if ix.op == "IN" then s = input_slot[ix.args[1]]
    elseif ix.op == "NUMEL" then
      if numel_slot < 0 then numel_slot = new_slot() end
      s = numel_slot
    elseif ix.op == "NROWS" or ix.op == "NCOLS" then
      size_slot[ix.op] = size_slot[ix.op] or new_slot()
      s = size_slot[ix.op]
    elseif ix.op == "SUM" or ix.op == "SUMSQ" then s = new_slot()     -- written by the vector stage
    elseif ix.op == "GSUM" or ix.op == "GSUMSQ" then
      -- each tensor's stage writes its part; the caller sums the parts in
      -- the parameters' order and puts the total in every tensor's slots
      s = new_slot()
      globals[#globals + 1] = { partial = new_slot(), total = s, stage = level(ix.args[1]) }
      globals[x] = globals[#globals]
    else
      local a = {}
      for i, arg in ipairs(ix.args) do a[i] = emit_scalar(arg) end
      s = new_slot()
      local code = sections[ix.level]
      if ix.op == "SLOAD" then
        code[#code + 1] = { OPS.LOAD, s, ix.args[1], 0, 0, 0, -1 }
      else
        code[#code + 1] = { OPS[ix.op], s, a[1], a[2] or 0, a[3] or 0, 0, -1 }
      end
    end
    scalar_slot[x] = s
    return s
  end
  for _, st in ipairs(T.sstores) do emit_scalar(st.value) end
  -- a global's new value: a slot the caller reads after the last section
  local gstores = {}
  for _, st in ipairs(T.gstores) do gstores[#gstores + 1] = { name = st.name, slot = emit_scalar(st.value) } end

  -- vector stages
  local vstages, maxreg = {}, 0
  for k = 0, nstages - 1 do
    local code, vreg, memo = {}, 0, {}
    local operand
    -- the instruction computing x: its op and operand nodes, fused where a
    -- single-use product, quotient or root feeds a sum or difference
    local function form(ix)
      local A, B = ix.args[1], ix.args[2]
      local function args(n) return info[n].args end
      if ix.op == "ADD" then
        if single(A, "MUL") and single(B, "MUL") then
          -- c*(e*e) (a square of one value) folds in too: b2 v + (1 - b2) (g g)
          local c, sq = args(B)[1], args(B)[2]
          if not (single(sq, "MUL") and rawequal(args(sq)[1], args(sq)[2])) then c, sq = sq, c end
          if single(sq, "MUL") and rawequal(args(sq)[1], args(sq)[2]) then
            return "LIN2SQ", { args(A)[1], args(A)[2], c, args(sq)[1] }
          end
          return "LIN2", { args(A)[1], args(A)[2], args(B)[1], args(B)[2] }
        end
        for _, pair in ipairs { { A, B }, { B, A } } do
          local M, other = pair[1], pair[2]
          if single(M, "MUL") then
            local x, y = args(M)[1], args(M)[2]
            if single(x, "SQRT") then return "SQRTMULADD", { args(x)[1], y, other } end
            return "MULADD", { x, y, other }
          end
        end
        if single(A, "SQRT") then return "SQRTADD", { args(A)[1], B } end
        if single(B, "SQRT") then return "SQRTADD", { args(B)[1], A } end
      elseif ix.op == "SUB" then
        if single(B, "DIV") and single(args(B)[1], "MUL") then
          local m = args(args(B)[1])
          return "SUBMULDIV", { m[1], m[2], A, args(B)[2] }
        end
        if single(A, "MUL") and single(B, "MUL") then return "LINSUB", { args(A)[1], args(A)[2], args(B)[1], args(B)[2] } end
        if single(B, "MUL") then return "MULSUB", { args(B)[1], args(B)[2], A } end
      end
      return ix.op, ix.args
    end
    operand = function(x)
      if kind(x) < 2 then return -1 - emit_scalar(x) end
      if memo[x] then return memo[x] end
      local ix = info[x]
      local LOADS = { LOAD = "LOAD", MAT = "LOAD", RLOAD = "ROWLOAD", CLOAD = "COLLOAD", RSUM = "ROWLOAD", CSUM = "COLLOAD" }
      if LOADS[ix.op] then
        vreg = vreg + 1
        local buf = mats[x] and mats[x].outbuf or ix.args[1]
        code[#code + 1] = { OPS[LOADS[ix.op]], vreg, buf, 0, 0, 0, -1, nops = 0, load = true }
      else
        local op, args = form(ix)
        local a = {}
        for i, arg in ipairs(args) do a[i] = operand(arg) end
        vreg = vreg + 1
        code[#code + 1] = { OPS[op], vreg, a[1], a[2] or 0, a[3] or 0, a[4] or 0, -1, nops = #args }
      end
      memo[x] = vreg
      return vreg
    end
    for _, r in ipairs(reductions) do
      if level(info[r].args[1]) == k then
        local src = operand(info[r].args[1])
        local op, slot = info[r].op, emit_scalar(r)
        if op == "GSUM" or op == "GSUMSQ" then op, slot = op:sub(2), globals[r].partial end
        code[#code + 1] = { OPS[op], slot, src, 0, 0, 0, -1, reduce = true, nops = 1 }
      end
    end
    for _, m in ipairs(mats) do
      if m.stage == k then
        local src = operand(info[m.node].args[1])     -- first: it appends the instructions computing it
        code[#code + 1] = { OPS.STORE, m.inbuf, src, 0, 0, 0, -1, store = true, nops = 1 }
      end
    end
    if k == nstages - 1 then
      local stored = {}
      for _, st in ipairs(T.stores) do stored[st.buf] = true end
      local srcs = {}
      for i, st in ipairs(T.stores) do
        local src = operand(st.value)
        -- a store's source that points into another stored buffer would read it after its store
        if is_node(st.value) and info[st.value].op == "LOAD" and info[st.value].args[1] ~= st.buf and stored[info[st.value].args[1]] then
          vreg = vreg + 1
          code[#code + 1] = { OPS.COPY, vreg, src, 0, 0, 0, -1, nops = 1 }
          src = vreg
        end
        srcs[i] = src
      end
      for i, st in ipairs(T.stores) do code[#code + 1] = { OPS.STORE, st.buf, srcs[i], 0, 0, 0, -1, store = true, nops = 1 } end
      for _, st in ipairs(T.rcstores) do
        local src = operand(st.value)
        code[#code + 1] = { OPS[st.op], st.tmpbuf, src, 0, 0, 0, -1, rcstore = true, nops = 1 }
      end
      -- A value computed only to be stored goes straight into its buffer,
      -- unless something after its instruction still reads that buffer's
      -- old contents (through the register its LOAD set).
      local def_at, alias_of, last_read = {}, {}, {}
      for i, c in ipairs(code) do
        if c.load then alias_of[c[2]] = c[3] end
        if not c.store and not c.reduce and not c.rcstore then def_at[c[2]] = i end
        for j = 1, c.nops do
          local b = c[2 + j] > 0 and alias_of[c[2 + j]]
          if b then last_read[b] = i end
        end
      end
      local kept = {}
      for _, c in ipairs(code) do
        local I = c.store and c[3] > 0 and def_at[c[3]]
        local src = I and code[I]
        if src and not src.load and src[7] == -1 and (last_read[c[2]] or 0) <= I then
          src[7] = c[2]
        else
          kept[#kept + 1] = c
        end
      end
      code = kept
    end
    -- registers: a virtual register lives from its definition to its last use
    local last = {}
    for i, c in ipairs(code) do
      for j = 1, c.nops do if c[2 + j] > 0 then last[c[2 + j]] = i end end
    end
    local phys, free, used = {}, {}, 0
    for i, c in ipairs(code) do
      local virt = {}
      for j = 1, c.nops do
        virt[j] = c[2 + j]
        if virt[j] > 0 then c[2 + j] = phys[virt[j]] end
      end
      local def
      if not c.store and not c.reduce and not c.rcstore then    -- allocated before the operands are freed: never one of them
        local r = table.remove(free)
        if not r then r = used; used = used + 1 end
        def = c[2]
        phys[def], c[2] = r, r
      end
      for j = 1, c.nops do
        local v = virt[j]
        if v > 0 and last[v] == i then free[#free + 1] = phys[v]; last[v] = nil end
      end
      if def and not last[def] then free[#free + 1] = phys[def] end
    end
    maxreg = math.max(maxreg, used)
    vstages[k] = code
  end
  -- vector operands referencing scalars were emitted during stage emission: sections are final now
  local scode, sstart = {}, {}
  for k = 0, nstages do
    sstart[#sstart + 1] = #scode / 7
    for _, c in ipairs(sections[k]) do for j = 1, 7 do scode[#scode + 1] = c[j] end end
  end
  -- per-tensor scalar state: stored at the end
  for _, st in ipairs(T.sstores) do
    for _, v in ipairs { OPS.STORE, st.buf, emit_scalar(st.value), 0, 0, 0, -1 } do scode[#scode + 1] = v end
  end
  sstart[#sstart + 1] = #scode / 7
  local vcode, vstart = {}, {}
  for k = 0, nstages - 1 do
    vstart[#vstart + 1] = #vcode / 7
    for _, c in ipairs(vstages[k]) do
      for j = 1, 7 do
        vcode[#vcode + 1] = c[j]
      end
    end
  end
  vstart[#vstart + 1] = #vcode / 7
  if maxreg > 48 then fail(T.name .. ": the update needs " .. maxreg .. " element registers at once; at most 48") end
  return {
    nslots = nslots, nregs = maxreg, nbufs = #T.bufs, nstages = nstages, numel_slot = numel_slot,
    vcode = vcode, scode = scode, vstart = vstart, sstart = sstart, consts = consts, inputs = inputs,
    nrows_slot = size_slot.NROWS or -1, ncols_slot = size_slot.NCOLS or -1,
    globals = globals, mats = mats, rcstores = T.rcstores, gstores = gstores, bufsize = T.bufsize,
    staged = #globals > 0 or #mats > 0 or #T.rcstores > 0 or #gstores > 0,
  }, T.inputs
end


return compile
