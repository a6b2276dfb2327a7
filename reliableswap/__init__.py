"""reliableswap: face swapping trained with reliable (cycle-triplet) supervision."""

__version__ = "0.1.0"
