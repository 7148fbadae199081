"""plantlake: the simulated plant, and the plant model file that describes it to plantlake."""

from pathlib import Path

# What the simulator's sources mean, written as any plant's model file is.
MODEL_FILE = Path(__file__).with_name("plant-model.yaml")
