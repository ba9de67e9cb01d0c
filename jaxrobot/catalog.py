"""Every kind jaxrobot defines, in one import: models, data sources, tasks, datasets, exporters.

Config classes register their ``kind`` when their module is imported; the lower layers never import the
higher ones, so a saved config (a checkpoint's ``config.json``) whose data source lives in a skill rebuilds
only once that skill's module is loaded. Importing this module loads them all; the ``jaxrobot`` command does
it before running a command. Nothing below the command line imports it.
"""

from __future__ import annotations

from jaxrobot.data import datasets  # noqa: F401  (the dataset standardisation table)
from jaxrobot.data.sources import mixture, rlds, synthetic  # noqa: F401  (RLDS, mixtures, synthetic BC data)
from jaxrobot.export import exporters  # noqa: F401  (the exporter table)
from jaxrobot.models import registry as models  # noqa: F401  (the model table and its config classes)
from jaxrobot.rl import config as rl_config  # noqa: F401  (rl: fine-tuning runs)
from jaxrobot.sim import registry as tasks  # noqa: F401  (the task table)
from jaxrobot.skills.grasping import dataset as grasp_dataset  # noqa: F401  (grasp_rlds)
from jaxrobot.skills.grasping import synthetic as grasp_synthetic  # noqa: F401  (synthetic grasp maps/candidates)
from jaxrobot.skills.pose import dataset as pose_dataset  # noqa: F401  (pose_scenes)
from jaxrobot.skills.servoing import dataset as servo_dataset  # noqa: F401  (servo_target_pairs, peg_servo_pairs)
from jaxrobot.skills.servoing import synthetic as servo_synthetic  # noqa: F401  (synthetic_servo)
from jaxrobot.train import config as train_config  # noqa: F401  (experiment, optimizer, train, mesh)
from jaxrobot.train import lerobot_checkpoint  # noqa: F401  (lerobot_checkpoint: the data of an imported policy)
