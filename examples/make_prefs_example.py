"""Write examples/data/prefs_example.csv: a small simulated preference log for `jaxpa audit`.

32 simulated users (8 taste types x 4) each compare the 3 candidate responses of 15 prompts drawn
from 20 (conditional logit on 3 response features), with the non-personalized model's answer
marked as the reference; two users stop after 4 choices (thin users, served the population fit).
The population is ``matched_populations``' diverse one, so user diversity holds by construction.

    python examples/make_prefs_example.py
"""
from pathlib import Path

import jax

from jaxpa.audit.reading import LogColumns
from jaxpa.audit.synthetic import matched_populations, synthetic_log

FEATURES = ["length", "formality", "detail"]


def main() -> None:
    inst = matched_populations(jax.random.key(0), copies=4)[0]
    cols = LogColumns(reference="reference", context="prompt")
    df = synthetic_log(jax.random.key(1), inst, 15, columns=cols, feature_names=FEATURES)
    df = df[~(df.user.isin([30, 31]) & (df.choice_set > 4))]  # two thin users
    df[FEATURES] = df[FEATURES].round(4)
    path = Path(__file__).with_name("data") / "prefs_example.csv"
    df.to_csv(path, index=False)
    print(f"wrote {path}: {len(df)} rows, {df.user.nunique()} users, "
          f"{path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
