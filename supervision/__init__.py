"""Offline synthesis of reliable (cycle-triplet) supervision for face swapping.

``python -m supervision.build_triplets`` builds on :mod:`reliableswap` (face analysis, parsing and
colour transfer come from :mod:`reliableswap.faces`); nothing in ``reliableswap`` imports this
package. Stages: :mod:`.reenact` (A driven by B), :mod:`.blend`, :mod:`.reshape`, :mod:`.inpaint`,
:mod:`.enhance`, :mod:`.quality`; :mod:`.pipeline` runs them, :mod:`.storage` writes the output.
"""
