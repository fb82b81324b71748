-- "did you mean": the closest of a list of names to a mistyped one
-- (optimizer, hyperparameter, convention, loss and metric names).
local suggest = {}

local function edit_distance(a, b)
  local d = {}
  for i = 0, #a do d[i] = { [0] = i } end
  for j = 0, #b do d[0][j] = j end
  for i = 1, #a do
    for j = 1, #b do
      local c = a:sub(i, i) == b:sub(j, j) and 0 or 1
      d[i][j] = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + c)
    end
  end
  return d[#a][#b]
end
suggest.edit_distance = edit_distance

-- The candidate nearest to word (case-insensitive), if it is within 3 edits
-- or word is a prefix of it; ties go to the first in sorted order.
function suggest.closest(word, candidates)
  local list = {}
  for _, c in ipairs(candidates) do list[#list + 1] = c end
  table.sort(list)
  local best, bd = nil, 4
  local w = word:lower()
  for _, c in ipairs(list) do
    local d = edit_distance(w, c:lower())
    if d < bd then best, bd = c, d end
  end
  return best
end

-- " (did you mean 'x'?)" or "".
function suggest.phrase(word, candidates)
  local s = type(word) == "string" and suggest.closest(word, candidates)
  return s and (" (did you mean '" .. s .. "'?)") or ""
end

return suggest
