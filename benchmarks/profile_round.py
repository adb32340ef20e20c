"""Where a round's time goes: run a compiled jaxpa program under ``jax.profiler``, read the time
of every XLA operation from the trace, and attribute it to the part of the algorithm whose Python
code produced it (the source stack XLA keeps in the compiled module's metadata).

A fused XLA kernel often mixes parts (say, the Gumbel noise and the key splitting); its time is
shared among them in proportion to their instruction counts. Time not inside any kernel (the
loop's own dispatch) is reported as "runtime overhead".
"""
from __future__ import annotations

import collections
import glob
import gzip
import json
import os
import re
import tempfile

import jax

# (category, function names on the source stack): the first rule that matches wins
RULES = (
    ("tie-break draw (one uniform, j-th of the ties)", ("random_argmax",)),
    ("user & prompt draw (inverse CDF)", ("draw_context", "inverse_cdf")),
    ("warm-start uniform draw", ("uniform_index", "uniform_action")),
    ("exploration schedule (warm-start test)", ("explore_when", "exploration_rounds")),
    ("V_inv rank-one update and Newton step (w w^T, theta += w a / c)",
     ("glm_update_rank_one", "sherman_morrison", "glm_update")),
    ("featurize z = h (x) phi", ("featurize",)),
    ("likelihood terms (g, a, h)", ("rank_one", "newton_terms", "bernoulli_terms", "difference")),
    ("feedback draw (Bernoulli)", ("sample",)),
    ("true rewards & regret", ("context_rewards", "regret", "extra_regrets")),
    ("greedy scores & action", ("act",)),
    ("round keys (fold_in, split)", ("play_round",)),
)
OTHER = "loop bookkeeping (Kahan sum, checkpoints)"
OVERHEAD = "runtime overhead (outside kernels)"


def _tables(hlo: str):
    """The source tables of a compiled module's text: frame id -> [function names, innermost
    first]."""
    def section(name, nxt):
        return hlo.split("\n" + name + "\n", 1)[1].split("\n" + nxt + "\n", 1)[0] if (
            "\n" + name + "\n") in hlo else ""
    functions = dict(re.findall(r'^(\d+) "(.*)"$', section("FunctionNames", "FileLocations"), re.M))
    locations = dict(re.findall(r"^(\d+) \{file_name_id=\d+ function_name_id=(\d+)",
                                section("FileLocations", "StackFrames"), re.M))
    frames = {int(i): (loc, int(parent)) for i, loc, parent in re.findall(
        r"^(\d+) \{file_location_id=(\d+) parent_frame_id=(\d+)\}", hlo.split("\nStackFrames\n",
                                                                             1)[-1], re.M)}

    def stack(frame: int) -> list[str]:
        names = []
        while frame in frames and len(names) < 64:
            loc, parent = frames[frame]
            names.append(functions.get(locations.get(loc, ""), "?"))
            frame = parent - 1  # parent ids are printed 1-based (0: none)
        return names
    return stack


V_MATVEC = "V_inv matrix-vector product (w = V_inv g)"
DOTS = "other dot products (scores, rewards)"


def categorize(hlo: str, p: int | None = None) -> dict[str, dict[str, float]]:
    """For every instruction of a compiled module: {category: share of its time}. Dots lose
    their source metadata in XLA's CPU pipeline: those with a [.., p, 1] result (p: the learner's
    dimension) are V_inv's matrix-vector products, the others scores and rewards."""
    stack = _tables(hlo)

    def category(frame: int | str | None) -> str:
        if frame is None:
            return OTHER
        if isinstance(frame, str):
            return frame
        names = stack(frame)
        for cat, funcs in RULES:
            if any(n == f or n.endswith("." + f) or n.endswith(">." + f) for n in names
                   for f in funcs):
                return cat
        return OTHER

    # computations: name -> list of (instruction, called computation, frame)
    comps, current = {}, None
    for line in hlo.splitlines():
        head = re.match(r"^(?:ENTRY )?%(\S+) .*\{$", line)
        if head:
            current = comps.setdefault(head.group(1), [])
            continue
        m = re.match(r"^\s+(?:ROOT )?%(\S+) = .*", line)
        if m and current is not None:
            calls = re.search(r"calls=%([\w.\-]+)", line)
            frame = re.search(r"stack_frame_id=(\d+)", line)
            dot = re.search(r"= f32\[([\d,]*)\]\S* dot\(", line)
            if dot:
                dims = dot.group(1).split(",")
                calls = None
                frame = V_MATVEC if dims[-2:] == [str(p), "1"] else DOTS
            current.append((m.group(1), calls.group(1) if calls else None,
                            frame if isinstance(frame, str) else
                            int(frame.group(1)) if frame else None))
    shares = {}
    for instrs in comps.values():
        for name, called, frame in instrs:
            if called and called in comps:
                counts = collections.Counter(category(f) for _, _, f in comps[called]
                                             if f is not None)
                total = sum(counts.values())
                shares[name] = ({c: n / total for c, n in counts.items()} if total
                                else {category(frame): 1.0})
            else:
                shares[name] = {category(frame): 1.0}
    return shares


def profile(compiled, args, n_seed_rounds: int, p: int, repeats: int = 2) -> dict:
    """Run ``compiled(*args)`` under the profiler: {category: ns per seed-round} (sorted), with
    the program's run time per seed-round under "total". p: the learner's dimension."""
    shares = categorize(compiled.as_text(), p)
    jax.block_until_ready(compiled(*args))
    with tempfile.TemporaryDirectory() as d:
        with jax.profiler.trace(d, create_perfetto_trace=True):
            for _ in range(repeats):
                jax.block_until_ready(compiled(*args))
        path = sorted(glob.glob(os.path.join(d, "**", "perfetto_trace.json.gz"), recursive=True))
        events = json.load(gzip.open(path[-1]))
    events = events["traceEvents"] if isinstance(events, dict) else events
    spans = [e for e in events if e.get("ph") == "X"]
    total, end = 0.0, -1.0  # outermost executor spans: the programs' own run time
    for e in sorted((e for e in spans if e["name"] == "ThunkExecutor::Execute"),
                    key=lambda e: e["ts"]):
        if e["ts"] >= end:
            total += e["dur"]
            end = e["ts"] + e["dur"]
    per_cat = collections.Counter()
    for e in spans:
        name = e["name"]
        if name in shares and not name.startswith(("while", "cond", "call")):
            for cat, w in shares[name].items():
                per_cat[cat] += e["dur"] * w
    if total:
        per_cat[OVERHEAD] = max(total - sum(per_cat.values()), 0.0)
    scale = 1e3 / (n_seed_rounds * repeats)  # trace durations are in microseconds
    out = {c: round(v * scale, 1) for c, v in per_cat.most_common()}
    out["total"] = round((total or sum(per_cat.values())) * scale, 1)
    return out
