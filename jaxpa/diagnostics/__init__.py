"""User-diversity diagnostics of instances and statistics of regret curves (MODEL.md §5)."""
from jaxpa.diagnostics.curve_stats import (CurveStats, curve_stats, curve_verdict, growth, lock_in,
                                           log_slope,
                                           plateau_test, seed_slopes, stats_summary,
                                           stuck_fraction)
from jaxpa.diagnostics.instance_diagnostics import (Diagnostics, decision_gram, diagnose,
                                                    diagnose_checked, optimal_play_factors,
                                                    optimal_play_information)
from jaxpa.diagnostics.fixed_points import (LockSet, escape_time, observed_pattern,
                                            self_consistent_locks)
from jaxpa.diagnostics.lock_persistence import permanent_lock, wilson_interval
from jaxpa.diagnostics.report import (diagnostics_summary, expectation, explain,
                                      format_diagnostics, summarize_instance)
