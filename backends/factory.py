"""From settings to a loaded backend. Heavy libraries are imported only for the backend chosen."""

from __future__ import annotations

from collections.abc import Callable

from gemma_code.agent.config import Settings
from gemma_code.agent.protocols import Backend

from .registry import ModelError, default_model_name, resolve_model


def open_backend(
    settings: Settings,
    notice: Callable[[str], None] = lambda text: None,
    progress: Callable[[int, int], None] | None = None,
) -> Backend:
    """Load the model the settings name; `notice` receives one-line status messages and
    `progress` (bytes done, bytes in all) the first-run assembly of a bundled model."""
    if settings.backend == "scripted":
        from .scripted import ScriptedBackend, load_script

        if settings.model == "auto":
            raise ModelError("the scripted backend needs --model path/to/script.json")
        return ScriptedBackend(load_script(settings.model))

    announced = False

    def announce(done: int, total: int) -> None:
        nonlocal announced
        if not announced:
            notice(f"assembling the bundled model ({total / 1e9:.1f} GB, first run only)...")
            announced = True

    resolved = resolve_model(settings.model, settings.mmproj, progress=progress or announce)
    spec = resolved.spec
    default = default_model_name()
    if settings.model == "auto" and spec.name != default:
        notice(f"{default} is not downloaded; using the bundled {spec.name} "
               f"(`gemma-code pull {default}` gets the default model)")
    kind = spec.backend if settings.backend == "auto" else settings.backend
    if kind != spec.backend:
        raise ModelError(f"{spec.name} is a {spec.backend} model; it cannot run on {kind}")
    sampling = spec.sampling
    if settings.temperature is not None:
        sampling = sampling.model_copy(update={"temperature": settings.temperature})
    context_size = settings.context_size or spec.context_size
    if kind == "mlx":
        return _open_mlx(resolved.path, context_size, sampling, spec.chat_format, settings.image_tokens)
    from .llama_cpp import LlamaCppBackend

    if spec.vision and resolved.mmproj is None:
        notice(f"{spec.name}: its image projector is not downloaded, so images are read with "
               f"OCR (`gemma-code pull {spec.name}` fetches it)")
    backend = LlamaCppBackend(
        resolved.path, context_size=context_size,
        sampling=sampling, chat_format=spec.chat_format, n_gpu_layers=settings.n_gpu_layers,
        n_threads=settings.n_threads, mmproj=resolved.mmproj, image_tokens=settings.image_tokens,
    )
    if backend.vision_error:
        notice(f"{backend.vision_error}; images are read with OCR instead")
    return backend


def _open_mlx(path, context_size: int, sampling, chat_format: str | None, image_tokens: int) -> Backend:
    try:
        from .mlx_backend import MlxBackend
    except ImportError as exc:
        raise ModelError(
            f"the MLX backend needs mlx and mlx-lm ({exc.name or exc} is missing): "
            "pip install 'gemma-code[mlx]'"
        ) from None
    return MlxBackend(path, context_size=context_size, sampling=sampling, chat_format=chat_format,
                      image_tokens=image_tokens)
