"""The Gradio page of the web demo: a swap tab and a triplet tab over :mod:`reliableswap.app.service`.

Every handler turns :class:`DemoInputError` into a message in the page (``gr.Error``) and any
other failure into one line naming its type (the traceback goes to the server log): a user never
sees a stack trace. Long jobs report progress (the video swap's frame bar is followed through
``track_tqdm``). The named endpoints ``/swap`` and ``/triplet`` are what ``gradio_client`` calls.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr

from reliableswap.app.service import FACES_CHOICES, DemoInputError, SwapService, TripletService, check_upload
from reliableswap.inference.images import VIDEO_SUFFIXES, kind_of
from reliableswap.io.images import IMAGE_SUFFIXES
from reliableswap.weights import weights_error_in

log = logging.getLogger(__name__)

T = TypeVar("T")

TITLE = "reliableswap web demo"
#: what the upload widgets offer: the image formats the reader decodes, the videos OpenCV reads
IMAGE_TYPES, VIDEO_TYPES = sorted(IMAGE_SUFFIXES), sorted(VIDEO_SUFFIXES)
PREVIEW_PX = 220
RESULT_PX = 420
REPORT_LINES = 24

INTRO = """# reliableswap: face swapping with reliable supervision
**Swap** puts the largest face of the source photo into the target photo or short video.
**Triplet** builds one cycle triplet from two photos as the triplet builder does (A, B, A', masks, AB, BA)
with the quality filter's verdict. Uploads stay on this machine."""


def _user_facing(call: Callable[[], T], what: str) -> T:
    """``call()``; a bad upload becomes its own message in the page, anything else one line + the log."""
    try:
        return call()
    except DemoInputError as exc:
        raise gr.Error(str(exc), print_exception=False) from None
    except Exception as exc:  # noqa: BLE001 - the page gets one line, the log the traceback
        log.exception("%s failed", what)
        missing = weights_error_in(exc)
        if missing is not None:  # a backend's weights file: which one, where, how to get it
            raise gr.Error(f"{what}: {' '.join(str(missing).split())}", print_exception=False) from None
        raise gr.Error(f"{what} failed ({type(exc).__name__}): {str(exc).splitlines()[0] if str(exc) else ''}",
                       print_exception=False) from None


def build_blocks(swap: SwapService, triplet: TripletService | None, swapper_name: str,
                 examples: Sequence[tuple[str, str]] = (), triplet_examples: Sequence[tuple[str, str]] = (),
                 note: str | None = None) -> gr.Blocks:
    """The page. ``examples``: (source, target) paths offered as one-click inputs (may be empty);
    ``note``: what to expect of this swapper's quality, shown under its name."""

    def preview(upload: str | None) -> str | None:
        """The upload itself when it is an image within the limits (None for a video or nothing); a
        bad upload is a warning here and the error of the button that would use it."""
        if not upload or kind_of(Path(upload)) == "video":
            return None
        try:
            return str(check_upload(upload, Path(upload).name, swap.limits))
        except DemoInputError as exc:
            gr.Warning(str(exc))
            return None

    def upload_with_preview(label: str, preview_label: str, types: list[str], elem_id: str) -> gr.File:
        """An upload box (``elem_id``) over an image preview of what was uploaded (in its own column)."""
        with gr.Column():
            upload = gr.File(label=label, file_types=types, elem_id=elem_id)
            view = gr.Image(label=preview_label, interactive=False, height=PREVIEW_PX)
        upload.change(preview, upload, view, api_name=False)
        return upload

    def do_swap(source: str | None, target: str | None, faces: str,
                progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[Any, Any, str]:
        progress(0.0, desc="detecting faces")
        outcome = _user_facing(lambda: swap.swap(source, target, faces), "swap")
        if outcome.message:
            gr.Warning(outcome.message)
        path = str(outcome.output) if outcome.output else None
        image, video = (path, None) if outcome.kind == "image" else (None, path)
        return image, video, json.dumps(outcome.report, indent=1)

    def do_triplet(photo_a: str | None, photo_b: str | None,
                   progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[Any, Any, Any, str]:
        if triplet is None:
            raise gr.Error("the triplet tab is switched off on this server (triplet_tab=false)")
        progress(0.0, desc="reenacting, parsing, blending")
        outcome = _user_facing(lambda: triplet.build(photo_a, photo_b), "triplet")
        return outcome.sheet, outcome.ab, outcome.ba, json.dumps(outcome.summary, indent=1)

    # Gradio's copies of uploads and results older than an hour go, checked every half hour
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(1800, 3600)) as blocks:
        gr.Markdown(INTRO)
        gr.Markdown(f"Swapper: `{swapper_name}` · limit {swap.limits.max_bytes / 2**20:.0f} MB per upload, "
                    f"videos cut to {swap.limits.max_video_frames} frames" + (f"  \n*{note}*" if note else ""))
        with gr.Tab("Swap", id="swap"):
            with gr.Row():
                source = upload_with_preview("Source photo (identity)", "Source", IMAGE_TYPES, "source")
                target = upload_with_preview("Target photo or short video", "Target", IMAGE_TYPES + VIDEO_TYPES,
                                             "target")
            faces = gr.Radio(list(FACES_CHOICES), value="largest", label="Faces to replace in the target",
                             elem_id="faces")
            run = gr.Button("Swap", variant="primary", elem_id="swap_button")
            with gr.Row():
                result_image = gr.Image(label="Result", elem_id="result_image", interactive=False, height=RESULT_PX)
                result_video = gr.Video(label="Result video", elem_id="result_video", interactive=False,
                                        height=RESULT_PX)
            report = gr.Code(label="Run report (faces found and swapped; per frame for a video)", language="json",
                             elem_id="report", max_lines=REPORT_LINES)
            run.click(do_swap, [source, target, faces], [result_image, result_video, report], api_name="swap",
                      concurrency_id="model")
            if examples:
                gr.Examples([list(e) for e in examples], [source, target], label="Example photos")
        with gr.Tab("Triplet", id="triplet"):
            with gr.Row():
                photo_a = upload_with_preview("Photo A", "A", IMAGE_TYPES, "photo_a")
                photo_b = upload_with_preview("Photo B", "B", IMAGE_TYPES, "photo_b")
            build = gr.Button("Build triplet", variant="primary", elem_id="triplet_button")
            sheet = gr.Image(label="Stages (rows AB, BA): A, B, A', parser labels, blend mask, ..., result",
                             elem_id="sheet", interactive=False)
            with gr.Row():
                ab = gr.Image(label="AB (A's identity in B)", elem_id="ab", interactive=False)
                ba = gr.Image(label="BA (B's identity in A)", elem_id="ba", interactive=False)
            verdict = gr.Code(label="Quality filter", language="json", elem_id="verdict", max_lines=REPORT_LINES)
            build.click(do_triplet, [photo_a, photo_b], [sheet, ab, ba, verdict], api_name="triplet",
                        concurrency_id="model")
            if triplet_examples:
                gr.Examples([list(e) for e in triplet_examples], [photo_a, photo_b], label="Example photos")
    return blocks


def example_pairs(root: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(swap examples, triplet examples) from the shared wild photos when present, else empty."""
    pairs = [("_portraits/taylor.png", "barack_obama/1.jpg"), ("_portraits/macron.png", "_edge_cases/two_people.jpg")]
    swap = [(str(root / s), str(root / t)) for s, t in pairs if (root / s).is_file() and (root / t).is_file()]
    trip = [(str(root / a), str(root / b)) for a, b in [("_portraits/taylor.png", "_portraits/macron.png")]
            if (root / a).is_file() and (root / b).is_file()]
    return swap, trip
