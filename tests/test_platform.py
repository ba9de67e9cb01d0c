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


SHOW = "from jaxrobot import platform; platform.reexec_with_huge_pages(); import os, sys; " \
       "print(os.environ.get('GLIBC_TUNABLES', ''), sys.argv[1:])"


def _run(env_update):
    env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", "JAXROBOT_HUGE_PAGES")}
    env.update(env_update)
    return subprocess.run([sys.executable, "-c", SHOW, "a", "--b"], env=env, text=True, check=True,
                          stdout=subprocess.PIPE).stdout.strip()


def test_entry_points_restart_once_with_the_huge_page_tunable():
    if not platform._huge_pages_need_tunable():  # kernel THP not on madvise, or not glibc >= 2.35
        assert _run({}) == "['a', '--b']"
        return
    assert _run({}) == "glibc.malloc.hugetlb=1 ['a', '--b']"  # same arguments after the restart
    kept = _run({"GLIBC_TUNABLES": "glibc.malloc.check=0"})  # other tunables are kept
    assert kept == "glibc.malloc.check=0:glibc.malloc.hugetlb=1 ['a', '--b']"
    assert _run({"JAXROBOT_HUGE_PAGES": "0"}) == "['a', '--b']"
    assert _run({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}) == "glibc.malloc.hugetlb=0 ['a', '--b']"
