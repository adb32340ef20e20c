"""The offline protocol (MODEL.md §3): datasets logged by a policy, the exact ridge MLE on them,
the plug-in policy's exact suboptimality, and the decay rate of SubOpt(n)."""
from jaxpa.offline.curves import projected_truth, subopt_curves
from jaxpa.offline.logging import (POLICY_ALIASES, design_rows, instance_rows, log_dataset,
                                   log_datasets, logging_policy, row_ids, sufficient_stats)
from jaxpa.offline.mle import ridge_mle, ridge_mle_weighted
from jaxpa.offline.subopt import (n_epsilon, plug_in_policy, plug_in_scores, suboptimality,
                                  true_theta)
