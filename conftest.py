import os

# Tests run on the CPU. Their programs are tiny, so XLA's expensive optimisation passes cost more
# compile time than they save run time: turn them off for the test process (and the subprocesses
# it starts, which inherit the environment). Numbers are compared within one configuration only.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0 "
                                   "--xla_llvm_disable_expensive_passes=true")

# Importing jaxpa changes nothing in JAX; the unrolled Threefry lowering (the same bits, faster on
# the CPU) is an explicit opt-in, taken here for the whole test process so the tests stay fast.
# Subprocesses do not inherit it: tests/test_import_side_effects.py checks in a fresh process that
# ``import jaxpa`` alone leaves JAX's lowering rules as they were.
import jaxpa  # noqa: E402

FAST_RANDOM = jaxpa.fast_cpu_random()
