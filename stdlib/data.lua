-- Data sets and loaders.
--
--   local train, test = data.mnist()            -- uint8 images, class ids
--   local loader = data.loader(train, {batch_size = 64, shuffle = true, seed = 1})
--   for x, y in loader:epoch(1) do ... end      -- x float [B,1,28,28] in [0,1], y float [B]
--
-- Examples stay compact in memory (uint8 images as read); every batch is
-- gathered and converted in C (vm/ldata.c). Class labels are 0-based class
-- ids as in Keras and PyTorch (not Lua's 1-based indices). The epoch order
-- depends only on (seed, epoch), so every optimizer of a comparison sees
-- the same batches in the same order.
local C = require "optlab.core"

local data = {}
local DS = C.dataset_methods

local function fail(msg) C.raise(msg) end

-- ---- datasets ---------------------------------------------------------

-- Per-example input shape, e.g. {1, 28, 28}.
function DS:shape() return self:info().shape end
-- Number of classes (nil for regression targets).
function DS:classes() return self:info().classes end

-- The first n examples (all of them when n >= #ds), sharing memory.
function DS:take(n)
  if not compat.is_integer(n) or n < 0 then fail("take: expected a non-negative integer, got " .. tostring(n)) end
  return self:range(0, math.min(n, #self))
end

-- Keras's validation_split: the LAST fraction of the examples (before any
-- shuffling) is the validation set. validation = fraction in (0, 1) or a count.
-- Returns train, validation.
function DS:split(opts)
  local v = type(opts) == "table" and opts.validation or opts
  local n = #self
  local nv
  if compat.is_integer(v) and v >= 1 then nv = v
  elseif type(v) == "number" and v > 0 and v < 1 then nv = math.floor(n * v + 0.5)
  else fail("split: validation must be a fraction in (0, 1) or a number of examples, got " .. tostring(v)) end
  if nv < 1 or nv >= n then
    fail(string.format("split: validation = %s leaves %d of %d examples for validation; need 1..%d", tostring(v), nv, n, n - 1))
  end
  return self:range(0, n - nv), self:range(n - nv, nv)
end

-- Examples by 0-based ids (a Lua array): x, y as a loader gives them.
function DS:batch(ids, opts)
  opts = opts or {}
  local norm = opts.normalize or {}
  return self:gather(ids, nil, nil, norm.mean or 0, norm.std or 1, opts.one_hot)
end

-- ---- the files a data set was read from -------------------------------
-- Every loader below that reads files records them on the data set it returns
-- (read_from); views (take, split, range) read the same files. ds:files() is
-- what a run's manifest lists, so a new reader cannot escape it unnoticed
-- (tests/lua/test_data.lua: every loader's data set carries its files).
local files_of = setmetatable({}, { __mode = "k" })

local function read_from(ds, paths)
  local list = {}
  for i, p in ipairs(paths) do list[i] = p end
  files_of[ds] = list
  return ds
end

-- The files this data set was read from, in the order read ({} for in-memory and synthetic sets).
function DS:files()
  local out = {}
  for i, p in ipairs(files_of[self] or {}) do out[i] = p end
  return out
end

local c_range = DS.range
-- Examples first..first+n-1 (0-based), sharing memory; a view reads its base's files.
function DS:range(first, n)
  local view = c_range(self, first, n)
  files_of[view] = files_of[self]
  return view
end

local function dataset_tostring(self)
  local info = self:info()
  return string.format("Dataset(%d examples, shape {%s}%s)", #self, table.concat(info.shape, ", "),
    info.classes and (", " .. info.classes .. " classes") or "")
end
debug.getregistry()["optlab.Dataset"].__tostring = dataset_tostring

-- ---- files ------------------------------------------------------------

local function exists(p)
  local f = io.open(p, "rb")
  if f then f:close() return true end
  return false
end

-- Repository root guessed from this file (stdlib/data.lua -> ..), so
-- data/mnist is found from any working directory of a build tree.
local function repo_root()
  local p = package.searchpath("data", package.path)
  return p and p:match("^(.*)/stdlib/[^/]*$")
end

local function find_file(dirs, base)
  for _, d in ipairs(dirs) do
    for _, name in ipairs { base, base .. ".gz" } do
      local p = d .. "/" .. name
      if exists(p) then return p end
    end
  end
end

-- Any IDX pair: data.idx{images = path, labels = path}. Images [N, H, W] get a
-- channel dimension, {1, H, W} per example (channel = false keeps {H, W}).
function data.idx(opts)
  if type(opts) ~= "table" or type(opts.images) ~= "string" or type(opts.labels) ~= "string" then
    fail("data.idx: expected {images = path, labels = path}")
  end
  return read_from(C.data.idx(opts.images, opts.labels, opts.channel ~= false), { opts.images, opts.labels })
end

local function idx_pair_set(name, dirs, hint, names)
  names = names or { "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" }
  local paths = {}
  for i, base in ipairs(names) do
    paths[i] = find_file(dirs, base)
    if not paths[i] then
      fail(string.format("data.%s: cannot find %s (or %s.gz) in %s; %s", name, base, base,
        table.concat(dirs, ", "), hint))
    end
  end
  return read_from(C.data.idx(paths[1], paths[2], true), { paths[1], paths[2] }),
         read_from(C.data.idx(paths[3], paths[4], true), { paths[3], paths[4] })
end

local function is_dir(p)
  local f = io.open(p, "rb")
  if not f then return false end
  -- reading a directory fails with "Is a directory" (EISDIR)
  local ok, err, code = f:read(1)
  f:close()
  return ok == nil and code == 21
end

-- Where a data set is looked for: the caller's directory (data.mnist(path) or
-- {dir = path}) alone; else $OPTLAB_DATA/sub alone (a mistyped OPTLAB_DATA is an
-- error naming it, never a silent fall-back to the bundled files); else the
-- defaults. Returns the list and a hint for the "cannot find" message.
local function data_dirs(name, opts, sub, defaults)
  if type(opts) == "string" then opts = { dir = opts } end
  if opts ~= nil and type(opts) ~= "table" then
    fail(string.format("data.%s: expected a directory (string) or {dir = path}, got %s", name, type(opts)))
  end
  opts = opts or {}
  if opts.dir ~= nil then
    if type(opts.dir) ~= "string" then fail(string.format("data.%s: dir must be a string, got %s", name, type(opts.dir))) end
    return { opts.dir }, nil
  end
  local e = os.getenv("OPTLAB_DATA")
  if e and e ~= "" then
    if not is_dir(e) then fail(string.format("data.%s: OPTLAB_DATA=%s is not a directory", name, e)) end
    return { e .. "/" .. sub }, "OPTLAB_DATA=" .. e .. " is set, so only " .. e .. "/" .. sub .. " is searched"
  end
  return defaults, nil
end

-- MNIST from data.mnist(dir), else $OPTLAB_DATA/mnist, else data/mnist: returns train, test.
-- `make data` puts 8,000/2,000 real digits there; the full 60,000/10,000
-- set can be dropped in instead (raw or .gz).
function data.mnist(opts)
  local defaults = { "data/mnist" }
  local root = repo_root()
  if root and root ~= "." then defaults[#defaults + 1] = root .. "/data/mnist" end
  local dirs, why = data_dirs("mnist", opts, "mnist", defaults)
  return idx_pair_set("mnist", dirs, why or
    "run `make data` (writes 8,000/2,000 real MNIST digits to data/mnist) or put the four IDX files there")
end

-- Fashion-MNIST (60,000/10,000): Debian's dataset-fashion-mnist.
function data.fashion_mnist(opts)
  local dirs, why = data_dirs("fashion_mnist", opts, "fashion-mnist",
    { "data/fashion-mnist", "/usr/share/datasets/fashion-mnist" })
  return idx_pair_set("fashion_mnist", dirs, why or
    "install the Debian package dataset-fashion-mnist (`make deps`) or put the four IDX files there")
end

data.fashion_mnist_classes = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" }

-- Tabular data: data.csv(path, {label = "column" or column number (default: the last),
-- task = "classification" | "regression" (default: classification when the labels
-- are strings or integers 0..255)}). String labels become class ids in sorted
-- order; ds.class_names lists them. The first line is a header if any field
-- is not a number.
function data.csv(path, opts)
  opts = opts or {}
  if type(path) ~= "string" then fail("data.csv: expected a file path") end
  local x, y, features, class_names, ids, label_name = C.data.csv(path, opts.label)
  local task = opts.task or ((class_names or ids) and "classification" or "regression")
  local ds
  if task == "classification" then
    if not (class_names or ids) then
      fail(string.format("data.csv: %s: column '%s' is not a class id (integers 0..255 or names); use task = \"regression\"", path, label_name))
    end
    ds = C.data.from_tensors(x, y, "classes", class_names and #class_names or nil)
  elseif task == "regression" then
    ds = C.data.from_tensors(x, y:reshape(#y, 1), "targets")
  else
    fail("data.csv: task must be \"classification\" or \"regression\", got " .. tostring(task))
  end
  return read_from(ds, { path }), { features = features, label = label_name, class_names = class_names }
end

-- In-memory tensors: data.tensors(x [N, ...], y [N] class ids) or
-- data.tensors(x, y, {targets = true}) for regression targets [N, ...]. files = {...}:
-- the files the tensors were made from (ds:files() of the set they came from), for the manifest.
function data.tensors(x, y, opts)
  opts = opts or {}
  local ds = C.data.from_tensors(x, y, opts.targets and "targets" or "classes", opts.classes)
  if opts.files then read_from(ds, opts.files) end
  return ds
end

-- ---- synthetic --------------------------------------------------------

local function seed_of(o) return o.seed or tensor.seed() end

-- Gaussian blobs: data.blobs{n = 1000, centers = 3, features = 2, std = 1, box = 10, seed = 1}.
function data.blobs(o)
  o = o or {}
  local x, y = C.data.synthetic("blobs", seed_of(o), o.n or 1000, o.features or 2, o.centers or 3, o.std or 1.0, o.box or 10.0)
  return C.data.from_tensors(x, y, "classes", o.centers or 3)
end

-- Two spirals: data.spirals{n = 1000, noise = 0.05, turns = 1.5, seed = 1}.
function data.spirals(o)
  o = o or {}
  local x, y = C.data.synthetic("spirals", seed_of(o), o.n or 1000, o.noise or 0.05, o.turns or 1.5)
  return C.data.from_tensors(x, y, "classes", 2)
end

-- Linear regression: data.linear_regression{n = 1000, features = 10, condition = 100,
-- noise = 0.1, rotate = true, seed = 1}: inputs with covariance of condition number
-- `condition` (eigenvalues log-spaced 1..condition, randomly rotated unless
-- rotate = false), targets [N, 1] = x w + noise. Returns ds, w (the true weights [features]).
function data.linear_regression(o)
  o = o or {}
  local x, y, w = C.data.synthetic("linreg", seed_of(o), o.n or 1000, o.features or 10, o.condition or 100,
    o.noise or 0.1, o.rotate ~= false)
  return C.data.from_tensors(x, y, "targets"), w
end

-- ---- loader -----------------------------------------------------------

local Loader = {}
Loader.__index = Loader

-- data.loader(ds, {batch_size = 64, shuffle = true, seed = 1, drop_last = false,
--                  normalize = {mean =, std =}, one_hot = false})
-- normalize applies to pixel values already scaled to [0, 1] (uint8 data) or to
-- the raw values (float data): x = (x - mean) / std. Default: none (uint8 -> [0,1]).
function data.loader(ds, opts)
  opts = opts or {}
  if type(ds) ~= "userdata" or not ds.gather then fail("data.loader: expected a dataset") end
  local bs = opts.batch_size or 64
  if not compat.is_integer(bs) or bs < 1 then fail("data.loader: batch_size must be a positive integer, got " .. tostring(bs)) end
  local norm = opts.normalize or {}
  if norm.std ~= nil and not (type(norm.std) == "number" and norm.std > 0) then
    fail("data.loader: normalize.std must be a positive number, got " .. tostring(norm.std))
  end
  local self = setmetatable({
    ds = ds, n = #ds, batch_size = bs, shuffle = opts.shuffle ~= false, seed = opts.seed or 1,
    drop_last = opts.drop_last == true, mean = norm.mean or 0, std = norm.std or 1,
    one_hot = opts.one_hot == true, order = C.data.indices(#ds), shuffled_for = nil,
  }, Loader)
  return self
end

-- Batches per epoch.
function Loader:steps()
  if self.drop_last then return compat.idiv(self.n, self.batch_size) end
  return compat.idiv(self.n + self.batch_size - 1, self.batch_size)
end

function Loader:__len() return self:steps() end

-- The order of epoch e (1-based, as train.fit counts): the permutation of (seed, e).
function Loader:set_epoch(e)
  if self.shuffle and self.shuffled_for ~= e then
    self.order:shuffle(self.seed, e)
    self.shuffled_for = e
  end
end

-- Batch `step` (1-based) of epoch e: x, y.
function Loader:batch(e, step)
  self:set_epoch(e)
  local pos = (step - 1) * self.batch_size
  local count = math.min(self.batch_size, self.n - pos)
  if step < 1 or step > self:steps() then
    fail(string.format("loader: step %d is outside 1..%d", step, self:steps()))
  end
  return self.ds:gather(self.order, pos, count, self.mean, self.std, self.one_hot)
end

-- for x, y in loader:epoch(e [, first_step]) do ... end
function Loader:epoch(e, first)
  e = e or 1
  local step, last = (first or 1) - 1, self:steps()
  return function()
    step = step + 1
    if step > last then return nil end
    return self:batch(e, step)
  end
end

function Loader:__tostring()
  return string.format("DataLoader(%d examples, batch_size=%d, %d steps, shuffle=%s, seed=%s)",
    self.n, self.batch_size, self:steps(), tostring(self.shuffle), tostring(self.seed))
end

-- ---- help ------------------------------------------------------------------
local help = require "help"
do
  help.register(data, "data  data sets (MNIST, Fashion-MNIST, IDX, CSV, tensors, synthetic) and their loaders")
  for _, d in ipairs {
    { data.mnist, "data.mnist([dir | {dir = path}]) -> train, test  MNIST from dir, else $OPTLAB_DATA/mnist, else data/mnist\n" ..
                  "(`make data` puts 8,000/2,000 real digits there; a wrong OPTLAB_DATA is an error)" },
    { data.fashion_mnist, "data.fashion_mnist([dir | {dir = path}]) -> train, test  Fashion-MNIST (60,000/10,000; Debian's dataset-fashion-mnist)" },
    { data.idx, "data.idx{images = path, labels = path, channel = true}  a data set from an IDX pair (raw or .gz)" },
    { data.csv, "data.csv(path [, {label = column, task = \"classification\" | \"regression\"}])  a data set from a CSV file" },
    { data.tensors, "data.tensors(x, y [, {targets = true}])  a data set from tensors: x [N, ...], y [N] class ids (or targets)" },
    { data.blobs, "data.blobs{n = 1000, centers = 3, features = 2, std = 1, box = 10, seed = 1}  Gaussian blobs" },
    { data.spirals, "data.spirals{n = 1000, noise = 0.05, turns = 1.5, seed = 1}  two interleaved spirals" },
    { data.linear_regression, "data.linear_regression{n = 1000, features = 10, condition = 100, noise = 0.1, rotate = true, seed = 1} -> ds, w\n" ..
                              "inputs with the given condition number, targets x w + noise" },
    { data.loader, "data.loader(ds, {batch_size = 64, shuffle = true, seed = 1, drop_last = false, normalize = {mean =, std =}, one_hot = false})\n" ..
                   "batches whose order depends only on (seed, epoch)" },
    { DS.files, "ds:files()  the files the data set was read from, in order (a run's manifest lists them with their SHA-256); {} for in-memory and synthetic sets" },
    { Loader.steps, "loader:steps()  batches per epoch" },
    { Loader.set_epoch, "loader:set_epoch(e)  fixes the order of epoch e (1-based)" },
    { Loader.batch, "loader:batch(e, step) -> x, y  batch `step` of epoch e (both 1-based)" },
    { Loader.epoch, "for x, y in loader:epoch(e [, first_step]) do ... end  the batches of epoch e" },
  } do help.register(d[1], d[2]) end
end

data.Loader = Loader
return data
