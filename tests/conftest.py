"""Shared fixtures and the test tiers.

Markers (registered in pyproject.toml): csim, rtl, vivado, board, slow. ``slow`` tests are
skipped unless selected with ``-m slow`` (or any -m expression naming slow).
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config, items):
    if "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with 'pytest -m slow'")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def model_files():
    """(cfg, weights, names) of the fetched, sha256-verified darknet yolov3-tiny."""
    from zynqyolo.fetch import model_paths

    return model_paths()


@pytest.fixture(scope="session")
def network(model_files):
    from zynqyolo.model import load_cfg

    return load_cfg(model_files[0])


@pytest.fixture(scope="session")
def weights(model_files, network):
    from zynqyolo.model import load_weights

    return load_weights(model_files[1], network)


@pytest.fixture(scope="session")
def photos():
    """All fetched test photos, by stem."""
    from zynqyolo.fetch import photo_paths

    return {p.stem: p for p in photo_paths()}


@pytest.fixture(scope="session")
def toolchain():
    """The ap_types header folder; skips (with the reason) when the C simulation cannot build:
    no C++ compiler, or the headers cannot be fetched."""
    import os
    import shutil

    from zynqyolo.errors import ZynqyoloError
    from zynqyolo.hls.csim import ap_types_dir

    if shutil.which(os.environ.get("CXX", "g++")) is None:
        pytest.skip("g++ not found on PATH: the HLS C simulation needs a C++14 compiler (apt-get install g++)")
    try:
        return ap_types_dir()
    except ZynqyoloError as exc:
        pytest.skip(f"the ap_types headers (zynqyolo fetch hls) are unavailable: {exc}")


@pytest.fixture(scope="session")
def require_csim(toolchain):
    """For tests that only need the C simulation to be buildable."""
    return toolchain
