"""Step 1 of the cycle-triplet recipe: reenact A with B's pose and expression.

Backends (all implement :class:`supervision.protocols.Reenactor`):

- :class:`~supervision.reenact.landmark_reenactor.LandmarkReenactor` — offline: sparse BFM
  landmark transfer (:mod:`.bfm68`) + thin-plate-spline warp (:mod:`.warp`);
- :class:`~supervision.reenact.lia.LIAReenactor` — official: LIA generator (``vox.pt``).

Heavy imports stay in the submodules; import the backend you need from there.
"""
