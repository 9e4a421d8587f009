"""Peer agents (aider, mini-swe-agent) on the same model file, through llama-cpp-python's
OpenAI-compatible server on 127.0.0.1.

`python -m evals setup` installs each peer from PyPI into a virtual environment of its own
(`<gemma-code cache>/evals/peers/<name>`), so their dependencies never meet gemma-code's.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .agents import Metrics
from .processes import stop_group

# Pinned: a peer's figures depend on its prompts and parsers, which change between releases.
PACKAGES = {"aider": "aider-chat==0.86.2", "mini-swe-agent": "mini-swe-agent==2.4.6"}
SERVED_NAME = "local-model"  # the model name peers ask the server for


def peers_dir() -> Path:
    from gemma_code.backends.models.registry import models_cache_dir

    return models_cache_dir().parent / "evals" / "peers"


def peer_bin(name: str, program: str) -> Path:
    return peers_dir() / name / "bin" / program


def setup(name: str, log: Callable[[str], None]) -> Path:
    """Create (or update) the peer's virtual environment and install it from PyPI."""
    venv = peers_dir() / name
    if not (venv / "bin" / "python").exists():
        log(f"{name}: creating {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    log(f"{name}: installing {PACKAGES[name]} (this takes a few minutes the first time)")
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", PACKAGES[name]],
                   check=True)
    log(f"{name}: ready")
    return venv


def pinned_version(name: str) -> str:
    """The peer's package and the version the harness runs, e.g. `mini-swe-agent 2.4.6`."""
    return PACKAGES[name].replace("==", " ")


def installed_version(name: str) -> str | None:
    """The peer's package and version in its virtual environment (None: not installed)."""
    package = PACKAGES[name].split("==")[0]
    python = peers_dir() / name / "bin" / "python"
    if not python.exists():
        return None
    found = subprocess.run([str(python), "-c", "import importlib.metadata as m, sys; "
                            "print(m.version(sys.argv[1]))", package], capture_output=True, text=True)
    return f"{package} {found.stdout.strip()}" if found.returncode == 0 else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ModelServer:
    """llama-cpp-python's OpenAI-compatible server on 127.0.0.1 (`url` is its /v1 root)."""

    def __init__(self, model_path: Path, *, context_size: int, chat_format: str | None,
                 log_file: Path, n_threads: int | None = None, startup_timeout: float = 300):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.command = [sys.executable, "-m", "evals.harness.serve", "--model", str(model_path),
                        "--model_alias", SERVED_NAME, "--host", "127.0.0.1", "--port", str(self.port),
                        "--n_ctx", str(context_size), "--verbose", "False"]
        if chat_format:
            self.command += ["--chat_format", chat_format]
        if n_threads:  # decoding and prefill alike, as gemma-code runs
            self.command += ["--n_threads", str(n_threads), "--n_threads_batch", str(n_threads)]
        self.log_file, self.startup_timeout = log_file, startup_timeout
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=log, start_new_session=True,
                                            cwd=Path(__file__).resolve().parents[2])  # finds `evals`
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process)
            self.process = None

    def restart(self) -> None:
        """A fresh server on the same port. The server cannot cancel a request whose client
        went away, so a generation that outlived its agent would hold up every later task."""
        self.stop()
        self.start()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise OSError(f"the model server exited ({self.process.returncode}); see {self.log_file}")
            try:
                with urllib.request.urlopen(self.url + "/models", timeout=5):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(1)
        raise OSError(f"the model server did not answer within {self.startup_timeout:.0f} s; "
                      f"see {self.log_file}")


@contextmanager
def model_server(model_path: Path, **options) -> Iterator[ModelServer]:
    """A started `ModelServer`, stopped on exit."""
    server = ModelServer(model_path, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _openai_env(url: str, scratch: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GEMMA_CODE_"))}
    # Peers keep their caches and settings in a throwaway home, not the person's.
    env.update(HOME=str(scratch / "home"), OPENAI_API_BASE=url, OPENAI_BASE_URL=url,
               OPENAI_API_KEY="local", NO_COLOR="1", TERM="dumb",
               LITELLM_LOCAL_MODEL_COST_MAP="True")  # no price list fetched from the network
    (scratch / "home").mkdir(exist_ok=True)
    return env


@dataclass
class Aider:
    """aider-chat with one message, every question answered yes, on the served model."""

    server: ModelServer
    context_size: int
    max_tokens: int = 2048
    name: str = "aider"
    sees_images: bool = False  # the served model is text-only through this server

    def command(self, prompt: str, work: Path, image: Path | None) -> list[str]:
        # aider does not know the served model: tell it the context size (and that it is free)
        metadata = work.parent / "aider-models.json"
        metadata.write_text(json.dumps({f"openai/{SERVED_NAME}": {
            "max_input_tokens": self.context_size, "max_output_tokens": self.max_tokens,
            "input_cost_per_token": 0, "output_cost_per_token": 0,
            "litellm_provider": "openai", "mode": "chat"}}))
        # the output cap every agent gets (aider sends none of its own); JSON is valid YAML
        settings = work.parent / "aider-model-settings.yml"
        settings.write_text(json.dumps([{"name": f"openai/{SERVED_NAME}",
                                         "extra_params": {"max_tokens": self.max_tokens}}]))
        return [str(peer_bin("aider", "aider")), "--model", f"openai/{SERVED_NAME}",
                "--model-metadata-file", str(metadata), "--model-settings-file", str(settings),
                "--openai-api-base", self.server.url, "--openai-api-key", "local",
                "--message", prompt, "--yes-always", "--no-stream", "--no-pretty",
                "--no-fancy-input", "--no-check-update", "--no-show-model-warnings",
                "--no-analytics", "--no-show-release-notes", "--no-auto-lint",
                "--map-tokens", "1024", "--subtree-only"]

    def environment(self, scratch: Path) -> dict[str, str]:
        return _openai_env(self.server.url, scratch)

    def metrics(self, stdout: Path, stderr: Path) -> Metrics:
        return _aider_metrics(stdout.read_text(errors="replace"))

    def after_try(self, work: Path, logs_base: Path) -> Metrics | None:
        return None

    def after_timeout(self) -> None:
        self.server.restart()


def _aider_metrics(output: str) -> Metrics:
    """aider prints `Tokens: 2.1k sent, 312 received.` after each request."""
    m = Metrics()
    for sent, sent_k, received, received_k in re.findall(
            r"Tokens: ([\d.]+)(k?) sent, ([\d.]+)(k?) received", output):
        m.steps += 1
        m.prompt_tokens += round(float(sent) * (1000 if sent_k else 1))
        m.completion_tokens += round(float(received) * (1000 if received_k else 1))
    m.end_reason = "answered" if m.steps else ""
    return m


@dataclass
class MiniSweAgent:
    """mini-swe-agent's `mini` in yolo mode (no confirmations), exiting when it submits."""

    server: ModelServer
    context_size: int
    max_steps: int = 30
    temperature: float = 0.0
    max_tokens: int = 2048
    name: str = "mini-swe-agent"
    sees_images: bool = False

    def command(self, prompt: str, work: Path, image: Path | None) -> list[str]:
        # The text-based config (commands in fenced blocks) rather than OpenAI tool calls:
        # it needs nothing from the server beyond chat, as aider does. The config file does
        # not name its model class, and the default one reads only tool calls.
        settings = ["mini_textbased.yaml", "model.model_class=litellm_textbased",
                    f"agent.step_limit={self.max_steps}", "agent.cost_limit=0",
                    f"model.model_kwargs.temperature={self.temperature}",
                    f"model.model_kwargs.max_tokens={self.max_tokens}",
                    f"model.model_kwargs.api_base={self.server.url}"]
        return [str(peer_bin("mini-swe-agent", "mini")), "--model", f"openai/{SERVED_NAME}",
                "--task", prompt, "--yolo", "--exit-immediately",
                *(arg for value in settings for arg in ("-c", value)),
                "--output", str(work.parent / "trajectory.json")]

    def environment(self, scratch: Path) -> dict[str, str]:
        env = _openai_env(self.server.url, scratch)
        env["MSWEA_CONFIGURED"] = "true"  # skip its first-run set-up questions
        env["MSWEA_COST_TRACKING"] = "ignore_errors"  # a local model has no price
        env["MSWEA_GLOBAL_CONFIG_DIR"] = str(scratch / "home" / "mini-swe-agent")
        env["MSWEA_SILENT_STARTUP"] = "1"
        return env

    def metrics(self, stdout: Path, stderr: Path) -> Metrics:
        return Metrics()  # read from the trajectory in `after_try`

    def after_try(self, work: Path, logs_base: Path) -> Metrics | None:
        """Keep the trajectory with the logs (it is written beside the repository) and read it."""
        trajectory = work.parent / "trajectory.json"
        if not trajectory.exists():
            return None
        kept = logs_base.with_suffix(".traj.json")
        trajectory.replace(kept)
        return _mini_metrics(kept)

    def after_timeout(self) -> None:
        self.server.restart()


def _mini_metrics(path: Path) -> Metrics:
    """Model requests, format errors and tokens from a mini-swe-agent v2 trajectory: each
    message that came from the model carries the server's response (with usage) in `extra`."""
    data = json.loads(path.read_text())
    m = Metrics(end_reason=str(data.get("info", {}).get("exit_status", "")))
    commands: set[str] = set()
    for message in data.get("messages", []):
        extra = message.get("extra") or {}
        response = extra.get("response")
        if not response:
            continue
        m.steps += 1
        usage = response.get("usage") or {}
        m.prompt_tokens += usage.get("prompt_tokens", 0)
        m.completion_tokens += usage.get("completion_tokens", 0)
        if extra.get("interrupt_type") == "FormatError":
            m.malformed_calls += 1
        m.tool_calls += 1
        for action in extra.get("actions") or []:
            m.repeated_calls += action.get("command") in commands
            commands.add(action.get("command"))
    return m


@contextmanager
def peer(name: str, model: str, *, context_size: int | None, max_steps: int, temperature: float,
         max_tokens: int, log: Callable[[str], None], logs: Path = Path("evals-server.log"),
         n_threads: int | None = None):
    """The peer agent `name`, with a model server for `model` running for as long as it is used
    (on `n_threads` threads: llama-cpp-python's server alone decodes on half the logical CPUs)."""
    from gemma_code.backends.models.registry import resolve_model

    installed, pinned = installed_version(name), pinned_version(name)
    if installed != pinned:
        have = f"{installed} is installed" if installed else "it is not installed"
        raise OSError(f"{name}: the harness runs {pinned} and {have}; run `python -m evals setup {name}`")
    resolved = resolve_model(model, None)
    context = context_size or resolved.spec.context_size  # as gemma-code runs it
    log(f"starting the model server for {resolved.spec.name} on 127.0.0.1 ({context} tokens of context)")
    with model_server(resolved.path, context_size=context, chat_format=None, log_file=logs,
                      n_threads=n_threads) as server:
        if name == "aider":
            yield Aider(server=server, context_size=context, max_tokens=max_tokens)
        else:
            yield MiniSweAgent(server=server, context_size=context, max_steps=max_steps,
                               temperature=temperature, max_tokens=max_tokens)
