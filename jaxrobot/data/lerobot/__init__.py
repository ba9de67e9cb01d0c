"""The LeRobotDataset format (huggingface/lerobot, v3.0 and v2.1/v2.0): read, write and map to RLDS names.

- :mod:`.meta`: ``meta/info.json``, the episode table, tasks and stored statistics, checked for consistency;
- :mod:`.video`: MP4 frames by timestamp (PyAV; AV1, H.264, HEVC) and MP4 writing;
- :mod:`.reader`: :class:`LeRobotDataset`, episodes as flat dicts with frames decoded on demand;
- :mod:`.writer`: :func:`write_lerobot`, a v3.0 dataset LeRobot 0.4 loads, written atomically;
- :mod:`.keys`: LeRobot feature names ↔ RLDS keys; :mod:`.from_rlds`: RLDS → LeRobot;
- :mod:`.inspect`: the ``jaxrobot data inspect`` / ``stats`` summaries.

The training source is :mod:`jaxrobot.data.sources.lerobot`; LeRobot → RLDS is the converter in
``data_pipelines/lerobot``.
"""

from jaxrobot.data.lerobot.meta import LeRobotFormatError, is_lerobot_root
from jaxrobot.data.lerobot.reader import LeRobotDataset
from jaxrobot.data.lerobot.writer import write_lerobot

__all__ = ["LeRobotDataset", "LeRobotFormatError", "is_lerobot_root", "write_lerobot"]
