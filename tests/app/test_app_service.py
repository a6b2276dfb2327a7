"""The web demo's services without the web: swaps, triplets and every bad upload's one-line message."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from reliableswap.app.server import AppUsageError, build_services, compose_builder_config
from reliableswap.app.service import DemoInputError, UploadLimits, check_upload
from reliableswap.config import register_resolvers
from tests.inference.conftest import REPO

pytest_plugins = ["tests.inference.conftest"]


def _app_cfg(overrides: list[str]):
    register_resolvers()
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        return compose(config_name="app", overrides=["device=cpu", "examples=false", *overrides])


@pytest.fixture(scope="module")
def copy_services(tmp_path_factory, scrfd, celeba_images):
    """Copy-target swapper (works before any training) + the triplet tab with the offline builder."""
    swap, triplet, name = build_services(_app_cfg(["baseline=copy_target"]), tmp_path_factory.mktemp("app"))
    return swap, triplet, name


def test_check_upload_refuses_bad_files_in_one_line(tmp_path):
    limits = UploadLimits(max_bytes=1000)
    text = tmp_path / "notes.jpg"
    text.write_text("not an image at all")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    cases = {None: "no source given", str(tmp_path / "gone.png"): "upload is gone", str(text): "source: not an image",
             str(empty): "empty", str(big): "over the demo's limit of"}
    for path, expected in cases.items():
        with pytest.raises(DemoInputError) as err:
            check_upload(path, "source", limits)
        assert expected in str(err.value) and "\n" not in str(err.value)
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\0" * 10)
    assert check_upload(video, "target", limits, kinds=("image", "video")) == video
    with pytest.raises(DemoInputError, match="source: not an image"):
        check_upload(video, "source", limits)


def test_swap_image_with_copy_baseline_reports_faces(copy_services, wild):
    swap, _, name = copy_services
    assert name == "baseline copy_target"
    outcome = swap.swap(wild / "_portraits" / "taylor.png", wild / "_edge_cases" / "two_people.jpg", faces="all")
    assert outcome.kind == "image" and outcome.output is not None and outcome.output.is_file()
    item = outcome.report["inputs"][0]
    assert item["status"] == "swapped" and item["faces_found"] == 2 and item["faces_swapped"] == 2
    assert item["path"] == "two_people.jpg" and item["output"] == outcome.output.name  # no server folders shown
    largest = swap.swap(wild / "_portraits" / "taylor.png", wild / "_edge_cases" / "two_people.jpg", faces="largest")
    assert largest.report["inputs"][0]["faces_swapped"] == 1
    assert outcome.output != largest.output  # one folder per request: no request overwrites another's result


def test_swap_errors_are_messages(copy_services, wild, tmp_path):
    swap, _, _ = copy_services
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 128, np.uint8))
    with pytest.raises(DemoInputError, match="no face found in the source"):
        swap.swap(blank, wild / "barack_obama" / "1.jpg")
    with pytest.raises(DemoInputError, match="faces must be one of"):
        swap.swap(wild / "barack_obama" / "1.jpg", blank, faces="everyone")
    passthrough = swap.swap(wild / "barack_obama" / "1.jpg", blank)
    assert passthrough.message and "no face found in the target" in passthrough.message
    assert passthrough.report["inputs"][0]["status"] == "passthrough"


def test_triplet_from_two_photos_gives_sheet_and_verdicts(copy_services, celeba_images, tmp_path):
    _, triplet, _ = copy_services
    a, b = sorted(celeba_images.glob("*.jpg"))[:2]
    outcome = triplet.build(a, b)
    assert outcome.ab.shape == outcome.ba.shape == (256, 256, 3)
    assert outcome.sheet.shape[0] > 2 * 192 and outcome.sheet.shape[1] >= 8 * 192  # two rows, every stage
    for direction in ("AB", "BA"):
        summary = outcome.summary[direction]
        assert summary["verdict"] == "accepted" or summary["verdict"].startswith("REJECTED")
        assert summary["accepted"] == (summary["verdict"] == "accepted")
        assert "id_sim_source" in summary["quality"]
    # AB is a new image: not A, not B
    assert np.abs(outcome.ab.astype(int) - outcome.ba.astype(int)).mean() > 5
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((300, 300, 3), 90, np.uint8))
    with pytest.raises(DemoInputError, match="no face found in photo B"):
        triplet.build(a, blank)


def test_no_swapper_is_a_usage_error(tmp_path, scrfd):
    with pytest.raises(AppUsageError, match="give exactly one of ckpt"):
        build_services(_app_cfg([]), tmp_path)
    with pytest.raises(AppUsageError, match="checkpoint not found"):
        build_services(_app_cfg([f"ckpt={tmp_path / 'missing.ckpt'}"]), tmp_path)


def test_builder_overrides_reach_the_triplet_config():
    register_resolvers()
    cfg = compose_builder_config(["builder/inpainter=deepfill_v2", "settings.size=128"], "cpu")
    assert cfg.settings.size == 128 and "deepfill" in cfg.inpainter._target_.lower() and cfg.device == "cpu"
    assert Path(REPO / "configs" / "app.yaml").is_file()


def test_triplet_overrides_as_documented_compose():
    cfg = _app_cfg(['triplet_overrides=["builder/reenactor=lia","parser=dml_csr"]', "baseline=copy_target"])
    assert list(cfg.triplet_overrides) == ["builder/reenactor=lia", "parser=dml_csr"]
    builder = compose_builder_config(list(cfg.triplet_overrides), "cpu")
    assert builder.reenactor._target_.endswith("LIAReenactor") and builder.parser._target_.endswith("DMLCSRParser")
    for text in (REPO / "README.md").read_text(), (REPO / "configs" / "app.yaml").read_text():
        assert "triplet_overrides=[builder" not in text and "triplet_overrides='[builder" not in text


def test_missing_weights_in_a_handler_name_the_file_in_the_page():
    import gradio as gr

    from reliableswap.app.ui import _user_facing
    from reliableswap.weights import MissingWeightsError

    def build():
        try:
            raise MissingWeightsError("Pretrained weights 'lia_vox256' (LIA) not found at /x/vox.pt.\n  Get it from: LIA")
        except MissingWeightsError as exc:
            raise RuntimeError("Error in call to target 'supervision.reenact.lia.LIAReenactor':") from exc

    with pytest.raises(gr.Error) as err:
        _user_facing(build, "triplet")
    assert "lia_vox256" in err.value.message and "/x/vox.pt" in err.value.message and "\n" not in err.value.message
