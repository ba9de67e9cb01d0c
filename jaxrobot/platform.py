"""Process-wide runtime flags, set in one place before JAX or TensorFlow start.

Why each flag:
- ``--xla_cpu_use_fusion_emitters=false``: the 7-joint Panda takes ~0.6 s per ``mjx.step`` on XLA:CPU
  without it and ~2.5 ms with it (measured here, see shared/FACTS.md).
- TensorFlow must never grab accelerator memory that JAX owns: hide GPUs from TF at import.
- The persistent compilation cache turns a 20 s MJX compile into ~3 s in the next process.
- ``GLIBC_TUNABLES=glibc.malloc.hugetlb=1`` (set by :func:`reexec_with_huge_pages` at a program's start, and
  by the Makefile): XLA:CPU allocates an executable's temporaries and outputs afresh at every call, and
  glibc hands blocks that large out as fresh ``mmap`` pages, so every train step first page-faults its
  gradients and activations in 4 kB pages. With transparent huge pages on ``madvise`` (the common kernel
  default) that costs a large share of a step; the tunable lets glibc ask for 2 MB pages (bench/RESULTS.md,
  "Performance").
"""

from __future__ import annotations

import os
import pathlib
import platform as _stdlib_platform
import sys

_CONFIGURED = False


def cache_dir() -> pathlib.Path:
    """User cache folder (never inside a dataset or the repo): ``$JAXROBOT_CACHE`` or ~/.cache/jaxrobot.

    Private to its owner (mode 0700): it holds compiled executables that later runs load and execute, and
    dataset statistics that training trusts, so no other user may write there (or read what it holds).
    """
    root = os.environ.get("JAXROBOT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "jaxrobot")
    path = pathlib.Path(root)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = path.stat()
    if info.st_uid == os.getuid() and info.st_mode & 0o077:
        path.chmod(0o700)
    return path


HUGE_PAGE_TUNABLE = "glibc.malloc.hugetlb=1"


def _huge_pages_need_tunable() -> bool:
    """True on glibc >= 2.35 (where the tunable exists) with transparent huge pages on ``madvise``."""
    if sys.platform != "linux":
        return False
    libc, version = _stdlib_platform.libc_ver()
    try:
        major, minor = (int(x) for x in version.split(".")[:2])
    except ValueError:
        return False
    if libc != "glibc" or (major, minor) < (2, 35):
        return False
    try:
        mode = pathlib.Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return False
    return "[madvise]" in mode  # "[always]" needs nothing, "[never]" cannot be helped


def reexec_with_huge_pages() -> None:
    """Restart this program once with ``GLIBC_TUNABLES`` asking glibc's malloc for transparent huge pages.

    glibc reads its tunables only when a process starts, so a program entry point (the ``jaxrobot`` command,
    the benchmarks) calls this first, before it imports anything heavy. No-op when the tunable is already
    set, not needed or not supported, and when ``JAXROBOT_HUGE_PAGES=0``. Library code never calls it.
    """
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if ("glibc.malloc.hugetlb" in tunables or os.environ.get("JAXROBOT_HUGE_PAGES") == "0"
            or not sys.executable or not _huge_pages_need_tunable()):
        return
    os.environ["GLIBC_TUNABLES"] = f"{tunables}:{HUGE_PAGE_TUNABLE}" if tunables else HUGE_PAGE_TUNABLE
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, sys.orig_argv)
    except OSError:  # cannot restart (an embedded interpreter, say): run on without the setting
        os.environ["GLIBC_TUNABLES"] = tunables


def set_cpu_device_count(n: int) -> None:
    """Fake ``n`` CPU devices (for sharding tests); must run before the JAX backend starts."""
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split()
             if not f.startswith("--xla_force_host_platform_device_count")]
    flags.append(f"--xla_force_host_platform_device_count={n}")
    os.environ["XLA_FLAGS"] = " ".join(flags)


def configure(compilation_cache: bool = True) -> None:
    """Set XLA/TF environment flags (idempotent). Call before importing jax in entry points."""
    global _CONFIGURED
    if _CONFIGURED:
        return
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_use_fusion_emitters" not in flags:
        os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_use_fusion_emitters=false").strip()
    # 3: XLA:CPU logs a spurious "machine type ... could lead to SIGILL" error at level 2 whenever it
    # loads an entry from the persistent cache (tuning flags such as +prefer-no-gather are not host
    # features). Real failures still raise Python exceptions. Set it yourself to see more.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    # MuJoCo rendering headless (software EGL works here).
    os.environ.setdefault("MUJOCO_GL", "egl")
    import jax

    if compilation_cache and os.environ.get("JAXROBOT_NO_COMPILATION_CACHE") != "1":
        jax.config.update("jax_compilation_cache_dir", str(cache_dir() / "xla"))
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    # Random numbers independent of how arrays are sharded (big_vision's start-up flag).
    jax.config.update("jax_threefry_partitionable", True)
    _CONFIGURED = True


def import_tensorflow():
    """Import TensorFlow with GPUs hidden from it, so it never takes memory JAX needs."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:  # devices already initialised; they were hidden the first time
        pass
    return tf
