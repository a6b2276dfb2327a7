"""reliableswap: face swapping trained with reliable (cycle-triplet) supervision.

Packages in layers, lowest first (``ARCHITECTURE.md``; enforced by ``tests/test_layers.py``):
``io`` | ``faces``, ``models``, ``losses`` | ``data``, ``swapping`` | ``inference``,
``evaluation``, ``lightning`` | ``apps``. The triplet builder, ``supervision``, sits on top.
"""

__version__ = "0.1.0"
