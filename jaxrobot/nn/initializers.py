"""Parameter initialisers that reproduce PyTorch's, for layers ported from PyTorch references.

``torch_default`` is what ``torch.nn.Linear`` / ``Conv1d`` / ``Conv2d`` use when left alone
(``kaiming_uniform_(a=sqrt(5))``, i.e. U(+-1/sqrt(fan_in))); ``xavier_uniform`` is what DETR-style
transformers (ACT) re-initialise their matrices with. Flax's ``fan_in`` of a kernel counts every axis but the
last, so it equals torch's for Dense kernels [in, out] and conv kernels [k..., in, out].
"""

from __future__ import annotations

import flax.linen as nn

#: torch's default Linear/Conv weight init: U(+-1/sqrt(fan_in)) = variance fan_in/3, uniform.
torch_default = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")

#: ``torch.nn.init.xavier_uniform_``.
xavier_uniform = nn.initializers.xavier_uniform()
