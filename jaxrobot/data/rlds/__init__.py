"""The RLDS / TFDS file format: read and write datasets without TensorFlow (tfds/tf.data as a reference).

- :class:`RldsDataset` reads a TFDS folder (``<data_dir>/<name>/<version>``) episode by episode.
- :func:`write_rlds` writes episodes as such a folder, atomically.
- ``jaxrobot.data.rlds.inspect.inspect`` / ``.contact_sheet`` summarise one (for ``jaxrobot data inspect``).

Lower layers, one job each: :mod:`.fs` (local paths and ``gs://``), :mod:`.crc32c`, :mod:`.tfrecord`
(framing and record offsets), :mod:`.example_proto` (``tf.train.Example`` wire format), :mod:`.features`
(``features.json``/``dataset_info.json`` as flat specs), :mod:`.images` (JPEG/PNG codecs).
"""

from jaxrobot.data.rlds.features import Feature
from jaxrobot.data.rlds.reader import Episode, RldsDataset
from jaxrobot.data.rlds.writer import write_rlds

__all__ = ["Episode", "Feature", "RldsDataset", "write_rlds"]
