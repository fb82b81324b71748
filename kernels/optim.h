/* Optimizer updates: one fused pass per tensor over (param, grad, state...),
 * for the built-ins whose declared form (optim.define) measured clearly slower
 * than a hand-written loop. SGD, Adagrad, RMSprop, Adam and AdamW are
 * declarations (stdlib/optim/builtin/), run by optprog.c.
 *
 * Each ol_<name>_update reads the gradient once, updates the state buffers and
 * the parameter in the same loop. The hyperparameters are the values of THIS
 * step (schedules are resolved by the caller); h->t is the step number, 1 at
 * the first update. Symbols of the textbook (Goodfellow et al., ch. 8) beside ours:
 *   lr = epsilon, rho = rho, beta1/beta2 = rho1/rho2, eps = delta,
 *   s = m (first moment).
 *
 * Before the update every gradient element goes through
 *   g = clamp(g * grad_scale, -clip_value, clip_value) + weight_decay * p
 * (grad_scale carries a clip_norm, global or per tensor; clip_value = INFINITY
 * disables it). With h->decoupled (Lion, every optimizer under Keras 3
 * and tf.keras 2.11+) there is no L2 term: p <- p - lr wd p comes first.
 *
 * Element-wise loops only: results do not depend on the thread count, and the
 * vector body and scalar tail round alike (built with -ffp-contract=off).
 * Return 0, or OL_OPTIM_EINVAL when a needed state buffer is NULL or n < 0.
 */
#ifndef OL_OPTIM_H
#define OL_OPTIM_H

#include <stdint.h>

#define OL_OPTIM_EINVAL (-1)

/* Update rules as frameworks write them (see README "Conventions"). */
typedef enum {
    OL_CONV_TEXTBOOK = 0, /* the textbook's formulas: lr inside the velocity   */
    OL_CONV_KERAS    = 1, /* tf.keras <= 2.10 (optimizers.legacy, raw ops)    */
    OL_CONV_KERAS3   = 2, /* Keras 3 and tf.keras 2.11+                       */
    OL_CONV_TORCH    = 3  /* PyTorch                                          */
} OLConvention;

typedef struct OLOptHyper {
    double lr, weight_decay;
    double beta1, beta2, eps, rho;
    double etaminus, etaplus, step_min, step_max; /* Rprop                    */
    double mu_t, mu_next, mu_prod;  /* Nadam momentum cache; mu_prod = prod of mu_1..mu_t */
    double l1, l2, l2_shrinkage, beta, lr_power;   /* Ftrl                */
    double lambd, alpha, t0;                       /* ASGD                */
    double grad_scale, clip_value;  /* 1 and INFINITY when not clipping       */
    int64_t t;                      /* step number, >= 1                      */
    int convention;                 /* OLConvention                           */
    int decoupled;
} OLOptHyper;

/* Defaults that change nothing: grad_scale 1, clip_value INFINITY, t 1. */
OLOptHyper ol_optim_hyper_default(void);

/* Adamax: u = max(beta2 u, |g|); p -= lr/(1-beta1^t) m / (u + eps)
 * (torch: u = max(beta2 u, |g| + eps); p -= lr/(1-beta1^t) m / u). */
int ol_adamax_update(int64_t n, float *restrict p, const float *restrict g,
                     float *restrict m, float *restrict u, const OLOptHyper *h);

/* Nadam (Dozat 2016 as Keras and PyTorch write it); h->mu_t, mu_next, mu_prod
 * (the caller's momentum schedule: 0.96^(0.004 t) for PyTorch and tf.keras
 * <= 2.10, 0.96^t for Keras 3 and tf.keras 2.11+). */
int ol_nadam_update(int64_t n, float *restrict p, const float *restrict g,
                    float *restrict m, float *restrict v, const OLOptHyper *h);

/* RAdam (Liu et al. 2020, as torch.optim.RAdam): Adam's moments; while the
 * variance's SMA length rho_t = rho_inf - 2 t beta2^t/(1-beta2^t) is <= 5,
 * p -= lr/(1-beta1^t) m; after, p -= lr r_t sqrt(1-beta2^t)/(1-beta1^t) m/(sqrt(v) + eps),
 * r_t the rectification. */
int ol_radam_update(int64_t n, float *restrict p, const float *restrict g,
                    float *restrict m, float *restrict v, const OLOptHyper *h);

/* Ftrl (McMahan et al. 2013, as TensorFlow's ApplyFtrlV2 and Keras 3 write it):
 * gs = g + 2 l2_shrinkage p; na = acc + g^2;
 * lin += gs - (na^-lr_power - acc^-lr_power)/lr p;  q = na^-lr_power/lr + 2 (l2 + beta/(2 lr));
 * p = |lin| > l1 ? (sign(lin) l1 - lin)/q : 0;  acc = na. Needs lr > 0. */
int ol_ftrl_update(int64_t n, float *restrict p, const float *restrict g,
                   float *restrict acc, float *restrict lin, const OLOptHyper *h);

/* ASGD (torch.optim.ASGD; Polyak and Juditsky 1992): eta_t = lr / (1 + lambd lr (t-1))^alpha,
 * mu_t = 1 / max(1, t - 1 - t0) (eta_1 = lr, mu_1 = 1); p <- p - lambd eta p - eta g;
 * ax <- ax + mu (p - ax) (mu = 1: ax = p). ax is the average, kept as state. */
int ol_asgd_update(int64_t n, float *restrict p, const float *restrict g,
                   float *restrict ax, const OLOptHyper *h);

/* Lion (Chen et al. 2023): p -= lr (sign(b1 m + (1-b1) g) + wd p); m = b2 m + (1-b2) g. */
int ol_lion_update(int64_t n, float *restrict p, const float *restrict g,
                   float *restrict m, const OLOptHyper *h);

/* Rprop (PyTorch's, iRprop-): prev = last gradient, step = per-element step
 * size (the caller fills it with lr before the first update). */
int ol_rprop_update(int64_t n, float *restrict p, const float *restrict g,
                    float *restrict prev, float *restrict step, const OLOptHyper *h);

/* Adadelta (Zeiler 2012): d = sqrt(acc + eps)/sqrt(sq + eps) g; p -= lr d. */
int ol_adadelta_update(int64_t n, float *restrict p, const float *restrict g,
                       float *restrict sq, float *restrict acc, const OLOptHyper *h);

/* g = clamp(g, -c, c) in place. */
void ol_clip_value(int64_t n, float *restrict g, float c);

/* The textbook's literal Nesterov (nesterov = "literal"; Algorithms 8.3, 8.6): save = p; p += alpha v
 * (the gradient is then taken there). Not the Lookahead optimizer (stdlib/optim/wrap.lua). */
void ol_nesterov_point(int64_t n, float *restrict p, const float *restrict v,
                       float *restrict save, float alpha);

/* Memory bandwidth probes for the benchmark: a = b, and a = b + s c. */
void ol_bench_copy(int64_t n, float *restrict a, const float *restrict b);
void ol_bench_triad(int64_t n, float *restrict a, const float *restrict b,
                    const float *restrict c, float s);

#endif
