"""The bodies of the entry points (the top of the layer stack).

- :mod:`.train`: ``python train.py`` -- build the module, data and trainer from Hydra, fit;
- :mod:`.test`: ``python test.py`` -- swap faces into files, or evaluate a swapper.

The repository-root scripts only compose the Hydra config and call these. Nothing in
``reliableswap`` imports this package; it may import every other ``reliableswap`` package.
"""
