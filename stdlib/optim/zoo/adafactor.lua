-- Adafactor as its authors' tensor2tensor runs it (tensorflow/tensor2tensor @
-- 02999ee5052a3b4674765dcaf8e05624ee3a9571, tensor2tensor/utils/adafactor.py, AdafactorOptimizer with its
-- defaults: relative step min(1/sqrt(t), 0.01) times max(rms(p), 1e-3), decay 1 - t^-0.8, update
-- clipping at rms 1, beta1 = 0), the second moment factored into row and column means (rows/cols
-- state). A vector is one row, which is exactly the unfactored moment (the row factor is 1);
-- tensors of more than 2 dimensions are factored over their last dimension, where tensor2tensor
-- keeps a full moment. beta1 > 0 and factored = false are not declared (each needs a full-size
-- buffer that would cost every user Adafactor's memory saving). The 1e-30 terms are the authors'.
return {
  name = "Adafactor",
  doc = [[Adafactor (Shazeer, Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost", ICML 2018,
arXiv:1804.04235; authors' code tensor2tensor/utils/adafactor.py, https://github.com/tensorflow/tensor2tensor):
  G = g^2 + 1e-30;  b = 1 - t^(-decay_exponent)
  R = b R + (1-b) row_mean(G);  C = b C + (1-b) col_mean(G)   (per row and column of p as rows x last dim)
  u = g / sqrt(R/mean(R)) / sqrt(C);  u = u / max(1, rms(u)/clipping_threshold)
  p = p - a u,  a = min(1/sqrt(t), 0.01) (relative_step; else lr) times max(rms(p), 1e-3) (multiply_by_parameter_scale)]],
  hyper = {
    { "lr", 0.01, range = "[0, inf)", alias = { "learning_rate" } },
    { "relative_step", true },
    { "multiply_by_parameter_scale", true },
    { "decay_exponent", 0.8, range = "(0, 1]" },
    { "clipping_threshold", 1.0, range = "[1, inf)", alias = { "clip_threshold" } },
  },
  rows = { vr = 0 },
  cols = { vc = 0 },
  update = function(p, g, s, h, t)
    local fn = require("optim").fn
    local gsq = g * g + 1e-30
    local gsq_mean = fn.mean(gsq)
    local decay_rate = 1 - t ^ (-h.decay_exponent)
    local scale = h.lr
    if h.relative_step then
      scale = fn.min(1 / fn.sqrt(t), 0.01)
      if not h.multiply_by_parameter_scale then scale = scale * 0.05 end
    end
    if h.multiply_by_parameter_scale then scale = scale * fn.max(fn.sqrt(fn.mean(p * p)), 0.001) end
    decay_rate = decay_rate + gsq_mean * 1e-30
    scale = scale + gsq_mean * 1e-30
    local mixing_rate = 1 - decay_rate
    s.vr = decay_rate * s.vr + mixing_rate * fn.row_mean(gsq)
    s.vc = decay_rate * s.vc + mixing_rate * fn.col_mean(gsq)
    local r_factor = 1 / fn.sqrt(s.vr / fn.mean(s.vr))
    local x = (g * r_factor) * (1 / fn.sqrt(s.vc))
    x = x / fn.max(1, fn.sqrt(fn.mean(x * x)) / h.clipping_threshold)
    return p - scale * x
  end,
}
