-- The textbook's optimizers racing across Beale's function, the first of the
-- two classic optimizer animations: SGD, momentum, Nesterov momentum, AdaGrad,
-- Adadelta, RMSProp and Adam from the same start, (1, 1.5), each at its best
-- learning rate on this function (tune: fewest steps to f - f* <= 1e-4 within
-- 300 steps, else the lowest final value), then 300 steps each.
--
-- Takes about 8 seconds of CPU (the tuning runs are most of it; 16 to 27 s wall
-- on the 2-core development VM while other work loaded it).
-- Writes runs/landscape-beale/<time>/: contour.png (the paths), contour.gif
-- (the paths advancing), loss.png (f - f* per step, log scale), the table.
-- Expect Adam (tuned to lr 0.3), Nesterov and momentum (0.003) to reach
-- f - f* <= 1e-4 (in about 140, 175 and 180 steps), momentum and Nesterov
-- after a wide swing below the start, Adam after a loop; SGD, AdaGrad,
-- RMSProp and Adadelta to end short of it, on the flat floor of the valley
-- that leads to the minimum at (3, 0.5).
return experiment.landscape {
  name = "landscape-beale",
  description = "Beale's function from (1, 1.5): the textbook's optimizers, each at its tuned lr",
  fn = "beale",
  start = { 1, 1.5 },
  steps = 300,
  window = { { -0.5, 4 }, { -2, 2.5 } },
  tune = { lr = { 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1, 3, 10 } },
  optimizers = {
    { label = "SGD", optimizer = optim.SGD {} },
    { label = "momentum", optimizer = optim.SGD { momentum = 0.9 } },
    { label = "Nesterov", optimizer = optim.SGD { momentum = 0.9, nesterov = true } },
    { label = "Adagrad", optimizer = optim.Adagrad {} },
    { label = "Adadelta", optimizer = optim.Adadelta {} },
    { label = "RMSprop", optimizer = optim.RMSprop {} },
    { label = "Adam", optimizer = optim.Adam {} },
  },
}
