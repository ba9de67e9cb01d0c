"""inspect() summary and contact sheet on the Bridge sample."""

from __future__ import annotations

import json

import numpy as np

from jaxrobot.data.rlds.inspect import contact_sheet, inspect


def test_inspect_bridge(bridge_path):
    r = inspect(bridge_path)
    json.dumps(r)  # JSON-able, one line for `jaxrobot data inspect --json`
    assert r["splits"] == {"train": {"episodes": 25, "steps": 250}}
    assert (r["name"], r["version"], r["episodes"], r["steps"]) == ("bridge_dataset", "1.0.0", 25, 250)
    assert r["features"]["steps/action"] == {"shape": [None, 7], "dtype": "float32", "encoding": "tensor"}
    assert r["features"]["steps/observation/image_0"]["shape"] == [None, 64, 64, 3]
    assert r["features"]["episode_metadata/episode_id"] == {"shape": [], "dtype": "int32", "encoding": "scalar"}
    assert r["instruction_key"] == "steps/language_instruction"
    assert "put carrot on plate" in r["instructions"] and len(set(r["instructions"])) == len(r["instructions"])
    assert inspect(bridge_path, split="train")["splits"] == r["splits"]


def test_contact_sheet(bridge_path, tmp_path):
    from PIL import Image

    out = contact_sheet(bridge_path, str(tmp_path / "sub" / "sheet.png"), episodes=3, frames=4, tile=64)
    img = np.asarray(Image.open(out))
    # 4 cameras x 4 frames of 64 px (+4 px gaps) wide; 3 rows of 16 px caption + 64 px frames (+ header)
    assert img.shape == (16 + 3 * (16 + 64 + 4) + 4, 4 + 4 * (4 * 68 + 4), 3)
    # image_3 (the last block) is black padding; the real cameras are not
    first_row = img[16 + 16: 16 + 16 + 64]
    block = 4 * 68 + 4
    assert first_row[:, 4 + 3 * block: 4 + 3 * block + 64].max() == 0
    assert first_row[:, 4: 4 + 64].std() > 10
