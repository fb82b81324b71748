-- The textbook's optimizers at a saddle point, the second of the two classic
-- optimizer animations: x^2 - y^2, every optimizer starting at (1, 0.001),
-- almost on the ridge that leads into the saddle at the origin. Each runs at
-- a learning rate that moves it at a visible pace (no tuning: on a function
-- unbounded below, "best" would only mean "largest that does not overflow").
--
-- Takes about 3 seconds of CPU (6 s wall on the shared 2-core development VM).
-- Writes runs/landscape-saddle/<time>/:
-- contour.png, contour.gif, loss.png (f per step) and the table, whose
-- "steps to f <= -1" column counts the steps to get off the saddle, and
-- "ran off" the step at which a path went 100 windows away (downhill).
-- Expect SGD to slide into the saddle and stay (the gradient's y part is 2y,
-- tiny near the ridge: escaping takes many doublings of y; f is still about 0
-- after 80 steps), momentum and Nesterov to overshoot the origin and get off
-- after about 45 steps, and the adaptive methods (AdaGrad, Adadelta, RMSProp,
-- Adam), which divide by the gradient's size, to turn off the ridge at once
-- (f <= -1 within 7 to 31 steps).
return experiment.landscape {
  name = "landscape-saddle",
  description = "The saddle x^2 - y^2 from (1, 0.001): the textbook's optimizers",
  fn = "saddle",
  start = { 1, 0.001 },
  steps = 80,
  optimizers = {
    { label = "SGD", optimizer = optim.SGD { lr = 0.02 } },
    { label = "momentum", optimizer = optim.SGD { lr = 0.02, momentum = 0.9 } },
    { label = "Nesterov", optimizer = optim.SGD { lr = 0.02, momentum = 0.9, nesterov = true } },
    { label = "Adagrad", optimizer = optim.Adagrad { lr = 0.2 } },
    { label = "Adadelta", optimizer = optim.Adadelta { lr = 10 } },
    { label = "RMSprop", optimizer = optim.RMSprop { lr = 0.02 } },
    { label = "Adam", optimizer = optim.Adam { lr = 0.05 } },
  },
}
