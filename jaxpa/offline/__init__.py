"""The offline protocol (MODEL.md §3): datasets logged by a policy, the exact ridge MLE on them,
the plug-in policy's exact suboptimality, and the decay rate of SubOpt(n).

Every function that depends on the feedback takes its model (a ``FeedbackModel`` or its name) and
asks it (rows, action laws, likelihood, Fisher weights); models without single-index rows (mnl)
are refused before anything compiles."""
from jaxpa.offline.curves import projected_truth, subopt_curves
from jaxpa.offline.logging_policies import (POLICY_ALIASES, check_policy, design_rows, instance_rows,
                                   log_dataset, log_datasets, logging_policy, row_ids,
                                   sufficient_stats)
from jaxpa.offline.mle import objective, offline_model, ridge_mle, ridge_mle_weighted
from jaxpa.offline.sampled import (STATIONARY, row_margins, row_means, row_probs, sample_log)
from jaxpa.offline.subopt import (n_epsilon, plug_in_policy, plug_in_scores, suboptimality,
                                  true_theta)
from jaxpa.offline.theory import gaussian_rate, information
