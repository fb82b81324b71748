-- AggMo as its authors' aggmo.py runs it (AtheMathmo/AggMo @ 5e8ae39a965d0320a12713687f1fa5135ce9e6de,
-- src/aggmo.py) with K = 3 velocities, the authors' default betas [0, 0.9, 0.99]: a declaration has a
-- fixed set of buffers, so K is fixed. The authors' lr has no default; 0.1 here.
return {
  name = "AggMo",
  doc = [[AggMo (Lucas, Sun, Zemel, Grosse, "Aggregated Momentum: Stability Through Passive Damping",
ICLR 2019, arXiv:1804.00325; authors' code https://github.com/AtheMathmo/AggMo), K = 3:
  g = g + wd p;  for k = 1..3:  v_k = beta_k v_k + g;  p = p - (lr/3) v_k]],
  hyper = {
    { "lr", 0.1, range = "[0, inf)", alias = { "learning_rate" } },
    { "beta1", 0.0, range = "[0, 1)" },
    { "beta2", 0.9, range = "[0, 1)" },
    { "beta3", 0.99, range = "[0, 1)" },
    { "weight_decay", 0, range = "[0, inf)" },
  },
  state = { v1 = 0, v2 = 0, v3 = 0 },
  update = function(p, g, s, h, t)
    g = g + h.weight_decay * p
    local k = h.lr / 3
    s.v1 = s.v1 * h.beta1 + g
    p = p - k * s.v1
    s.v2 = s.v2 * h.beta2 + g
    p = p - k * s.v2
    s.v3 = s.v3 * h.beta3 + g
    return p - k * s.v3
  end,
}
