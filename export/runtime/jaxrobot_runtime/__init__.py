"""Robot-side runtime for jaxrobot export bundles (numpy + ONNX Runtime or LiteRT; no JAX, no TensorFlow).

- :func:`load_bundle` / :class:`Bundle`: a bundle folder, its specs, statistics, schedule and model files,
  verified against the bundle's ``MANIFEST.json`` by default (:class:`BundleIntegrityError` names the file
  that changed, went missing or is not covered; ``verify=False`` skips it on a trusted robot);
- :class:`Policy`: the run-time policy (observation history, normalisation, model call, chunk queue, ACT's
  temporal ensembling, the DDIM loop of Diffusion Policy, unnormalisation), behaving action for action like
  ``jaxrobot.policies.runner.PolicyRunner``;
- :func:`check_bundle`: every artifact against the stored ``jax.jit`` outputs.
"""

from jaxrobot_runtime.bundle import Bundle, load_bundle
from jaxrobot_runtime.check import check_bundle
from jaxrobot_runtime.errors import BundleError, BundleIntegrityError
from jaxrobot_runtime.manifest import verify as verify_bundle
from jaxrobot_runtime.policy import Policy, TemporalEnsembler

__all__ = ["Bundle", "BundleError", "BundleIntegrityError", "Policy", "TemporalEnsembler", "check_bundle",
           "load_bundle", "verify_bundle"]
__version__ = "0.1.0"
