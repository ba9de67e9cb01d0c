"""Process set-up: the private cache folder and the huge-page restart of program entry points."""

import os
import stat
import subprocess
import sys

from jaxrobot import platform


def test_cache_dir_is_private_to_its_owner(tmp_path, monkeypatch):
    fresh = tmp_path / "fresh"
    monkeypatch.setenv("JAXROBOT_CACHE", str(fresh))
    assert stat.S_IMODE(platform.cache_dir().stat().st_mode) == 0o700
    shared = tmp_path / "was_shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    monkeypatch.setenv("JAXROBOT_CACHE", str(shared))
    assert stat.S_IMODE(platform.cache_dir().stat().st_mode) == 0o700


SHOW = "from jaxrobot import platform; platform.reexec_with_fast_allocator(); import os, sys; " \
       "print(os.environ.get('GLIBC_TUNABLES', ''), os.environ.get('LD_PRELOAD', ''), " \
       "os.environ.get('MIMALLOC_PURGE_DELAY', ''), platform.allocator(), sys.argv[1:], sep='|')"

_ALLOCATOR_VARS = ("GLIBC_TUNABLES", "JAXROBOT_HUGE_PAGES", "JAXROBOT_ALLOCATOR", "LD_PRELOAD", "MIMALLOC_PURGE_DELAY",
                   "MIMALLOC_ALLOW_THP")


def _run(env_update):
    env = {k: v for k, v in os.environ.items() if k not in _ALLOCATOR_VARS}
    env.update(env_update)
    return subprocess.run([sys.executable, "-c", SHOW, "a", "--b"], env=env, text=True, check=True,
                          stdout=subprocess.PIPE).stdout.strip()


def test_entry_points_restart_once_with_mimalloc_keeping_freed_pages():
    lib = platform.mimalloc_library()
    assert lib is not None and lib.endswith("libmimalloc.so.3")  # the pinned cmeel-mimalloc wheel
    assert _run({}) == f"|{lib}|-1|mimalloc|['a', '--b']"  # same arguments after the restart
    # other preloads are kept after ours; a purge delay set by hand is not overridden
    assert _run({"LD_PRELOAD": "libm.so.6", "MIMALLOC_PURGE_DELAY": "10"}) == \
        f"|{lib}:libm.so.6|10|mimalloc|['a', '--b']"
    # the Makefile's glibc tunable does not stop the restart (and stays, harmless under mimalloc)
    assert _run({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}) == \
        f"glibc.malloc.hugetlb=1|{lib}|-1|mimalloc|['a', '--b']"
    assert _run({"JAXROBOT_ALLOCATOR": "system"}) == "|||system|['a', '--b']"
    assert _run({"JAXROBOT_HUGE_PAGES": "0"}) == "|||system|['a', '--b']"


def test_glibc_fallback_restarts_once_with_the_huge_page_tunable():
    if not platform._huge_pages_need_tunable():  # kernel THP not on madvise, or not glibc >= 2.35
        assert _run({"JAXROBOT_ALLOCATOR": "glibc"}) == "|||system|['a', '--b']"
        return
    glibc = {"JAXROBOT_ALLOCATOR": "glibc"}
    assert _run(glibc) == "glibc.malloc.hugetlb=1|||glibc-hugetlb|['a', '--b']"
    kept = _run({**glibc, "GLIBC_TUNABLES": "glibc.malloc.check=0"})  # other tunables are kept
    assert kept == "glibc.malloc.check=0:glibc.malloc.hugetlb=1|||glibc-hugetlb|['a', '--b']"
    assert _run({**glibc, "GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}) == "glibc.malloc.hugetlb=0|||system|['a', '--b']"
