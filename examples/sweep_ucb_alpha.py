"""Sweep UCB's confidence width alpha over 16 values in one vmapped, jitted call.

Hyperparameters are arrays passed at call time (never closed over), so a leading axis on a leaf is
a sweep: ``simulate`` vmaps over it, compiles once, and returns regret [16, seeds, checkpoints].
Every alpha meets the same users, prompts and feedback noise (the same key). The registry's ``ucb``
is the UCB core in a warm-start wrapper (``warm_start`` = 0 here): ``set_hparams`` finds ``alpha``
inside it by name.

    python examples/sweep_ucb_alpha.py [--horizon 2000] [--seeds 16] [--family f1]
"""
import argparse
import time

import numpy as np
import jax
import jax.numpy as jnp

import jaxpa
from jaxpa import make_family, make_learner, set_hparams, simulate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--horizon", type=int, default=2000)
    p.add_argument("--seeds", type=int, default=16)
    p.add_argument("--family", default="f1")
    p.add_argument("--feedback", default="bt_ref")
    args = p.parse_args()

    inst = make_family(args.family, jax.random.key(1000))
    feedback = jaxpa.make_feedback(args.feedback)
    learner = make_learner("ucb", feedback)
    alphas = jnp.geomspace(0.05, 5.0, 16)
    hp = set_hparams(learner.default_hparams(), ridge=1.0, alpha=alphas, growth=1.0)
    t0 = time.perf_counter()
    curves = simulate(jax.random.key(0), inst, feedback, learner, hp, horizon=args.horizon,
                      n_seeds=args.seeds)  # one call, 16 x seeds runs
    regret = np.asarray(curves.regret)  # [16, seeds, C]
    print(f"{args.family}, {args.feedback}, T = {args.horizon}, {args.seeds} seeds, "
          f"regret {regret.shape}, {time.perf_counter() - t0:.1f} s (compile included)")
    print(" alpha   R(T) mean ± 95% CI")
    for a, r in zip(np.asarray(alphas), regret[:, :, -1]):
        print(f"{a:6.3f}  {r.mean():9.1f} ± {1.96 * r.std(ddof=1) / np.sqrt(r.size):.1f}")
    print(f"best alpha here: {float(alphas[np.argmin(regret[:, :, -1].mean(1))]):.3f}")


if __name__ == "__main__":
    main()
