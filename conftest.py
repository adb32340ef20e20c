import os

# Tests run on the CPU. Their programs are tiny, so XLA's expensive optimisation passes cost more
# compile time than they save run time: turn them off for the test process (and the subprocesses
# it starts, which inherit the environment). Numbers are compared within one configuration only.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0 "
                                   "--xla_llvm_disable_expensive_passes=true")
