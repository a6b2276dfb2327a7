"""Shared file ground of every stage (layer 0: imports nothing else from the project).

- :mod:`reliableswap.io.atomic`: the one atomic write (temporary file + rename, umask respected);
- :mod:`reliableswap.io.images`: reading any image as ``HxWx3`` uint8 RGB, writing images atomically;
- :mod:`reliableswap.io.index`: the dataset index CSV (path, identity, quality, size) and folder scans;
- :mod:`reliableswap.io.rows`: "a folder or an index CSV" -> index rows, one set of rules for all;
- :mod:`reliableswap.io.csv_rows`: whole-row CSV appends shared by concurrent processes;
- :mod:`reliableswap.io.triplets_csv`: the ``triplets.csv`` format written by the triplet builder
  and read by training and evaluation.
"""
