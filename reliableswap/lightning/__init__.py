"""Lightning training: the modules ``train.py`` fits and the callbacks that watch them.

- :mod:`.swap_module`: :class:`FaceSwapModule` (G then D, manual optimisation, vanilla and triplet
  steps); generator-specific passes come from the configured objective (:mod:`reliableswap.losses.objective`);
- :mod:`.fixernet_module`: :class:`FixerNetModule` (FixerNet identity classification);
- :mod:`.callbacks`: swap and triplet image grids;
- :mod:`.health`: :class:`HealthMonitor`, "does it swap?" on held-out faces with an independent judge.

The run is built from the config by :func:`reliableswap.apps.train.build_run`.
"""
