"""The web demo: ``python -m reliableswap.app ckpt=CKPT`` (or ``baseline=copy_target``).

:mod:`.service` holds what the page does (swap an upload, build one triplet) without the web,
:mod:`.ui` the Gradio page, :mod:`.server` the wiring from ``configs/app.yaml``. This is the top
application layer: it is the one part of ``reliableswap`` that uses the triplet builder
(``supervision``), for its Triplet tab.
"""
