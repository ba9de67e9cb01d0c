"""Process-wide runtime flags, set in one place before JAX or TensorFlow start.

Why each flag:
- ``--xla_cpu_use_fusion_emitters=false``: the 7-joint Panda takes ~0.6 s per ``mjx.step`` on XLA:CPU
  without it and ~2.5 ms with it (measured here, see shared/FACTS.md).
- TensorFlow must never grab accelerator memory that JAX owns: hide GPUs from TF at import.
- The persistent compilation cache turns a 20 s MJX compile into ~3 s in the next process.
- The allocator (:func:`reexec_with_fast_allocator` at a program's start): XLA:CPU allocates an executable's
  temporaries and outputs afresh at every call, and glibc hands blocks that large out as fresh ``mmap``
  pages and returns them at ``free``, so every train step first page-faults its gradients and activations
  again, 4 kB at a time. The ``jaxrobot`` command therefore restarts itself once with mimalloc preloaded
  (the pinned ``cmeel-mimalloc`` wheel) told to keep freed memory (``MIMALLOC_PURGE_DELAY=-1``) and to use
  transparent huge pages: a step's buffers then come back already mapped. Without the wheel it falls back
  to ``GLIBC_TUNABLES=glibc.malloc.hugetlb=1`` (2 MB pages from glibc; the Makefile sets it for tests).
  bench/RESULTS.md, "Performance", has the figures.
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


def mimalloc_library() -> str | None:
    """Path of the mimalloc shared library of the ``cmeel-mimalloc`` wheel, if it is installed."""
    for entry in sys.path:
        lib = pathlib.Path(entry or ".") / "cmeel.prefix" / "lib" / "libmimalloc.so.3"
        if lib.is_file():
            return str(lib)
    return None


#: Environment the restart adds with mimalloc (kept if already set): keep freed pages mapped for the next
#: step's buffers instead of returning them to the kernel, and let them be transparent huge pages.
MIMALLOC_ENV = {"MIMALLOC_PURGE_DELAY": "-1", "MIMALLOC_ALLOW_THP": "1"}


def _allocator_env() -> dict[str, str]:
    """What :func:`reexec_with_fast_allocator` would add to the environment (empty: nothing to do)."""
    env = os.environ
    if env.get("JAXROBOT_HUGE_PAGES") == "0" or env.get("JAXROBOT_ALLOCATOR") == "system":
        return {}
    preload, tunables = env.get("LD_PRELOAD", ""), env.get("GLIBC_TUNABLES", "")
    if "libmimalloc" in preload:
        return {}  # already restarted (or set by hand)
    lib = mimalloc_library() if sys.platform == "linux" and env.get("JAXROBOT_ALLOCATOR") != "glibc" else None
    if lib is not None:
        return {"LD_PRELOAD": f"{lib}:{preload}" if preload else lib,
                **{k: v for k, v in MIMALLOC_ENV.items() if k not in env}}
    if "glibc.malloc.hugetlb" in tunables or not _huge_pages_need_tunable():
        return {}
    return {"GLIBC_TUNABLES": f"{tunables}:{HUGE_PAGE_TUNABLE}" if tunables else HUGE_PAGE_TUNABLE}


def reexec_with_fast_allocator() -> None:
    """Restart this program once with mimalloc preloaded (else glibc's huge-page tunable), see above.

    The dynamic loader and glibc read these only when a process starts, so a program entry point (the
    ``jaxrobot`` command, the benchmarks) calls this first, before it imports anything heavy. No-op when
    already done, when there is nothing to gain, and with ``JAXROBOT_ALLOCATOR=system`` (or the older
    ``JAXROBOT_HUGE_PAGES=0``); ``JAXROBOT_ALLOCATOR=glibc`` keeps glibc's malloc with the tunable. Library
    code never calls it.
    """
    add = _allocator_env()
    if not add or not sys.executable:
        return
    before = {k: os.environ.get(k) for k in add}
    os.environ.update(add)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, sys.orig_argv)
    except OSError:  # cannot restart (an embedded interpreter, say): run on as started
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def allocator() -> str:
    """Which allocator setting this process runs with: ``mimalloc``, ``glibc-hugetlb`` or ``system``."""
    if "libmimalloc" in os.environ.get("LD_PRELOAD", ""):
        return "mimalloc"
    return "glibc-hugetlb" if HUGE_PAGE_TUNABLE in os.environ.get("GLIBC_TUNABLES", "") else "system"


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
