"""How many threads llama.cpp gets, on this machine's real CPUs (no timings here: see
`evals/bench/product.py`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gemma_code.backends.threads import SYS_CPU, ThreadChoice, choose_threads, default_threads

linux = pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="needs CPU affinity (Linux)")


def _topology(cpu: int, name: str) -> str | None:
    try:
        return (SYS_CPU / f"cpu{cpu}" / "topology" / name).read_text().strip()
    except OSError:
        return None


@linux
def test_the_default_is_one_thread_per_physical_core_this_process_may_use():
    allowed = os.sched_getaffinity(0)
    choice = default_threads()
    assert 1 <= choice.count <= len(allowed)
    # The same cores counted from other files: (package, core id) of each CPU allowed.
    cores = {(_topology(cpu, "physical_package_id"), _topology(cpu, "core_id")) for cpu in allowed}
    plain = not Path("/sys/devices/cpu_core/cpus").exists() and "quota" not in choice.reason
    if plain and None not in {part for core in cores for part in core}:
        assert choice == ThreadChoice(len(cores), "physical cores available to this process")


@linux
def test_a_process_held_to_one_cpu_gets_one_thread():
    cpu = min(os.sched_getaffinity(0))
    shown = subprocess.run(
        [sys.executable, "-c", "import os, sys; os.sched_setaffinity(0, {int(sys.argv[1])}); "
         "from gemma_code.backends.threads import default_threads; print(default_threads().count)",
         str(cpu)], capture_output=True, text=True, timeout=60, check=True)
    assert shown.stdout.strip() == "1"


def test_the_setting_overrides_the_default():
    assert choose_threads(3) == ThreadChoice(3, "the n_threads setting")
    assert str(choose_threads(5)) == "5 (the n_threads setting)"
    assert choose_threads(None) == default_threads()


@pytest.mark.real_model
def test_the_backend_decodes_and_prefills_on_the_chosen_threads():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from gemma_code.backends.llama_cpp import LlamaCppBackend
    from gemma_code.backends.models.registry import ensure_local, get_spec

    spec = get_spec("gemma-3-270m")
    for setting, expected in ((None, default_threads().count), (1, 1)):
        backend = LlamaCppBackend(ensure_local(spec), context_size=512, sampling=spec.sampling,
                                  chat_format=spec.chat_format, n_threads=setting)
        try:
            assert backend.threads.count == expected
            assert (backend.llm.n_threads, backend.llm.n_threads_batch) == (expected, expected)
        finally:
            backend.close()


def test_cpu_lists_are_read_as_the_kernel_writes_them(tmp_path: Path):
    from gemma_code.backends.threads import _cpu_list

    (tmp_path / "cpus").write_text("0-3,8,10-11\n")
    assert _cpu_list(tmp_path / "cpus") == {0, 1, 2, 3, 8, 10, 11}
    assert _cpu_list(tmp_path / "missing") is None
