"""Training data: datasets, transforms and the Lightning DataModules that serve them.

- :mod:`.base_datamodule`: :class:`FaceDataModule`, the loader settings and face rows every DataModule shares;
- :mod:`.datamodule`: vanilla swap pairs (:class:`FaceSwapDataModule`, split by identity);
- :mod:`.pairs`: the pair dataset and its seeded same/different draws;
- :mod:`.triplets`: triplet samples from ``triplets.csv`` and :class:`MixedSwapDataModule`;
- :mod:`.identity_dataset`: identity classification data (FixerNet training);
- :mod:`.batch`: :class:`TrainingBatch`, the typed batch the training module reads, and ``pick_batch``;
- :mod:`.transforms`: alignment-preserving augmentation and uint8 <-> [-1, 1] tensor conversion.

Files (images, index CSVs, ``triplets.csv``) are read with :mod:`reliableswap.io`.
"""
