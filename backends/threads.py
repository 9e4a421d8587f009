"""How many CPU threads llama.cpp computes on: the physical cores this process may use.

llama.cpp's own tools do the same (`cpu_get_num_math` in its common code: one thread per
physical core, performance cores only on a hybrid CPU, for decoding and for batches alike).
llama-cpp-python left alone decodes on half the logical CPUs: one thread on a 2-core machine.
MLX needs nothing of the kind: it computes on the GPU, and its CPU backend picks its own threads.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

SYS_CPU = Path("/sys/devices/system/cpu")


@dataclass(frozen=True)
class ThreadChoice:
    """A thread count and why it was chosen (what `gemma-code config` shows)."""

    count: int
    reason: str

    def __str__(self) -> str:
        return f"{self.count} ({self.reason})"


def choose_threads(setting: int | None = None) -> ThreadChoice:
    """The `n_threads` setting when there is one, else the physical cores (`default_threads`)."""
    if setting is not None:
        return ThreadChoice(setting, "the n_threads setting")
    return default_threads()


def default_threads() -> ThreadChoice:
    """One thread per physical core this process may run on."""
    if sys.platform.startswith("linux"):
        choice = _linux_cores()
    elif sys.platform == "darwin":
        choice = _mac_cores()
    else:
        choice = None
    return choice or _guess(_logical_cpus())


def _logical_cpus() -> int:
    count = getattr(os, "process_cpu_count", os.cpu_count)()  # 3.13: respects affinity
    return max(count or 1, 1)


def _guess(logical: int) -> ThreadChoice:
    """llama.cpp's fallback when it cannot see the cores: all CPUs up to 4, else half."""
    count = logical if logical <= 4 else logical // 2
    return ThreadChoice(count, f"of {logical} logical CPUs; the physical cores are not known")


# Linux -----------------------------------------------------------------------------------


def _linux_cores() -> ThreadChoice | None:
    allowed = sorted(os.sched_getaffinity(0))
    what = "physical cores"
    performance = _cpu_list(Path("/sys/devices/cpu_core/cpus"))  # Intel hybrid: the P-cores
    if performance and set(allowed) & performance:
        allowed, what = [cpu for cpu in allowed if cpu in performance], "performance cores"
    cores = _cores_by_sysfs(allowed) or _cores_by_cpuinfo(allowed)
    if not cores:
        return None
    choice = ThreadChoice(len(cores), f"{what} available to this process")
    quota = _cgroup_quota()
    if quota is not None and quota < choice.count:
        return ThreadChoice(quota, f"this process's CPU quota (cgroup), below its {choice.count} {what}")
    return choice


def _cpu_list(path: Path) -> set[int] | None:
    """`0-3,8,10-11` -> {0, 1, 2, 3, 8, 10, 11}; None when the file is missing or unreadable."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    cpus: set[int] = set()
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def _cores_by_sysfs(cpus: list[int]) -> set[str]:
    """Each CPU's core, named by the list of its hardware threads (as llama.cpp counts them)."""
    cores = set()
    for cpu in cpus:
        topology = SYS_CPU / f"cpu{cpu}" / "topology"
        for name in ("core_cpus_list", "thread_siblings_list"):
            try:
                cores.add((topology / name).read_text().strip())
                break
            except OSError:
                continue
        else:
            return set()  # one CPU without a topology: trust none of it
    return cores


def _cores_by_cpuinfo(cpus: list[int]) -> set[tuple[str, str]]:
    """(physical id, core id) of each CPU in /proc/cpuinfo (where sysfs has no topology)."""
    try:
        blocks = Path("/proc/cpuinfo").read_text().split("\n\n")
    except OSError:
        return set()
    wanted, cores = set(cpus), set()
    for block in blocks:
        fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line)
        fields = {key.strip(): value.strip() for key, value in fields.items()}
        if "processor" not in fields or "core id" not in fields:
            continue
        if int(fields["processor"]) in wanted:
            cores.add((fields.get("physical id", "0"), fields["core id"]))
    return cores


def _cgroup_quota() -> int | None:
    """The CPUs a container's quota allows this process (rounded up); None when unlimited."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, group = line.split(":", 2)
        if controllers == "":  # cgroup v2: "max 100000" or "200000 100000"
            limit = _read(Path("/sys/fs/cgroup") / group.lstrip("/") / "cpu.max")
            quota, _, period = (limit or "max").partition(" ")
        elif "cpu" in controllers.split(","):
            root = Path("/sys/fs/cgroup") / controllers
            folder = root / group.lstrip("/")
            if not folder.is_dir():  # a container may see its own group at the mount's root
                folder = root
            quota = _read(folder / "cpu.cfs_quota_us") or "-1"
            period = _read(folder / "cpu.cfs_period_us") or "0"
        else:
            continue
        try:
            if int(quota) > 0 and int(period) > 0:
                return max(1, math.ceil(int(quota) / int(period)))
        except ValueError:
            pass
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


# macOS -----------------------------------------------------------------------------------


def _mac_cores() -> ThreadChoice | None:
    """Apple Silicon: the performance cores (`hw.perflevel0`); Intel Macs: the physical cores."""
    for name, what in (("hw.perflevel0.physicalcpu", "performance cores"),
                       ("hw.physicalcpu", "physical cores")):
        count = _sysctl_int(name)
        if count and count > 0:
            return ThreadChoice(count, what)
    return None


def _sysctl_int(name: str) -> int | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        value, size = ctypes.c_int(0), ctypes.c_size_t(ctypes.sizeof(ctypes.c_int))
        found = libc.sysctlbyname(name.encode(), ctypes.byref(value), ctypes.byref(size), None,
                                  ctypes.c_size_t(0))
    except (OSError, AttributeError):
        return None
    return value.value if found == 0 else None
