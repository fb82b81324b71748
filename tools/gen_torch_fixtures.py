#!/usr/bin/python3
"""Reference fixtures from the real PyTorch, replayed by `make test` with no Python.

    /usr/bin/python3 tools/gen_torch_fixtures.py      (or `make fixtures`)

Writes, under tests/lua/fixtures/:
  diff_random.txt     seeded random programs: 2-5 ops over random shapes with broadcasting
  diff_targeted.txt   hand-picked cases: every documented op and layer, in-place ops, errors
  torch_optim.txt     torch.optim's own parameter trajectories, float32 and float64
All three are data in optlab's serial text format (stdlib/serial.lua parses it; it is never
run as code).

A program is a list of steps over named values; each step is {out, op, args}. Both this file
and tests/lua/test_differential.lua hold a small interpreter of the same op names, so the
op vocabulary below IS the contract between them. Args are written in optlab's conventions
(dims and indices 1-based, negative from the end) and translated here for torch.

For each program the fixture holds the inputs, every step's forward value, the gradient of
every input that requires grad after out:backward(w) for a stored random w, the final value
of inputs changed in place, and for random programs each step's local vector-Jacobian
product (so a failing replay can say which op is wrong). When PyTorch raises, the fixture
holds where (step or backward) and the words optlab's error must contain instead.

A program is kept only when it is well conditioned for float32: float32 torch agrees with
float64 torch to a quarter of the replay's tolerance, and a 1e-4 relative perturbation of the
inputs moves no value or gradient by more than 1e-2 (which rejects kinks of relu/abs/clamp,
ties in max, jumps of floor/round/remainder and poles near 0).

Layers map one to one, since optlab keeps PyTorch's layouts: Dense/linear weights are
[out, in] (no transpose), conv weights [out, in, kh, kw], images NCHW, BatchNorm's momentum
weights the new batch statistic. Where optlab follows Keras instead, the torch side is built
to match: Conv2D's padding "same" is Keras's rule at any stride (extra row/column at the
bottom/right), done here with F.pad; optlab's binary_cross_entropy takes logits (torch's
binary_cross_entropy_with_logits). Not compared, on purpose: cross_entropy of a softmax
output (optlab uses the logits behind it, as Keras; torch would take probabilities as
logits), Dropout in training (different random streams), and scalar % tensor through
Python's operator (torch 1.13 has no derivative for it; torch.remainder on a 0-dim tensor
is used instead).
"""
import math
import os
import random
import struct
import sys
import zlib

import torch
import torch.nn.functional as TF

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "lua", "fixtures")
RTOL, ATOL = 1e-4, 1e-5          # the replay's tolerance (tests/lua/test_differential.lua)
N_RANDOM = 2000

torch.set_num_threads(1)

# ---------------------------------------------------------------- serial text


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def num_text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return "%d" % v
    if v != v:
        return "(0/0)"
    if v in (math.inf, -math.inf):
        return "(1/0)" if v > 0 else "(-1/0)"
    for d in (5, 6, 7, 8, 9):          # the shortest text that reads back as the same float32
        s = "%.*g" % (d, v)
        if f32(float(s)) == f32(v):
            break
    if "." not in s and "e" not in s and "n" not in s:
        s += ".0"
    return s


def ser(v):
    if v is None:
        return "nil"
    if isinstance(v, (bool, int, float)):
        return num_text(v)
    if isinstance(v, str):
        out = []
        for c in v:
            if c in '"\\':
                out.append("\\" + c)
            elif c == "\n":
                out.append("\\n")
            elif ord(c) < 32 or ord(c) > 126:
                out.append("\\x%02x" % (ord(c) & 255))
            else:
                out.append(c)
        return '"' + "".join(out) + '"'
    if isinstance(v, (list, tuple)):
        return "{" + ",".join(ser(x) for x in v) + "}"
    if isinstance(v, dict):
        return "{" + ",".join("[%s]=%s" % (ser(k), ser(x)) for k, x in v.items() if x is not None) + "}"
    raise TypeError(type(v))


def tdata(t, digits=6):
    """an expected value: 6 significant digits are plenty for a 1e-4 relative tolerance
    (5 for the local gradients, which only point at the op to blame)"""
    t = t.detach()
    return {"shape": list(t.shape), "data": [float("%.*g" % (digits, x)) for x in t.reshape(-1).tolist()]}


# ---------------------------------------------------------------- the ops, in optlab's terms

DT = [torch.float32]            # dtype of the run in progress (numbers become tensors of it)


def D(d):
    """optlab dim (1-based, negative from the end) -> torch dim"""
    return d - 1 if d > 0 else d


def T(x):
    return x if torch.is_tensor(x) else torch.tensor(float(x), dtype=DT[0])


def red(fn):
    def op(a, dim=None, keep=False):
        return fn(a) if dim is None else fn(a, D(dim), keep)
    return op


def act(y, a):
    if a is None or a == "linear":
        return y
    return {"relu": TF.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "gelu": TF.gelu,
            "elu": TF.elu, "leaky_relu": TF.leaky_relu}[a](y)


def conv(x, w, b, o):
    o = o or {}
    s, d, pad = o.get("stride", 1), o.get("dilation", 1), o.get("padding", 0)
    s2 = s if isinstance(s, list) else [s, s]
    d2 = d if isinstance(d, list) else [d, d]
    if pad == "valid":
        pad = 0
    if pad == "same":                   # Keras's rule: out = ceil(in/stride), extra at bottom/right
        p = []
        for i in (2, 3):
            n, k = x.shape[i], w.shape[i]
            tot = max((-(-n // s2[i - 2]) - 1) * s2[i - 2] + (k - 1) * d2[i - 2] + 1 - n, 0)
            p.append((tot // 2, tot - tot // 2))
        x = TF.pad(x, (p[1][0], p[1][1], p[0][0], p[0][1]))
        pad = 0
    y = TF.conv2d(x, w, b, stride=s2, padding=pad, dilation=d2)
    return act(y, o.get("activation"))


def inplace_leaf_guard(t):
    return t


def xent(logits, labels):
    return TF.cross_entropy(logits, labels.long() if labels.dim() == 1 else labels)


TOPS = {
    # arithmetic: Python's operators, so 2 - x is x.__rsub__ exactly as a user writes it
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "pow": lambda a, b: a ** b,
    # torch has no derivative for scalar % tensor; torch.remainder on a 0-dim tensor does
    "remainder": lambda a, b: torch.remainder(T(a), b) if not torch.is_tensor(a) else a % b,
    "maximum": lambda a, b: torch.maximum(T(a), T(b)), "minimum": lambda a, b: torch.minimum(T(a), T(b)),
    "unm": lambda a: -a, "neg": torch.neg, "abs": torch.abs, "exp": torch.exp, "log": torch.log,
    "sqrt": torch.sqrt, "square": torch.square, "reciprocal": torch.reciprocal, "tanh": torch.tanh,
    "sigmoid": torch.sigmoid, "relu": torch.relu, "sign": torch.sign, "sin": torch.sin, "cos": torch.cos,
    "floor": torch.floor, "round": torch.round, "clone": torch.clone, "contiguous": lambda a: a.contiguous(),
    "clamp": lambda a, lo=None, hi=None: torch.clamp(a, lo, hi),
    "F.relu": TF.relu, "F.leaky_relu": lambda a, s=0.01: TF.leaky_relu(a, s), "F.elu": lambda a, al=1.0: TF.elu(a, al),
    "F.gelu": lambda a, ap=None: TF.gelu(a, approximate=ap or "none"), "F.sigmoid": torch.sigmoid, "F.tanh": torch.tanh,
    "F.softmax": lambda a, d=-1: TF.softmax(a, D(d)), "F.log_softmax": lambda a, d=-1: TF.log_softmax(a, D(d)),
    "sum": red(lambda a, *r: a.sum(*r)), "mean": red(lambda a, *r: a.mean(*r)),
    "max": red(lambda a, *r: a.max(*r).values if r else a.max()),
    "min": red(lambda a, *r: a.min(*r).values if r else a.min()),
    "prod": red(lambda a, *r: a.prod(*r)),
    "sumsq": red(lambda a, *r: (a * a).sum(*r)),
    "logsumexp": lambda a, dim, keep=False: torch.logsumexp(a, D(dim), keep),
    "var": lambda a, dim=None, keep=False, c=1: torch.var(a, dim=None if dim is None else D(dim), correction=c, keepdim=keep),
    "std": lambda a, dim=None, keep=False, c=1: torch.std(a, dim=None if dim is None else D(dim), correction=c, keepdim=keep),
    "norm": lambda a, p=2, dim=None, keep=False: torch.linalg.vector_norm(a, ord=p, dim=None if dim is None else D(dim), keepdim=keep),
    "cumsum": lambda a, dim: torch.cumsum(a, D(dim)),
    "argmax": lambda a, dim=None: ((a.argmax() if dim is None else a.argmax(D(dim))) + 1).to(DT[0]),
    "argmin": lambda a, dim=None: ((a.argmin() if dim is None else a.argmin(D(dim))) + 1).to(DT[0]),
    "matmul": torch.matmul, "dot": torch.dot,
    "transpose": lambda a, d1, d2: a.transpose(D(d1), D(d2)), "t": lambda a: a.t(),
    "reshape": lambda a, s: a.reshape(s), "view": lambda a, s: a.view(s),
    "narrow": lambda a, d, s, n: a.narrow(D(d), s - 1, n), "select": lambda a, d, i: a.select(D(d), D(i)),
    "index": lambda a, i: a[i - 1], "expand": lambda a, s: a.expand(s),
    "permute": lambda a, p: a.permute([D(d) for d in p]),
    "squeeze": lambda a, d=None: a.squeeze() if d is None else a.squeeze(D(d)),
    "unsqueeze": lambda a, d: a.unsqueeze(D(d) if d > 0 else d),
    "detach": lambda a: a.detach(),
    "where": lambda c, a, b: torch.where(c != 0, T(a), T(b)),
    "cat": lambda ts, d=1: torch.cat(ts, D(d)), "stack": lambda ts, d=1: torch.stack(ts, D(d) if d > 0 else d),
    "gather": lambda a, d, idx: torch.gather(a, D(d), (idx - 1).long()),
    # losses and layers (optlab's binary_cross_entropy takes logits)
    "F.cross_entropy": xent, "F.mse": TF.mse_loss, "F.binary_cross_entropy": TF.binary_cross_entropy_with_logits,
    "F.linear": lambda x, w, b=None, a=None: act(TF.linear(x, w, b), a),
    "F.conv2d": conv,
    "F.max_pool2d": lambda x, k, s=None, p=0: TF.max_pool2d(x, k, s, p),
    "F.avg_pool2d": lambda x, k, s=None, p=0: TF.avg_pool2d(x, k, s, p),
    "F.conv2d_max_pool2d": lambda x, w, b, o, k: TF.max_pool2d(conv(x, w, b, o), k),
    "F.batch_norm": lambda x, rm, rv, w, b, tr, m=0.1, e=1e-5: TF.batch_norm(x, rm, rv, w, b, tr, m, e),
    "F.dropout": lambda x, p, training: TF.dropout(x, p, training=training),
    # layers as a user builds them: the replay puts the weights into the built layers
    "nn.Dense": lambda x, w, b, a=None: act(TF.linear(x, w, b), a),
    "nn.Conv2D+MaxPool2D": lambda x, w, b, a, k: TF.max_pool2d(conv(x, w, b, {"activation": a}), k),
    "nn.BatchNorm": lambda x, w, b, rm, rv, tr: TF.batch_norm(x, rm, rv, w, b, tr, 0.1, 1e-5),
    "nn.Dropout(eval)": lambda x, p: TF.dropout(x, p, training=False),
    # in-place, PyTorch's names and arguments
    "add_": lambda t, u, al=None: t.add_(u) if al is None else t.add_(u, alpha=al),
    "sub_": lambda t, u, al=None: t.sub_(u) if al is None else t.sub_(u, alpha=al),
    "mul_": lambda t, u: t.mul_(u), "div_": lambda t, u: t.div_(u),
    "addcmul_": lambda t, a, b, v=None: t.addcmul_(a, b) if v is None else t.addcmul_(a, b, value=v),
    "addcdiv_": lambda t, a, b, v=None: t.addcdiv_(a, b) if v is None else t.addcdiv_(a, b, value=v),
    "lerp_": lambda t, e, w: t.lerp_(e, w), "sqrt_": lambda t: t.sqrt_(),
    "clamp_": lambda t, lo=None, hi=None: t.clamp_(lo, hi), "sign_": lambda t: t.sign_(),
    "copy_": lambda t, s: t.copy_(s), "sin_": lambda t: t.sin_(), "cos_": lambda t: t.cos_(),
    "floor_": lambda t: t.floor_(), "round_": lambda t: t.round_(),
}

# PyTorch's error message -> the words the API contract puts in optlab's
CONTRACT_ERRORS = [
    ("modified by an inplace operation", "modified by an inplace operation"),
    ("a leaf Variable that requires grad", "a leaf tensor that requires grad"),
    ("single memory location", "single memory location"),
]


def resolve(a, env):
    if isinstance(a, dict):
        if "ref" in a:
            return env[a["ref"]]
        if "none" in a:
            return None
        if "list" in a:
            return [resolve(x, env) for x in a["list"]]
        if "shape" in a:
            return list(a["shape"])
        if "opts" in a:
            return dict(a["opts"])
    return a


def ref(n): return {"ref": n}
NONE = {"none": True}


def execute(prog, dtype, inputs=None, local=False):
    """Run prog in torch; returns values per step, input grads, final inputs, or the error."""
    DT[0] = dtype
    env, leaves = {}, {}
    for inp in prog["inputs"]:
        data = inputs[inp["name"]] if inputs else inp["data"]
        t = torch.tensor(data, dtype=dtype).reshape(inp["shape"]).clone()
        if inp.get("grad"):
            t.requires_grad_(True)
        env[inp["name"]] = t
        leaves[inp["name"]] = t
    res = {"values": [], "argvals": [], "argreq": []}
    outs = []
    for k, st in enumerate(prog["steps"]):
        args = [resolve(a, env) for a in st["args"]]
        res["argvals"].append([snap(a) for a in args])
        res["argreq"].append([req(a) for a in args])
        try:
            if st.get("no_grad"):
                with torch.no_grad():
                    y = TOPS[st["op"]](*args)
            else:
                y = TOPS[st["op"]](*args)
        except RuntimeError as e:
            res["error"] = {"step": k + 1, "msg": str(e)}
            return res
        env[st["out"]] = y
        if y.requires_grad and not y.is_leaf:
            y.retain_grad()
        outs.append(y)
        res["values"].append(y.detach().clone())
    last = env[prog["steps"][-1]["out"]]
    w = torch.tensor(prog["wgrad"]["data"], dtype=dtype).reshape(prog["wgrad"]["shape"])
    try:
        last.backward(w)
    except RuntimeError as e:
        res["error"] = {"step": "backward", "msg": str(e)}
        return res
    # the inputs that required grad from the start (an input that an in-place op put into the
    # graph is no leaf any more: PyTorch leaves its .grad alone)
    res["grads"] = {i["name"]: (leaves[i["name"]].grad.detach().clone() if leaves[i["name"]].grad is not None else None)
                    for i in prog["inputs"] if i.get("grad")}
    res["finals"] = {n: t.detach().clone() for n, t in leaves.items()}
    if local:
        res["vjps"] = []
        for k, st in enumerate(prog["steps"]):
            y = outs[k]
            g = y.grad if y.requires_grad else None
            if g is None and y.is_leaf and y.requires_grad:
                g = None
            v = local_vjp(st, res["argvals"][k], res["argreq"][k], g, dtype)
            res["vjps"].append({"gout": tdata(g, 5), "args": v} if v else None)
    return res


def snap(a):
    if isinstance(a, list):
        return [snap(x) for x in a]
    return a.detach().clone() if torch.is_tensor(a) else a


def req(a):
    if isinstance(a, list):
        return [req(x) for x in a]
    return torch.is_tensor(a) and a.requires_grad


def local_vjp(st, argvals, argreq, g, dtype):
    """The step alone on fresh leaves holding its torch inputs, backward with its output's grad."""
    if g is None:
        return None
    fresh, slots = [], []
    for i, a in enumerate(argvals):
        if isinstance(a, list):
            lst = []
            for j, x in enumerate(a):
                if argreq[i][j] is True:
                    x = x.clone().requires_grad_(True)
                    slots.append(((i, j), x))
                lst.append(x)
            fresh.append(lst)
        elif argreq[i]:
            x = a.clone().requires_grad_(True)
            fresh.append(x)
            slots.append(((i, None), x))
        else:
            fresh.append(a)
    if not slots or st.get("no_grad"):
        return None
    DT[0] = dtype
    if st["op"].endswith("_"):      # an in-place op on a leaf is an error: act on its clone
        fresh[0] = fresh[0].clone()
    y = TOPS[st["op"]](*fresh)
    if not y.requires_grad:
        return None
    gs = torch.autograd.grad(y, [x for _, x in slots], g, allow_unused=True)
    out = []
    for (pos, _), gi in zip(slots, gs):
        out.append({"arg": pos[0] + 1, "item": (pos[1] + 1) if pos[1] is not None else None,
                    "grad": tdata(gi, 5) if gi is not None else None})
    return out


def contract_words(msg):
    for torch_words, ours in CONTRACT_ERRORS:
        if torch_words in msg:
            return ours
    return None


# ---------------------------------------------------------------- conditioning filter

def tol_ok(a, b, frac):
    """a (float32 run) within frac of the replay's tolerance of b (float64 run)"""
    if a is None or b is None:
        return (a is None or not a.any()) and (b is None or not b.any())
    a, b = a.double(), b.double()
    if a.shape != b.shape or not torch.isfinite(b).all() or not torch.isfinite(a).all():
        return False
    return bool(((a - b).abs() <= frac * (ATOL + RTOL * b.abs())).all())


def smooth(r0, r1):
    """values and gradients move by at most 1e-2 (relative to 1 + |v|) under the perturbation"""
    def near(a, b):
        if a is None or b is None:
            return (a is None or not a.any()) and (b is None or not b.any())
        return bool(((a - b).abs() <= 1e-2 * (1 + b.abs())).all())
    for a, b in zip(r0["values"], r1["values"]):
        if not near(a, b):
            return False
    return all(near(r0["grads"][n], r1["grads"][n]) for n in r0["grads"])


TIES = {"max", "min", "argmax", "argmin"}


def hazards(prog, r):
    """exact ties where PyTorch's choice is arbitrary (perturbation cannot break them)"""
    for k, st in enumerate(prog["steps"]):
        av = r["argvals"][k]
        if st["op"] in TIES:
            a = av[0].double()
            dim = av[1] if len(av) > 1 and av[1] is not None else None
            x = a.reshape(-1) if dim is None else a.movedim(D(dim), -1).reshape(-1, a.shape[D(dim)])
            x = x.reshape(1, -1) if dim is None else x
            if x.shape[-1] > 1:
                s = x.sort(dim=-1).values
                gap = (s[:, -1] - s[:, -2]).abs().min() if st["op"] in ("max", "argmax") else (s[:, 1] - s[:, 0]).abs().min()
                if gap < 1e-3:
                    return True
        if st["op"] in ("remainder", "floor", "round"):    # at a jump, float32 rounding picks the side
            if st["op"] == "remainder":
                q = (T(av[0]).double() / T(av[1]).double())
            else:
                q = av[0].double() + (0.5 if st["op"] == "round" else 0.0)
            f = q - q.floor()
            if ((f < 1e-3) | (f > 1 - 1e-3)).any():
                return True
        if st["op"] in ("maximum", "minimum"):
            a, b = T(av[0]).double(), T(av[1]).double()
            if ((a - b).abs() < 1e-3).any():
                return True
    return False


def finalize(prog, local=False, check=True):
    """Run prog in float32 and float64; fill in its expected results, or return None when
    it is ill-conditioned for float32."""
    inputs = {i["name"]: i["data"] for i in prog["inputs"]}
    r32 = execute(prog, torch.float32, local=local)
    if "error" in r32:
        words = contract_words(r32["error"]["msg"])
        if words is None:
            return None
        prog["error"] = {"step": r32["error"]["step"], "match": words, "torch": r32["error"]["msg"][:200]}
        return prog
    if check:
        r64 = execute(prog, torch.float64)
        if "error" in r64 or hazards(prog, r64):
            return None
        for a, b in zip(r32["values"], r64["values"]):
            if not tol_ok(a, b, 0.25):
                return None
        for n in r32["grads"]:
            if not tol_ok(r32["grads"][n], r64["grads"][n], 0.25):
                return None
        rng = random.Random(zlib.crc32(prog["name"].encode()))
        pert = {}
        for i in prog["inputs"]:
            if i.get("grad") and not i.get("exact"):
                pert[i["name"]] = [x * (1 + 1e-4 * rng.uniform(-1, 1)) for x in i["data"]]
            else:
                pert[i["name"]] = i["data"]
        rp = execute(prog, torch.float64, inputs=pert)
        if "error" in rp or not smooth(r64, rp):
            return None
    prog["values"] = [tdata(v) for v in r32["values"]]
    prog["grads"] = {n: (tdata(g) if g is not None else NONE) for n, g in r32["grads"].items()}
    changed = {}
    for i in prog["inputs"]:
        fin = r32["finals"][i["name"]]
        if [float(x) for x in fin.reshape(-1).tolist()] != [f32(x) for x in i["data"]]:
            changed[i["name"]] = tdata(fin)
    if changed:
        prog["finals"] = changed
    if local and len(prog["steps"]) > 1:   # one step: its local gradients are the grads above
        vj = [v if v is not None else False for v in r32["vjps"]]
        if vj[-1]:
            del vj[-1]["gout"]            # the last step's output gradient is wgrad
        prog["vjps"] = vj
    del inputs
    return prog


# ---------------------------------------------------------------- random programs

class Builder:
    def __init__(self, rng, name):
        self.rng = rng
        self.prog = {"name": name, "inputs": [], "steps": []}
        self.vals = {}          # name -> float64 tensor (for shapes and values while building)
        self.grad = {}          # name -> requires grad (from a grad input)
        self.n = 0
        self.rejected = []
        self.limit = 32 if name.startswith("random") else 4096

    def data(self, shape, lo=0.3, hi=2.0, positive=False):
        n = 1
        for s in shape:
            n *= s
        r = self.rng
        return [f32(round((1 if positive or r.random() < 0.5 else -1) * r.uniform(lo, hi), 3)) for _ in range(n)]

    def input(self, shape, grad=True, data=None, **kw):
        name = "x%d" % (len(self.prog["inputs"]) + 1)
        d = data if data is not None else self.data(shape, **kw)
        inp = {"name": name, "shape": list(shape), "data": d}
        if grad:
            inp["grad"] = True
        self.prog["inputs"].append(inp)
        self.vals[name] = torch.tensor(d, dtype=torch.float64).reshape(shape)
        self.grad[name] = grad
        return name

    def step(self, op, *args, no_grad=False):
        """Append a step if torch accepts it; returns the output name or None."""
        env = self.vals
        DT[0] = torch.float64
        try:
            y = TOPS[op](*[resolve(a, env) for a in args])
        except (RuntimeError, IndexError, ValueError, TypeError) as e:
            self.rejected.append("%s: %s" % (op, str(e).split("\n")[0][:150]))
            return None
        if not torch.is_tensor(y) or y.numel() > self.limit or y.numel() == 0:
            self.rejected.append("%s: output too large or empty" % op)
            return None
        self.n += 1
        out = "v%d" % self.n
        st = {"out": out, "op": op, "args": list(args)}
        if no_grad:
            st["no_grad"] = True
        self.prog["steps"].append(st)
        self.vals[out] = y.detach()
        g = False
        for a in args:
            for r in (a.get("list", [a]) if isinstance(a, dict) else []):
                if isinstance(r, dict) and "ref" in r and self.grad.get(r["ref"]):
                    g = True
        self.grad[out] = g and op not in ("argmax", "argmin", "detach")
        return out

    def finish(self):
        last = self.prog["steps"][-1]["out"]
        y = self.vals[last]
        self.prog["wgrad"] = {"shape": list(y.shape), "data": self.data(list(y.shape), 0.2, 1.0)}
        return self.prog


def rshape(r, nd=None):
    if nd is None:
        nd = r.choice([0, 1, 1, 2, 2, 2, 3, 3])
    return [r.randint(1, 4) for _ in range(nd)]


def bshape(r, s):
    """a shape that broadcasts with s (either way round)"""
    s = list(s)
    c = r.random()
    if c < 0.25 and s:
        return s[r.randint(0, len(s)):]                  # trailing dims
    if c < 0.5:
        return [1 if r.random() < 0.5 else d for d in s]
    if c < 0.7 and len(s) < 3:
        return [r.randint(2, 3)] + s                     # one more leading dim
    if c < 0.85:
        return [d if d != 1 or r.random() < 0.5 else r.randint(2, 3) for d in s]
    return s


def rnum(r, lo=0.5, hi=2.0):
    return f32((1 if r.random() < 0.5 else -1) * r.uniform(lo, hi))


def rdim(r, nd, neg=True):
    d = r.randint(1, nd)
    return d - nd - 1 if neg and r.random() < 0.3 else d


BINARY = ["add", "sub", "mul", "div", "pow", "remainder", "maximum", "minimum"]
UNARY = ["unm", "neg", "abs", "exp", "log", "sqrt", "square", "reciprocal", "tanh", "sigmoid", "relu",
         "sign", "sin", "cos", "floor", "round", "clone", "contiguous"]
ACTS = ["F.relu", "F.leaky_relu", "F.elu", "F.gelu", "F.sigmoid", "F.tanh", "F.softmax", "F.log_softmax"]
REDS = ["sum", "mean", "max", "min", "prod", "sumsq", "logsumexp", "var", "std", "norm", "cumsum", "argmax", "argmin"]
VIEWS = ["transpose", "t", "reshape", "view", "narrow", "select", "index", "expand", "permute", "squeeze", "unsqueeze"]
OTHER = ["matmul", "dot", "where", "cat", "stack", "gather", "clamp"]


def t_binary(b, a):
    r, op = b.rng, b.rng.choice(BINARY)
    kind = r.choice(["tt", "tt", "tn", "nt"])
    s = list(b.vals[a].shape)
    if op == "pow":
        if kind == "tn":
            return b.step(op, ref(a), r.choice([2.0, 3.0, 0.5, -1.0, 1.5, 2.5]) if b.vals[a].min() > 0.05 else r.choice([2.0, 3.0, -1.0]))
        if kind == "nt":
            return b.step(op, f32(r.uniform(0.5, 3.0)), ref(a))
        base = b.input(bshape(r, s), grad=r.random() < 0.7, lo=0.5, hi=2.0, positive=True)
        return b.step(op, ref(base), ref(a))
    if op == "remainder":
        if kind == "tn":
            return b.step(op, ref(a), rnum(r, 0.7, 2.0))
        if kind == "nt":
            return b.step(op, rnum(r, 0.5, 3.0), ref(a))
    if kind == "tn":
        return b.step(op, ref(a), rnum(r))
    if kind == "nt":
        return b.step(op, rnum(r), ref(a))
    other = [n for n in b.vals if n != a]
    if other and r.random() < 0.4:
        o = r.choice(other)
    else:
        o = b.input(bshape(r, s), grad=r.random() < 0.7)
    return b.step(op, *((ref(a), ref(o)) if r.random() < 0.5 else (ref(o), ref(a))))


def t_unary(b, a):
    return b.step(b.rng.choice(UNARY), ref(a))


def t_act(b, a):
    r, op = b.rng, b.rng.choice(ACTS)
    nd = b.vals[a].dim()
    if op in ("F.softmax", "F.log_softmax"):
        return b.step(op, ref(a), rdim(r, nd)) if nd > 0 else None
    if op == "F.leaky_relu":
        return b.step(op, ref(a), r.choice([0.01, 0.2]))
    if op == "F.elu":
        return b.step(op, ref(a), r.choice([1.0, 0.5]))
    if op == "F.gelu":
        return b.step(op, ref(a), r.choice(["none", "tanh"]))
    return b.step(op, ref(a))


def t_red(b, a):
    r, op = b.rng, b.rng.choice(REDS)
    nd = b.vals[a].dim()
    overall = nd == 0 or r.random() < 0.3
    if op == "cumsum":
        return b.step(op, ref(a), rdim(r, nd)) if nd > 0 else None
    if op == "logsumexp":
        return b.step(op, ref(a), rdim(r, nd), r.random() < 0.5) if nd > 0 else None
    if op in ("argmax", "argmin"):
        return b.step(op, ref(a)) if overall else b.step(op, ref(a), rdim(r, nd))
    if op in ("var", "std"):
        c = r.choice([1, 1, 0])
        if overall:
            return b.step(op, ref(a), NONE, False, c)
        return b.step(op, ref(a), rdim(r, nd), r.random() < 0.5, c)
    if op == "norm":
        p = r.choice([2, 2, 1, 3])
        if overall:
            return b.step(op, ref(a), p)
        return b.step(op, ref(a), p, rdim(r, nd), r.random() < 0.5)
    if overall:
        return b.step(op, ref(a))
    return b.step(op, ref(a), rdim(r, nd), r.random() < 0.5)


def t_view(b, a):
    r, op = b.rng, b.rng.choice(VIEWS)
    s = list(b.vals[a].shape)
    nd = len(s)
    if op == "transpose" and nd >= 2:
        return b.step(op, ref(a), rdim(r, nd), rdim(r, nd))
    if op == "t" and nd == 2:
        return b.step(op, ref(a))
    if op == "view" and not b.vals[a].is_contiguous():
        return None     # PyTorch's view also takes some strided tensors; optlab's asks for contiguous ones
    if op in ("reshape", "view") and nd >= 1:
        n = b.vals[a].numel()
        divs = [d for d in range(1, n + 1) if n % d == 0]
        d1 = r.choice(divs)
        shp = r.choice([[n], [d1, n // d1], [n // d1, -1], [1, d1, n // d1]])
        return b.step(op, ref(a), {"shape": shp})
    if op == "narrow" and nd >= 1:
        d = r.randint(1, nd)
        if s[d - 1] < 2:
            return None
        ln = r.randint(1, s[d - 1] - 1)
        return b.step(op, ref(a), d, r.randint(1, s[d - 1] - ln + 1), ln)
    if op == "select" and nd >= 1:
        d = r.randint(1, nd)
        return b.step(op, ref(a), d, r.randint(1, s[d - 1]))
    if op == "index" and nd >= 2:
        return b.step(op, ref(a), r.randint(1, s[0]))
    if op == "expand":
        shp = [d if d != 1 else r.randint(2, 3) for d in s]
        if r.random() < 0.4 or shp == s:
            shp = [r.randint(2, 3)] + shp
        return b.step(op, ref(a), {"shape": shp})
    if op == "permute" and nd >= 2:
        p = list(range(1, nd + 1))
        r.shuffle(p)
        return b.step(op, ref(a), {"shape": p})
    if op == "squeeze":
        ones = [i + 1 for i, d in enumerate(s) if d == 1]
        if not ones:
            return None
        return b.step(op, ref(a), r.choice(ones)) if r.random() < 0.6 else b.step(op, ref(a))
    if op == "unsqueeze" and nd < 3:
        return b.step(op, ref(a), r.randint(1, nd + 1))
    return None


def t_other(b, a):
    r, op = b.rng, b.rng.choice(OTHER)
    v = b.vals[a]
    s, nd = list(v.shape), v.dim()
    if op == "matmul" and nd >= 1:
        n = s[-1]
        k = r.randint(1, 4)
        kind = r.random()
        if nd == 1:
            o = b.input([n] if kind < 0.5 else [n, k], grad=r.random() < 0.8)
        elif kind < 0.3:
            o = b.input([n], grad=r.random() < 0.8)
        elif kind < 0.6 or nd == 2:
            o = b.input(([2] if nd == 2 and kind > 0.8 else []) + [n, k], grad=r.random() < 0.8)
        else:
            o = b.input(s[:-2][-1:] + [n, k] if r.random() < 0.5 else [n, k], grad=r.random() < 0.8)
        return b.step(op, ref(a), ref(o))
    if op == "dot" and nd == 1:
        return b.step(op, ref(a), ref(b.input(s, grad=r.random() < 0.8)))
    if op == "where":
        c = b.input(bshape(r, s), grad=False, data=None)
        b.prog["inputs"][-1]["data"] = [float(r.random() < 0.5) for _ in b.prog["inputs"][-1]["data"]]
        b.prog["inputs"][-1]["exact"] = True
        b.vals[c] = torch.tensor(b.prog["inputs"][-1]["data"], dtype=torch.float64).reshape(b.vals[c].shape)
        other = rnum(r) if r.random() < 0.4 else ref(b.input(bshape(r, s), grad=r.random() < 0.7))
        return b.step(op, ref(c), *((ref(a), other) if r.random() < 0.5 else (other, ref(a))))
    if op in ("cat", "stack") and nd >= 1:
        d = rdim(r, nd + (1 if op == "stack" else 0))
        s2 = list(s)
        if op == "cat":
            s2[D(d) if d > 0 else d] = r.randint(1, 3)
        o = b.input(s2, grad=r.random() < 0.7)
        return b.step(op, {"list": [ref(a), ref(o)] if r.random() < 0.5 else [ref(o), ref(a)]}, d)
    if op == "gather" and nd >= 1:
        d = r.randint(1, nd)
        shp = [r.randint(1, x) for x in s]
        shp[d - 1] = r.randint(1, 4)
        n = 1
        for x in shp:
            n *= x
        idx = b.input(shp, grad=False, data=[float(r.randint(1, s[d - 1])) for _ in range(n)])
        b.prog["inputs"][-1]["exact"] = True
        return b.step(op, ref(a), d, ref(idx))
    if op == "clamp":
        lo, hi = f32(r.uniform(-1.5, 0)), f32(r.uniform(0, 1.5))
        c = r.random()
        return b.step(op, ref(a), lo if c < 0.7 else NONE, hi if c > 0.3 else NONE)
    return None


def t_inplace(b, a):
    """an in-place op on an intermediate value (recorded in the graph, as PyTorch does)"""
    if a in [i["name"] for i in b.prog["inputs"]]:
        return None     # in-place on a leaf that requires grad is an error: targeted cases test it
    r, s = b.rng, list(b.vals[a].shape)
    op = r.choice(["add_", "sub_", "mul_", "div_", "addcmul_", "addcdiv_", "lerp_", "clamp_", "copy_", "sin_", "cos_", "sqrt_"])
    def other(**kw):
        return ref(b.input(bshape(r, s) if r.random() < 0.5 else s, grad=r.random() < 0.7, **kw))
    if op in ("add_", "sub_"):
        args = [other()] + ([rnum(r)] if r.random() < 0.5 else [])
    elif op in ("mul_", "div_"):
        args = [other(lo=0.5) if r.random() < 0.6 else rnum(r)]
    elif op in ("addcmul_", "addcdiv_"):
        args = [other(), other(lo=0.5)] + ([rnum(r)] if r.random() < 0.5 else [])
    elif op == "lerp_":
        args = [other(), f32(r.uniform(0.1, 0.9))]
    elif op == "clamp_":
        args = [f32(r.uniform(-1.5, 0)), f32(r.uniform(0, 1.5))]
    elif op == "copy_":
        args = [other()]
    else:
        args = []
    return b.step(op, ref(a), *args)


TEMPLATES = [(t_binary, 4), (t_unary, 2), (t_act, 2), (t_red, 2), (t_view, 3), (t_other, 2), (t_inplace, 1)]


def random_program(rng, i):
    b = Builder(rng, "random %d" % i)
    first = b.input(rshape(rng), grad=True)
    cur = first
    length = rng.randint(2, 5)
    tries = 0
    while len(b.prog["steps"]) < length and tries < 40:
        tries += 1
        pick = rng.random() * sum(w for _, w in TEMPLATES)
        for fn, w in TEMPLATES:
            pick -= w
            if pick <= 0:
                break
        a = cur if rng.random() < 0.75 else rng.choice(list(b.vals))
        out = fn(b, a)
        if out:
            cur = out
    if not b.prog["steps"] or not b.grad[b.prog["steps"][-1]["out"]]:
        return None
    return b.finish()


# ---------------------------------------------------------------- targeted cases

TARGETED = []


def case(name, build):
    TARGETED.append((name, build))


def mk(name, fn):
    def build(rng):
        b = Builder(rng, name)
        fn(b)
        if b.rejected:
            print("  %s: torch rejects %s" % (name, b.rejected))
            return None
        return b.finish()
    case(name, build)


def reg_targeted():
    # arithmetic: every binary op as tensor op tensor (broadcast both ways), tensor op number, number op tensor
    for op in BINARY:
        for kind in ("tt_same", "tt_bcast", "tt_bcast_rev", "tn", "nt"):
            def f(b, op=op, kind=kind):
                pos = op == "pow"
                x = b.input([2, 3], lo=0.5, positive=pos)
                if kind == "tn":
                    b.step(op, ref(x), 2.0 if op == "pow" else 1.5)
                elif kind == "nt":
                    b.step(op, 2.0 if op != "remainder" else 2.5, ref(x))
                else:
                    y = b.input([2, 3] if kind == "tt_same" else [3], lo=0.5, positive=pos)
                    b.step(op, *((ref(x), ref(y)) if kind != "tt_bcast_rev" else (ref(y), ref(x))))
            mk("%s %s" % (op, kind), f)
    # the reproducers of the issue
    mk("x*x + 3*x", lambda b: (lambda x: b.step("add", ref(b.step("mul", ref(x), ref(x))), ref(b.step("mul", 3.0, ref(x)))))(b.input([1], data=[3.0])))
    mk("2*x then sum", lambda b: (lambda x: b.step("sum", ref(b.step("mul", 2.0, ref(x)))))(b.input([3])))
    mk("Rosenbrock 100*(y - x^2)^2 + (1 - x)^2", rosen)
    mk("x^0 at 0", lambda b: b.step("pow", ref(b.input([3], data=[0.0, 1.0, -2.0], exact=True)), 0.0))
    mk("norm of a zero vector", lambda b: b.step("norm", ref(b.input([3], data=[0.0, 0.0, 0.0]))))
    mk("norm(1) of [3, -4]", lambda b: b.step("norm", ref(b.input([2], data=[3.0, -4.0])), 1))
    mk("matmul of two vectors", lambda b: b.step("matmul", ref(b.input([4])), ref(b.input([4]))))
    mk("sumsq", lambda b: b.step("sumsq", ref(b.input([2, 3]))))
    mk("sumsq dim", lambda b: b.step("sumsq", ref(b.input([2, 3])), 2, True))
    mk("t[i] on a matrix", lambda b: b.step("mul", ref(b.step("index", ref(b.input([3, 2])), 2)), ref(b.input([2]))))
    mk("t[i] on a 3-D tensor", lambda b: b.step("index", ref(b.input([2, 2, 3])), 1))
    mk("x:t() then view after softmax dim 1", lambda b: b.step("view", ref(b.step("F.softmax", ref(b.input([3, 4])), 1)), {"shape": [12]}))
    mk("log_softmax dim 1 then view", lambda b: b.step("view", ref(b.step("F.log_softmax", ref(b.input([3, 4])), 1)), {"shape": [-1]}))
    mk("softmax dim 2 of 3-D then view", lambda b: b.step("view", ref(b.step("F.softmax", ref(b.input([2, 3, 2])), 2)), {"shape": [12]}))
    # unary ops and activations on a fixed safe input
    for op in UNARY:
        mk(op, lambda b, op=op: b.step(op, ref(b.input([2, 3], lo=0.3, hi=1.8, positive=op in ("log", "sqrt")))))
    for op, extra in [("F.relu", []), ("F.leaky_relu", []), ("F.leaky_relu", [0.2]), ("F.elu", []), ("F.elu", [0.5]),
                      ("F.gelu", []), ("F.gelu", ["tanh"]), ("F.sigmoid", []), ("F.tanh", [])]:
        mk(op + " " + ",".join(map(str, extra)), lambda b, op=op, extra=extra: b.step(op, ref(b.input([3, 4])), *extra))
    for op in ("F.softmax", "F.log_softmax"):
        for d in (1, 2, 3, -1, -2):
            mk("%s dim %d" % (op, d), lambda b, op=op, d=d: b.step(op, ref(b.input([2, 3, 4])), d))
    mk("clamp lo hi", lambda b: b.step("clamp", ref(b.input([3, 4])), -1.0, 1.0))
    mk("clamp lo only", lambda b: b.step("clamp", ref(b.input([3, 4])), -1.0, NONE))
    mk("clamp hi only", lambda b: b.step("clamp", ref(b.input([3, 4])), NONE, 1.0))
    # every reduction along each dim and overall, keepdim both ways
    for op in ("sum", "mean", "max", "min", "prod", "sumsq", "logsumexp", "var", "std", "norm", "argmax", "argmin", "cumsum"):
        dims = [None, 1, 2, 3, -1] if op not in ("logsumexp", "cumsum") else [1, 2, 3, -1]
        for d in dims:
            for keep in ((False, True) if op not in ("argmax", "argmin", "cumsum") and d is not None else (False,)):
                def f(b, op=op, d=d, keep=keep):
                    x = b.input([2, 3, 4], lo=0.5, hi=1.5)
                    if op in ("argmax", "argmin"):
                        y = b.step(op, ref(x)) if d is None else b.step(op, ref(x), d)
                        b.step("mul", ref(y), ref(b.step("sum", ref(x))))   # a value needing grad to end on
                    elif op == "cumsum":
                        b.step(op, ref(x), d)
                    elif op in ("var", "std"):
                        b.step(op, ref(x), NONE if d is None else d, keep, 1)
                    elif op == "norm":
                        b.step(op, ref(x), 2, *(() if d is None else (d, keep)))
                    elif d is None:
                        b.step(op, ref(x))
                    else:
                        b.step(op, ref(x), d, keep)
                mk("%s dim %s keep %s" % (op, d, keep), f)
    for c in (0, 1, 2):
        mk("var correction %d" % c, lambda b, c=c: b.step("var", ref(b.input([3, 4])), 2, False, c))
        mk("std correction %d overall" % c, lambda b, c=c: b.step("std", ref(b.input([3, 4])), NONE, False, c))
    for p in (1, 2, 3, 0.5, 1.5, math.inf):
        mk("norm p=%g dim 1" % p, lambda b, p=p: b.step("norm", ref(b.input([3, 4])), p, 1, False))
        mk("norm p=%g overall" % p, lambda b, p=p: b.step("norm", ref(b.input([3, 4])), p))
    # matmul and dot
    for sa, sb in [([4], [4]), ([3, 4], [4]), ([4], [4, 2]), ([3, 4], [4, 2]), ([2, 3, 4], [2, 4, 5]),
                   ([2, 3, 4], [4, 5]), ([3, 4], [2, 4, 5]), ([2, 1, 3, 4], [3, 4, 2]), ([2, 3, 4], [4])]:
        mk("matmul %s %s" % (sa, sb), lambda b, sa=sa, sb=sb: b.step("matmul", ref(b.input(sa)), ref(b.input(sb))))
    mk("matmul of transposed views", lambda b: b.step("matmul", ref(b.step("t", ref(b.input([4, 3])))), ref(b.step("transpose", ref(b.input([2, 4])), 1, 2))))
    mk("dot", lambda b: b.step("dot", ref(b.input([5])), ref(b.input([5]))))
    # views feeding later ops
    V = [("transpose", lambda b, x: b.step("transpose", ref(x), 1, 3)),
         ("t", lambda b, x: b.step("t", ref(b.step("reshape", ref(x), {"shape": [6, 4]})))),
         ("reshape", lambda b, x: b.step("reshape", ref(x), {"shape": [4, -1]})),
         ("view", lambda b, x: b.step("view", ref(x), {"shape": [3, 8]})),
         ("narrow", lambda b, x: b.step("narrow", ref(x), 3, 2, 2)),
         ("narrow negative dim", lambda b, x: b.step("narrow", ref(x), -2, 2, 2)),
         ("select", lambda b, x: b.step("select", ref(x), 2, 3)),
         ("select negative", lambda b, x: b.step("select", ref(x), 3, -1)),
         ("index", lambda b, x: b.step("index", ref(x), 2)),
         ("expand", lambda b, x: b.step("expand", ref(b.step("narrow", ref(x), 1, 1, 1)), {"shape": [3, 3, 4]})),
         ("permute", lambda b, x: b.step("permute", ref(x), {"shape": [3, 1, 2]})),
         ("squeeze dim", lambda b, x: b.step("squeeze", ref(b.step("narrow", ref(x), 2, 2, 1)), 2)),
         ("squeeze all", lambda b, x: b.step("squeeze", ref(b.step("narrow", ref(x), 2, 2, 1)))),
         ("unsqueeze", lambda b, x: b.step("unsqueeze", ref(x), 2)),
         ("unsqueeze -1", lambda b, x: b.step("unsqueeze", ref(x), -1))]
    for name, fn in V:
        def f(b, fn=fn):
            x = b.input([2, 3, 4])
            v = fn(b, x)
            w = b.input(list(b.vals[v].shape))
            b.step("sum", ref(b.step("mul", ref(b.step("exp", ref(v))), ref(w))), 1)
        mk("view %s feeding exp, mul, sum" % name, f)
        mk("view %s used twice" % name, lambda b, fn=fn: (lambda x: (lambda v: b.step("add", ref(b.step("mul", ref(v), ref(v))), ref(v)))(fn(b, x)))(b.input([2, 3, 4])))
    # new ops
    mk("where tensor tensor", lambda b: b.step("where", ref(b.input([3, 4], grad=False, data=[float(i % 3 == 0) for i in range(12)], exact=True)), ref(b.input([3, 4])), ref(b.input([4]))))
    mk("where tensor number", lambda b: b.step("where", ref(b.input([3, 4], grad=False, data=[float(i % 2) for i in range(12)], exact=True)), ref(b.input([3, 4])), 0.5))
    mk("where number tensor", lambda b: b.step("where", ref(b.input([4], grad=False, data=[1.0, 0.0, 0.0, 1.0], exact=True)), -1.0, ref(b.input([3, 4]))))
    for d in (1, 2, -1):
        mk("cat dim %d" % d, lambda b, d=d: b.step("cat", {"list": [ref(b.input([2, 3])), ref(b.input([2, 3], grad=False)), ref(b.input([2, 3]))]}, d))
    mk("cat default dim", lambda b: b.step("cat", {"list": [ref(b.input([2, 3])), ref(b.input([1, 3]))]}))
    for d in (1, 2, 3, -1):
        mk("stack dim %d" % d, lambda b, d=d: b.step("stack", {"list": [ref(b.input([2, 3])), ref(b.input([2, 3]))]}, d))
    mk("stack default dim", lambda b: b.step("stack", {"list": [ref(b.input([3])), ref(b.input([3]))]}))
    for d in (1, 2):
        mk("gather dim %d" % d, lambda b, d=d: b.step("gather", ref(b.input([3, 4])), d,
                                                      ref(b.input([2, 3] if d == 1 else [3, 2], grad=False, exact=True, data=[1.0, 3.0, 2.0, 2.0, 1.0, 3.0]))))
    mk("gather repeated index", lambda b: b.step("gather", ref(b.input([2, 3])), 2, ref(b.input([2, 4], grad=False, exact=True, data=[1.0, 1.0, 3.0, 1.0, 2.0, 2.0, 2.0, 3.0]))))
    mk("std of equal values", lambda b: b.step("std", ref(b.input([3], data=[2.0, 2.0, 2.0]))))
    mk("std of one element, correction 0", lambda b: b.step("std", ref(b.input([], data=[1.5])), NONE, False, 0))
    mk("var of equal values along a dim", lambda b: b.step("var", ref(b.input([2, 2], data=[1.0, 1.0, 3.0, -1.0])), 2, False, 1))
    mk("logsumexp large", lambda b: b.step("logsumexp", ref(b.input([2, 3], data=[100.0, 101.0, 99.0, -50.0, -51.0, -49.5])), 2))
    mk("cumsum then prod", lambda b: b.step("prod", ref(b.step("cumsum", ref(b.input([3, 3], lo=0.5, hi=1.2, positive=True)), 1)), 2))
    mk("x % 2", lambda b: b.step("remainder", ref(b.input([5], data=[3.3, -3.3, 0.7, 5.1, -0.4])), 2.0))
    mk("2 % x", lambda b: b.step("remainder", 2.0, ref(b.input([4], data=[1.5, -1.5, 0.7, 3.1]))))
    mk("2 ^ x", lambda b: b.step("pow", 2.0, ref(b.input([3]))))
    for op in ("floor", "round"):
        mk(op + " has zero gradient", lambda b, op=op: b.step("add", ref(b.step(op, ref(b.input([4], data=[1.3, -1.7, 2.6, 0.2])))), ref(b.step("mul", ref(b.input([4])), 2.0))))
    mk("round half to even", lambda b: b.step("add", ref(b.step("round", ref(b.input([6], grad=False, exact=True, data=[0.5, 1.5, 2.5, -0.5, -1.5, 3.5])))), ref(b.input([6]))))
    # losses
    mk("cross_entropy class ids", lambda b: b.step("F.cross_entropy", ref(b.input([4, 5])), ref(b.input([4], grad=False, exact=True, data=[0.0, 4.0, 2.0, 1.0]))))
    mk("cross_entropy one-hot", lambda b: b.step("F.cross_entropy", ref(b.input([3, 4])), ref(b.input([3, 4], grad=False, exact=True, data=[0.0, 1.0, 0, 0, 1.0, 0, 0, 0, 0, 0, 0, 1.0]))))
    mk("cross_entropy probabilities", lambda b: b.step("F.cross_entropy", ref(b.input([2, 3])), ref(b.input([2, 3], grad=False, exact=True, data=[0.25, 0.5, 0.25, 0.1, 0.1, 0.8]))))
    # (no cross_entropy of a softmax output: optlab then uses the logits behind it, as Keras does,
    # where PyTorch would take the probabilities as logits; README, Differences)
    mk("mse", lambda b: b.step("F.mse", ref(b.input([3, 4])), ref(b.input([3, 4]))))
    mk("mse target without grad", lambda b: b.step("F.mse", ref(b.input([5])), ref(b.input([5], grad=False))))
    mk("binary_cross_entropy", lambda b: b.step("F.binary_cross_entropy", ref(b.input([3, 4])), ref(b.input([3, 4], grad=False, lo=0.05, hi=0.95, positive=True))))
    mk("binary_cross_entropy targets with grad", lambda b: b.step("F.binary_cross_entropy", ref(b.input([6])), ref(b.input([6], lo=0.05, hi=0.95, positive=True))))
    # Dense / linear
    for shp in ([5, 4], [4], [2, 3, 4]):
        for a in (None, "relu", "tanh", "sigmoid", "gelu", "elu", "leaky_relu"):
            if a not in (None, "relu") and shp != [5, 4]:
                continue
            mk("F.linear x%s %s" % (shp, a), lambda b, shp=shp, a=a: b.step("F.linear", ref(b.input(shp)), ref(b.input([3, 4])), ref(b.input([3])), a or NONE))
            if len(shp) > 1:    # a layer takes a batch
                mk("nn.Dense x%s %s" % (shp, a), lambda b, shp=shp, a=a: b.step("nn.Dense", ref(b.input(shp)), ref(b.input([3, 4])), ref(b.input([3])), a or NONE))
    mk("F.linear without bias", lambda b: b.step("F.linear", ref(b.input([2, 4])), ref(b.input([3, 4])), NONE))
    # Conv2D: padding kinds, strides, dilation (weights [out, in, kh, kw] in both)
    convs = []
    for pad in ("valid", "same", 1, [1, 0], 2):
        for stride in (1, 2, [2, 1]):
            for dil in (1, 2):
                convs.append({"padding": pad, "stride": stride, "dilation": dil})
    convs.append({"padding": "same", "stride": 1, "dilation": 1, "activation": "relu"})
    convs.append({"padding": 1, "stride": 1, "dilation": 1, "activation": "tanh"})
    for i, o in enumerate(convs):
        for cin, k in ((1, 3), (3, 2)):
            mk("F.conv2d %s cin %d k %d" % (sorted(o.items()), cin, k),
               lambda b, o=o, cin=cin, k=k: b.step("F.conv2d", ref(b.input([2, cin, 7, 6])), ref(b.input([4, cin, k, k])), ref(b.input([4])), {"opts": o}))
    mk("F.conv2d without bias", lambda b: b.step("F.conv2d", ref(b.input([1, 2, 5, 5])), ref(b.input([3, 2, 3, 3])), NONE, {"opts": {"padding": 1}}))
    # fused conv + pool, functional and through nn.Sequential
    for a in (None, "relu"):
        for pool in (2, 3):
            for cin in (1, 3):
                mk("F.conv2d_max_pool2d %s pool %d cin %d" % (a, pool, cin), lambda b, a=a, pool=pool, cin=cin: b.step("F.conv2d_max_pool2d", ref(b.input([2, cin, 8, 8])), ref(b.input([3, cin, 3, 3])), ref(b.input([3])), {"opts": {"activation": a}} if a else {"opts": {}}, pool))
                mk("nn.Conv2D+MaxPool2D %s pool %d cin %d" % (a, pool, cin), lambda b, a=a, pool=pool, cin=cin: b.step("nn.Conv2D+MaxPool2D", ref(b.input([2, cin, 8, 8])), ref(b.input([3, cin, 3, 3])), ref(b.input([3])), a or NONE, pool))
    # pools
    for k, s, p in ((2, None, 0), (3, 1, 1), (3, 2, 1), (2, 1, 0), ([2, 3], [1, 2], 0), (3, 3, 0)):
        for op in ("F.max_pool2d", "F.avg_pool2d"):
            mk("%s k %s s %s p %s" % (op, k, s, p), lambda b, op=op, k=k, s=s, p=p: b.step(op, ref(b.input([2, 2, 6, 7])), k, s if s is not None else NONE, p))
    # batch norm, train and eval, 2-D and 4-D, functional and the layer
    for shp in ([6, 3], [2, 3, 4, 4]):
        for tr in (True, False):
            def f(b, shp=shp, tr=tr):
                x = b.input(shp)
                rm = b.input([3], grad=False, lo=-0.5, hi=0.5)
                rv = b.input([3], grad=False, lo=0.5, hi=2.0, positive=True)
                b.step("F.batch_norm", ref(x), ref(rm), ref(rv), ref(b.input([3], lo=0.5, hi=1.5, positive=True)), ref(b.input([3])), tr, 0.1, 1e-5)
            mk("F.batch_norm %s training %s" % (shp, tr), f)
            def g(b, shp=shp, tr=tr):
                x = b.input(shp)
                w, bb = b.input([3], lo=0.5, hi=1.5, positive=True), b.input([3])
                rm = b.input([3], grad=False, lo=-0.5, hi=0.5)
                rv = b.input([3], grad=False, lo=0.5, hi=2.0, positive=True)
                b.step("nn.BatchNorm", ref(x), ref(w), ref(bb), ref(rm), ref(rv), tr)
            mk("nn.BatchNorm %s training %s" % (shp, tr), g)
    mk("F.batch_norm momentum 0.3 eps 1e-3", lambda b: b.step("F.batch_norm", ref(b.input([5, 2])), ref(b.input([2], grad=False)), ref(b.input([2], grad=False, positive=True)), NONE, NONE, True, 0.3, 1e-3))
    mk("F.batch_norm training without running statistics", lambda b: b.step("F.batch_norm", ref(b.input([4, 3])), NONE, NONE, ref(b.input([3])), ref(b.input([3])), True))
    mk("F.dropout eval", lambda b: b.step("F.dropout", ref(b.input([3, 4])), 0.5, False))
    mk("nn.Dropout eval", lambda b: b.step("nn.Dropout(eval)", ref(b.input([3, 4])), 0.3))
    # a small network end to end: conv, pool, flatten, dense, cross-entropy
    def net(b):
        x = b.input([2, 1, 6, 6])
        h = b.step("F.conv2d", ref(x), ref(b.input([2, 1, 3, 3])), ref(b.input([2])), {"opts": {"padding": "same", "activation": "relu"}})
        h = b.step("F.max_pool2d", ref(h), 2, NONE, 0)
        h = b.step("reshape", ref(h), {"shape": [2, -1]})
        h = b.step("F.linear", ref(h), ref(b.input([3, 18])), ref(b.input([3])), NONE)
        b.step("F.cross_entropy", ref(h), ref(b.input([2], grad=False, exact=True, data=[2.0, 0.0])))
    mk("small CNN end to end", net)
    reg_inplace()
    reg_layer_sweep()


def reg_layer_sweep():
    """seeded random configurations of conv2d, pools and the fused conv+pool (direct and
    im2col paths, odd sizes, non-square kernels, strides, dilations, every padding kind)"""
    r = random.Random(2026)
    for i in range(60):
        n, c, k = r.randint(1, 2), r.randint(1, 3), r.randint(1, 4)
        kh, kw = r.randint(1, 4), r.randint(1, 4)
        sh, sw = r.randint(1, 3), r.randint(1, 3)
        dh, dw = r.randint(1, 2), r.randint(1, 2)
        h, w = r.randint((kh - 1) * dh + 1, 8), r.randint((kw - 1) * dw + 1, 8)
        pad = r.choice(["valid", "same", r.randint(0, 2), [r.randint(0, 2), r.randint(0, 2)]])
        o = {"stride": [sh, sw] if sh != sw else sh, "dilation": [dh, dw] if dh != dw else dh, "padding": pad}
        if r.random() < 0.3:
            o["activation"] = "relu"
        ks = [kh, kw] if kh != kw else [kh, kh]
        bias = r.random() < 0.8
        mk("conv2d sweep %d: x[%d,%d,%d,%d] w[%d,%d,%d,%d] %s" % (i + 1, n, c, h, w, k, c, ks[0], ks[1], sorted(o.items())),
           lambda b, n=n, c=c, h=h, w=w, k=k, ks=ks, o=o, bias=bias: b.step(
               "F.conv2d", ref(b.input([n, c, h, w])), ref(b.input([k, c] + ks)), ref(b.input([k])) if bias else NONE, {"opts": o}))
    for i in range(30):
        n, c, h, w = r.randint(1, 2), r.randint(1, 3), r.randint(2, 8), r.randint(2, 8)
        kh, kw = r.randint(1, min(h, 4)), r.randint(1, min(w, 4))
        s = r.choice([None, [r.randint(1, 3), r.randint(1, 3)]])
        p = r.randint(0, min(kh, kw) // 2)
        op = r.choice(["F.max_pool2d", "F.avg_pool2d"])
        mk("pool sweep %d: %s x[%d,%d,%d,%d] k[%d,%d] s %s p %d" % (i + 1, op, n, c, h, w, kh, kw, s, p),
           lambda b, op=op, n=n, c=c, h=h, w=w, k=[kh, kw], s=s, p=p: b.step(op, ref(b.input([n, c, h, w])), k, s if s else NONE, p))
    for i in range(30):
        n, c, k, ks, pool = r.randint(1, 2), r.randint(1, 3), r.randint(1, 4), r.randint(1, 3), r.randint(2, 3)
        h, w = r.randint(ks + pool - 1, 9), r.randint(ks + pool - 1, 9)
        a = r.choice([None, "relu"])
        layer = r.random() < 0.5
        name = "%s sweep %d: x[%d,%d,%d,%d] k %d kernel %d pool %d %s" % ("nn.Conv2D+MaxPool2D" if layer else "F.conv2d_max_pool2d", i + 1, n, c, h, w, k, ks, pool, a)
        if layer:
            mk(name, lambda b, n=n, c=c, h=h, w=w, k=k, ks=ks, pool=pool, a=a: b.step(
                "nn.Conv2D+MaxPool2D", ref(b.input([n, c, h, w])), ref(b.input([k, c, ks, ks])), ref(b.input([k])), a or NONE, pool))
        else:
            mk(name, lambda b, n=n, c=c, h=h, w=w, k=k, ks=ks, pool=pool, a=a: b.step(
                "F.conv2d_max_pool2d", ref(b.input([n, c, h, w])), ref(b.input([k, c, ks, ks])), ref(b.input([k])), {"opts": {"activation": a} if a else {}}, pool))


def rosen(b):
    x, y = b.input([3], lo=0.5, hi=1.5), b.input([3], lo=0.5, hi=1.5)
    t = b.step("sub", ref(y), ref(b.step("pow", ref(x), 2.0)))
    a = b.step("mul", 100.0, ref(b.step("pow", ref(t), 2.0)))
    c = b.step("pow", ref(b.step("sub", 1.0, ref(x))), 2.0)
    b.step("sum", ref(b.step("add", ref(a), ref(c))))


INPLACE = [  # op, extra args builder (b, shape) -> list, whether the op is differentiable
    ("add_", lambda b, s: [ref(b.input(s))]), ("add_", lambda b, s: [ref(b.input(s)), 0.3]),
    ("add_", lambda b, s: [1.5]), ("add_", lambda b, s: [ref(b.input(s[-1:])), -2.0]),
    ("sub_", lambda b, s: [ref(b.input(s))]), ("sub_", lambda b, s: [ref(b.input(s)), 0.3]),
    ("sub_", lambda b, s: [0.7]),
    ("mul_", lambda b, s: [ref(b.input(s))]), ("mul_", lambda b, s: [3.0]), ("mul_", lambda b, s: [ref(b.input([1] + s[1:]))]),
    ("div_", lambda b, s: [ref(b.input(s, lo=0.5))]), ("div_", lambda b, s: [4.0]),
    ("addcmul_", lambda b, s: [ref(b.input(s)), ref(b.input(s))]),
    ("addcmul_", lambda b, s: [ref(b.input(s)), ref(b.input(s[-1:])), 0.5]),
    ("addcdiv_", lambda b, s: [ref(b.input(s)), ref(b.input(s, lo=0.5))]),
    ("addcdiv_", lambda b, s: [ref(b.input(s)), ref(b.input(s, lo=0.5)), -0.25]),
    ("lerp_", lambda b, s: [ref(b.input(s)), 0.3]), ("lerp_", lambda b, s: [ref(b.input(s)), ref(b.input(s, lo=0.1, hi=0.9, positive=True))]),
    ("sqrt_", lambda b, s: []), ("clamp_", lambda b, s: [-0.8, 0.9]), ("clamp_", lambda b, s: [NONE, 0.9]),
    ("clamp_", lambda b, s: [-0.8, NONE]), ("sign_", lambda b, s: []), ("copy_", lambda b, s: [ref(b.input(s))]),
    ("copy_", lambda b, s: [ref(b.input(s[-1:]))]),
    ("sin_", lambda b, s: []), ("cos_", lambda b, s: []), ("floor_", lambda b, s: []), ("round_", lambda b, s: []),
]


def reg_inplace():
    for i, (op, extra) in enumerate(INPLACE):
        tag = "%s #%d" % (op, i + 1)
        # inside the graph: y = x * 1.5 (a non-leaf), y:op_(...), then y feeds exp and a weighted sum
        def f(b, op=op, extra=extra):
            x = b.input([2, 3], lo=0.3, hi=1.2, positive=op == "sqrt_")
            y = b.step("mul", ref(x), 1.5)
            z = b.step(op, ref(y), *extra(b, [2, 3]))
            b.step("mul", ref(z), ref(b.step("exp", ref(x))))
        mk("in-place %s in the graph" % tag, f)
        # under no_grad on a plain tensor (what optimizers do): the values only
        def g(b, op=op, extra=extra):
            x = b.input([2, 3], grad=False, lo=0.3, hi=1.2, positive=op == "sqrt_")
            args = extra(b, [2, 3])
            for inp in b.prog["inputs"][1:]:
                inp.pop("grad", None)
            for n in list(b.grad):
                b.grad[n] = False
            b.step(op, ref(x), *args, no_grad=True)
            b.step("mul", ref(x), ref(b.input([2, 3])))
        mk("in-place %s under no_grad" % tag, g)
        # on a leaf that requires grad, outside no_grad: PyTorch raises
        def h(b, op=op, extra=extra):
            x = b.input([2, 3], lo=0.3, hi=1.2, positive=True)
            b.step(op, ref(x), *extra(b, [2, 3]))
        case("in-place %s on a leaf that requires grad" % tag, lambda rng, h=h: leaf_case("in-place %s on a leaf that requires grad" % tag, rng, h))
    # an accumulator without grad receives a value that has one
    def acc(b):
        a = b.input([3], grad=False)
        x = b.input([3])
        b.step("add_", ref(a), ref(b.step("mul", ref(x), ref(x))))
        b.step("mul", ref(a), 2.0)
    mk("acc:add_(x*x) carries the gradient", acc)
    mk("y = x*2; y:mul_(3)", lambda b: b.step("mul_", ref(b.step("mul", ref(b.input([3])), 2.0)), 3.0))
    mk("m:mul_(b1):add_(g, 1 - b1)", lambda b: b.step("add_", ref(b.step("mul_", ref(b.input([4], grad=False)), 0.9, no_grad=True)), ref(b.input([4], grad=False)), 0.1, no_grad=True) and b.step("mul", ref("x1"), ref(b.input([4]))))
    mk("sin_ then view", lambda b: b.step("view", ref(b.step("sin_", ref(b.step("mul", ref(b.input([2, 3])), 1.0)))), {"shape": [6]}))
    mk("in-place through a view changes the base", inplace_view)
    def detach_shares(b):
        x = b.input([2, 3], grad=False)
        d = b.step("detach", ref(b.step("t", ref(x))))
        b.step("mul_", ref(d), 2.0, no_grad=True)
        b.step("mul", ref(x), ref(b.input([2, 3])))
    mk("detach of a transposed view shares storage", detach_shares)
    # an op's output changed in place, then backward: PyTorch raises exactly when the op's
    # backward saved that output (exp, sigmoid, tanh, sqrt, relu, softmax, prod, max() overall, ...)
    saves = [("exp", []), ("log", []), ("sqrt", []), ("sigmoid", []), ("tanh", []), ("relu", []), ("abs", []),
             ("square", []), ("reciprocal", []), ("neg", []), ("sin", []), ("cos", []), ("clone", []),
             ("F.gelu", []), ("F.elu", []), ("F.leaky_relu", []), ("F.softmax", [2]), ("F.log_softmax", [2]),
             ("sum", []), ("sum", [2, False]), ("mean", [1, True]), ("max", []), ("max", [2, False]), ("prod", [2, False]), ("prod", []),
             ("min", []), ("min", [1, False]), ("logsumexp", [2, False]),
             ("var", [2, False, 1]), ("std", [2, False, 1]), ("std", [NONE, False, 1]), ("norm", []), ("norm", [1, 2, False]),
             ("sumsq", []), ("cumsum", [2]), ("clamp", [0.5, 1.0]), ("pow", [2.0]), ("pow", [ref("x2")]),
             ("remainder", [ref("x2")]), ("remainder", [0.7]), ("add", [ref("x2")]), ("mul", [ref("x2")]),
             ("div", [ref("x2")]), ("maximum", [ref("x2")]), ("matmul", [ref("x3")])]
    for op, extra in saves:
        def f(b, op=op, extra=extra):
            x = b.input([2, 3], lo=0.3, hi=1.2, positive=True)
            b.input([2, 3], lo=0.5, hi=1.5, positive=True)
            b.input([3, 2])
            y = b.step(op, ref(x), *extra)
            b.step("mul_", ref(y), 2.0)
        shown = ", ".join("nil" if a is NONE else ("y" if isinstance(a, dict) else str(a).lower()) for a in extra)
        mk("output of %s(x%s) changed in place, then backward" % (op, ", " + shown if extra else ""), f)
    # errors of the contract
    errors = [
        ("in-place after save: sigmoid output mul_(0)", save_error),
        ("in-place after save: x*y then y:add_(1)", save_error2),
        ("in-place after save: exp output sqrt_()", save_error3),
        ("overlap: expand then add_", overlap_expand),
        ("overlap: x:add_(x:t())", overlap_t),
        ("overlap: copy_ between overlapping narrows", overlap_copy),
    ]
    for name, fn in errors:
        case(name, lambda rng, name=name, fn=fn: error_case(name, rng, fn))


def leaf_case(name, rng, fn):
    b = Builder(rng, name)
    b.prog["wgrad"] = {"shape": [1], "data": [1.0]}
    fn(b)
    if not b.prog["steps"]:
        # torch refused at build time: the op is the first step
        return None
    return b.prog


def build_raw(name, rng, fn):
    b = Builder(rng, name)
    b.step_unchecked = True
    fn(b)
    last = b.prog["steps"][-1]["out"]
    return b


def raw_step(b, op, *args, no_grad=False):
    b.n += 1
    out = "v%d" % b.n
    st = {"out": out, "op": op, "args": list(args)}
    if no_grad:
        st["no_grad"] = True
    b.prog["steps"].append(st)
    return out


def error_case(name, rng, fn):
    b = Builder(rng, name)
    shape = fn(b)
    b.prog["wgrad"] = {"shape": shape, "data": [1.0] * prod(shape)}
    return b.prog


def prod(s):
    n = 1
    for x in s:
        n *= x
    return n


def save_error(b):
    x = b.input([3])
    y = raw_step(b, "sigmoid", ref(x))
    z = raw_step(b, "sum", ref(raw_step(b, "mul", ref(y), ref(y))))
    raw_step(b, "mul_", ref(y), 0.0)
    raw_step(b, "clone", ref(z))
    return []


def save_error2(b):
    x, y = b.input([2, 2]), b.input([2, 2])
    y2 = raw_step(b, "mul", ref(y), 1.0)
    z = raw_step(b, "mul", ref(x), ref(y2))
    raw_step(b, "add_", ref(y2), 1.0)
    raw_step(b, "sum", ref(z))
    return []


def save_error3(b):
    x = b.input([4])
    y = raw_step(b, "exp", ref(x))
    raw_step(b, "sqrt_", ref(y))
    return [4]


def overlap_expand(b):
    x = b.input([3, 1], grad=False)
    e = raw_step(b, "expand", ref(x), {"shape": [3, 3]})
    raw_step(b, "add_", ref(e), 1.0, no_grad=True)
    return [3, 3]


def overlap_t(b):
    x = b.input([3, 3], grad=False)
    raw_step(b, "add_", ref(x), ref(raw_step(b, "t", ref(x))), no_grad=True)
    return [3, 3]


def overlap_copy(b):
    x = b.input([6], grad=False)
    a = raw_step(b, "narrow", ref(x), 1, 1, 4)
    c = raw_step(b, "narrow", ref(x), 1, 3, 4)
    raw_step(b, "copy_", ref(a), ref(c), no_grad=True)
    return [4]


def inplace_view(b):
    x = b.input([2, 3])
    y = b.step("mul", ref(x), 2.0)
    v = b.step("narrow", ref(y), 2, 2, 2)
    b.step("mul_", ref(v), ref(b.input([2, 2])))
    b.step("exp", ref(y))


# ---------------------------------------------------------------- optimizers

def ref_grad(k, i):
    return f32(math.sin(0.9 * k + 1.7 * i) * (1 + 0.5 * (k % 3)) + 0.05 * math.cos(0.3 * k * i))


def ref_param0(i):
    return f32(1 + 0.5 * math.sin(i))


# file, torch class, torch kwargs, optlab hyper-parameters; the gradient sequence is
# tests/lua/ref_optim.lua's (ref.grad, ref.param0), 8 parameters, 100 steps
LIN = {"from": 0.05, "to": 0.005, "steps": 60}
OPTIM = [
    ("torch_sgd", "SGD", {"lr": 0.05}, {"lr": 0.05}),
    ("torch_sgd_momentum_linear", "SGD", {"lr": 0.05, "momentum": 0.9}, {"momentum": 0.9}),
    ("torch_sgd_dampening", "SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01},
     {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01}),
    ("torch_sgd_nesterov", "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("torch_adagrad", "Adagrad", {"lr": 0.1, "eps": 1e-10}, {"lr": 0.1, "eps": 1e-10}),
    ("torch_adagrad_initial_accumulator", "Adagrad", {"lr": 0.1, "eps": 1e-10, "initial_accumulator_value": 0.1, "weight_decay": 0.01},
     {"lr": 0.1, "eps": 1e-10, "initial_accumulator": 0.1, "weight_decay": 0.01}),
    ("torch_rmsprop", "RMSprop", {"lr": 0.01, "alpha": 0.99, "eps": 1e-8}, {"lr": 0.01, "rho": 0.99, "eps": 1e-8}),
    ("torch_rmsprop_momentum_centered", "RMSprop", {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "momentum": 0.5, "centered": True},
     {"lr": 0.01, "rho": 0.99, "eps": 1e-8, "momentum": 0.5, "centered": True}),
    ("torch_adam", "Adam", {"lr": 0.01}, {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
    ("torch_adam_amsgrad", "Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01},
     {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "amsgrad": True, "weight_decay": 0.01}),
    ("torch_adamw", "AdamW", {"lr": 0.01, "weight_decay": 0.01}, {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01}),
    ("torch_adamax", "Adamax", {"lr": 0.01}, {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
    ("torch_nadam", "NAdam", {"lr": 0.01}, {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
    ("torch_rprop", "Rprop", {"lr": 0.01}, {"lr": 0.01, "etaminus": 0.5, "etaplus": 1.2, "step_min": 1e-6, "step_max": 50}),
    ("torch_adadelta", "Adadelta", {"lr": 1.0, "rho": 0.9, "eps": 1e-6}, {"lr": 1.0, "rho": 0.9, "eps": 1e-6}),
]
OPTLAB_NAME = {"NAdam": "Nadam"}

# Issue 15: torch.optim's defaults as optim.get(name, "torch") gives them, on gradients whose
# elements span magnitudes 1 to 1e-6 (ref.span_grad), 120 steps. file, torch class, torch kwargs
# (torch's defaults, plus the variant's), optlab's overrides of optim.get(name, "torch").
# SGD's lr is PyTorch 2.2's default (torch 1.13 has none).
OPTIM_DEFAULTS = [
    ("torch_defaults_sgd", "SGD", {"lr": 1e-3}, {}),
    ("torch_defaults_sgd_nesterov", "SGD", {"lr": 1e-3, "momentum": 0.9, "nesterov": True}, {"momentum": 0.9, "nesterov": True}),
    ("torch_defaults_adagrad", "Adagrad", {}, {}),
    ("torch_defaults_adagrad_lr_decay", "Adagrad", {"lr_decay": 0.01}, {"lr_decay": 0.01}),
    ("torch_defaults_rmsprop", "RMSprop", {}, {}),
    ("torch_defaults_rmsprop_momentum_centered", "RMSprop", {"momentum": 0.9, "centered": True}, {"momentum": 0.9, "centered": True}),
    ("torch_defaults_adam", "Adam", {}, {}),
    ("torch_defaults_adam_amsgrad", "Adam", {"amsgrad": True}, {"amsgrad": True}),
    ("torch_defaults_adamw", "AdamW", {}, {}),
    ("torch_defaults_adamax", "Adamax", {}, {}),
    ("torch_defaults_nadam", "NAdam", {}, {}),
    ("torch_defaults_rprop", "Rprop", {}, {}),
    ("torch_defaults_adadelta", "Adadelta", {}, {}),
    ("torch_defaults_radam", "RAdam", {}, {}),
    ("torch_radam_weight_decay", "RAdam", {"lr": 0.01, "weight_decay": 0.01}, {"lr": 0.01, "weight_decay": 0.01}),
    ("torch_defaults_asgd", "ASGD", {}, {}),
    ("torch_asgd_averaging", "ASGD", {"lr": 0.05, "lambd": 0.01, "alpha": 0.5, "t0": 20, "weight_decay": 0.01},
     {"lr": 0.05, "lambd": 0.01, "alpha": 0.5, "t0": 20, "weight_decay": 0.01}),
]


def span_grad(k, i, n):
    """tests/lua/ref_optim.lua's ref.span_grad: ref_grad's shape scaled by 10^(-6 (i-1)/(n-1))"""
    g = math.sin(0.9 * k + 1.7 * i) * (1 + 0.5 * (k % 3)) + 0.05 * math.cos(0.3 * k * i)
    return f32(g * 10 ** (-6 * (i - 1) / (n - 1)))


class NAdamFixed(torch.optim.Optimizer):
    """torch 1.13's NAdam step (torch/optim/nadam.py, _single_tensor_nadam) with the fix of
    pytorch/pytorch#92699 (PyTorch 2.0): 1.13 computes mu_product_next = mu_product * mu *
    mu_next, multiplying mu twice; the documented algorithm and later releases use
    mu_product * mu_next, and so does optlab."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            beta1, beta2 = g["betas"]
            for p in g["params"]:
                st = self.state[p]
                if not st:
                    st["step"], st["mu_product"] = 0, 1.0
                    st["exp_avg"], st["exp_avg_sq"] = torch.zeros_like(p), torch.zeros_like(p)
                st["step"] += 1
                step = st["step"]
                grad = p.grad if g["weight_decay"] == 0 else p.grad.add(p, alpha=g["weight_decay"])
                bias_correction2 = 1 - beta2 ** step
                mu = beta1 * (1. - 0.5 * (0.96 ** (step * g["momentum_decay"])))
                mu_next = beta1 * (1. - 0.5 * (0.96 ** ((step + 1) * g["momentum_decay"])))
                st["mu_product"] *= mu
                mu_product_next = st["mu_product"] * mu_next
                st["exp_avg"].mul_(beta1).add_(grad, alpha=1 - beta1)
                st["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denom = st["exp_avg_sq"].div(bias_correction2).sqrt().add_(g["eps"])
                p.addcdiv_(grad, denom, value=-g["lr"] * (1. - mu) / (1. - st["mu_product"]))
                p.addcdiv_(st["exp_avg"], denom, value=-g["lr"] * mu_next / (1. - mu_product_next))


def optim_class(cls):
    if cls == "NAdam" and int(torch.__version__.split(".")[0]) < 2:
        return NAdamFixed
    return getattr(torch.optim, cls)


def optim_run(cls, kw, linear, dtype, n=8, steps=100, grad=None):
    grad = grad or ref_grad
    p = torch.tensor([ref_param0(i) for i in range(1, n + 1)], dtype=dtype, requires_grad=True)
    o = optim_class(cls)([p], **kw)
    rows = []
    for k in range(1, steps + 1):
        if linear:      # the textbook's linear schedule (Section 8.3.1) at update k-1: lr_k = (1 - a) from + a to, a = k/steps
            a = min((k - 1) / linear["steps"], 1.0)
            for gr in o.param_groups:
                gr["lr"] = (1 - a) * linear["from"] + a * linear["to"]
        p.grad = torch.tensor([grad(k, i) for i in range(1, n + 1)], dtype=dtype)
        o.step()
        rows.append([float(x) for x in p.detach().tolist()])
    return rows


def gen_optim():
    out = []
    for name, cls, kw, hp in OPTIM:
        linear = LIN if name.endswith("_linear") else None
        hp = dict(hp)
        hp["convention"] = "torch"
        what = "torch.optim.%s(%s)" % (cls, ", ".join("%s=%r" % kv for kv in sorted(kw.items())))
        if optim_class(cls) is NAdamFixed:
            what += " of torch %s with the fix of pytorch#92699" % torch.__version__
        out.append({"name": name, "opt": OPTLAB_NAME.get(cls, cls), "torch": what,
                    "hp": hp, "linear": linear,
                    "f32": optim_run(cls, kw, linear, torch.float32),
                    "f64": [[x for x in r] for r in optim_run(cls, kw, linear, torch.float64)]})
    span = lambda k, i: span_grad(k, i, 8)
    for name, cls, kw, hp in OPTIM_DEFAULTS:
        what = "torch.optim.%s(%s)" % (cls, ", ".join("%s=%r" % kv for kv in sorted(kw.items())))
        if optim_class(cls) is NAdamFixed:
            what += " of torch %s with the fix of pytorch#92699" % torch.__version__
        out.append({"name": name, "opt": OPTLAB_NAME.get(cls, cls), "torch": what, "get": "torch",
                    "grads": "span", "hp": hp, "linear": None,
                    "f32": optim_run(cls, kw, None, torch.float32, steps=120, grad=span),
                    "f64": [[x for x in r] for r in optim_run(cls, kw, None, torch.float64, steps=120, grad=span)]})
    return out


def ser64(v):
    """serial text with full double precision for the float64 trajectories"""
    if isinstance(v, float):
        s = repr(v)
        return s if ("." in s or "e" in s or "n" in s) else s + ".0"
    if isinstance(v, list):
        return "{" + ",".join(ser64(x) for x in v) + "}"
    if isinstance(v, dict):
        return "{" + ",".join("[%s]=%s" % (ser(k), ser64(x) if k == "f64" else ser(x)) for k, x in v.items() if x is not None) + "}"
    return ser(v)


# ---------------------------------------------------------------- main

def write(path, header, progs, fn=ser):
    with open(path, "w") as f:
        f.write("{\n")
        for p in progs:
            f.write(fn(p) + ",\n")
        f.write("}\n")
    print("%s: %d entries, %d bytes (%s)" % (os.path.relpath(path, ROOT), len(progs), os.path.getsize(path), header))


def main():
    which = sys.argv[1:] or ["random", "targeted", "optim"]
    if "targeted" in which:
        reg_targeted()
        rng = random.Random(20261130)
        progs, dropped = [], []
        for name, build in TARGETED:
            fixed = name.startswith(("x^0", "norm of a zero", "round half", "x*x + 3*x", "std of", "var of equal"))
            p = None
            for attempt in range(8):
                prog = build(rng)
                if prog is None:
                    break
                p = finalize(prog, check=not fixed, local=True)
                if p is not None:
                    break
            if p is None and prog is not None:
                print("  conditioning check failed 8 times: %s" % name)
            if p is None:
                dropped.append(name)
            else:
                p["name"] = name
                progs.append(p)
        if dropped:
            print("targeted cases dropped (torch rejects them): " + "; ".join(dropped))
        write(os.path.join(OUT, "diff_targeted.txt"), "targeted", progs)
    if "random" in which:
        rng = random.Random(12)
        progs, tried = [], 0
        while len(progs) < N_RANDOM:
            tried += 1
            prog = random_program(rng, len(progs) + 1)
            if prog is None:
                continue
            p = finalize(prog, local=True)
            if p is not None and "error" not in p:
                progs.append(p)
        print("random programs: %d kept of %d built" % (len(progs), tried))
        write(os.path.join(OUT, "diff_random.txt"), "random", progs)
    if "optim" in which:
        write(os.path.join(OUT, "torch_optim.txt"), "optimizers", gen_optim(), ser64)


if __name__ == "__main__":
    main()
