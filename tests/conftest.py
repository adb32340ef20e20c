import os

# Tests run on the CPU with the default (float32) precision; keep XLA from grabbing every core's
# worth of threads for tiny programs.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
