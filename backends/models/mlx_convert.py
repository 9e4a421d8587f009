"""Turn a GGUF into an mlx-lm model directory, offline.

The weights are dequantized with the `gguf` package and stored unquantized, `config.json` comes
from the GGUF metadata, and `tokenizer.json` is rebuilt from the GGUF vocabulary with the
`tokenizers` library so that it splits text into the same ids as llama.cpp. Architectures:
`gemma3` (mlx-lm's `gemma3_text`) and `qwen2`. A marker file records the source GGUF, so a
later call for the same file returns the directory as it is.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..chat_template import FALLBACK_TEMPLATES
from .registry import is_mlx_dir
from .spec import ModelError

MARKER = "gguf-source.json"
CONVERTER_VERSION = 1
# bf16, not fp16: MLX computes in the weights' dtype, and Gemma 3's residual stream grows past
# fp16's 65504 (to about 1e5 in the 270M's middle layers), where mlx-lm clips it.
DEFAULT_DTYPE = "bfloat16"
DTYPES = ("bfloat16", "float16", "float32")
SHARD_BYTES = 2 << 30

_CONTROL, _USER_DEFINED = 3, 4  # llama.cpp token types


class ConversionError(ModelError):
    """A GGUF that cannot become an MLX directory; the message says why."""


@dataclass(frozen=True)
class _Arch:
    model_type: str
    hf_class: str
    ffn_norm: str  # llama.cpp's `ffn_norm` under its Hugging Face name
    norm_shift: float  # llama.cpp stored `*norm.weight` with this added


_ARCHS = {
    "gemma3": _Arch("gemma3_text", "Gemma3ForCausalLM", "pre_feedforward_layernorm", 1.0),
    "qwen2": _Arch("qwen2", "Qwen2ForCausalLM", "post_attention_layernorm", 0.0),
}
_TOP_NAMES = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}
_LAYER_NAMES = {
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj", "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm", "attn_norm": "input_layernorm",
    "post_attention_norm": "post_attention_layernorm", "post_ffw_norm": "post_feedforward_layernorm",
    "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
}
_PRE_TOKENIZER_SPLITS = {
    "qwen2": r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+"
    r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
}
_END_OF_TURN = ("<end_of_turn>", "<|im_end|>", "<|endoftext|>")


def convert_gguf(
    gguf_path: Path, out_dir: Path, *, dtype: str = DEFAULT_DTYPE, chat_format: str | None = None
) -> Path:
    """Write an mlx-lm model directory for `gguf_path` at `out_dir` and return `out_dir`.

    A directory already converted from the same file (same size, and same mtime or sha256) in
    the same dtype is returned untouched. The work happens in a sibling temporary directory that
    is renamed into place when complete, so an interrupted run leaves nothing that looks done.
    `chat_format` names a built-in chat template (`chat_template.FALLBACK_TEMPLATES`) to write
    when the GGUF carries none, as the registry does for such a GGUF on llama.cpp.
    Raises `ConversionError` for a missing, truncated or corrupt file, an unsupported
    architecture or tokenizer, or an `out_dir` holding something else.
    """
    gguf_path, out_dir = Path(gguf_path), Path(out_dir)
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, not {dtype!r}")
    if not gguf_path.is_file():
        raise ConversionError(f"no GGUF file at {gguf_path}")
    if is_converted(gguf_path, out_dir, dtype=dtype):
        return out_dir
    if out_dir.is_dir() and not (out_dir / MARKER).is_file() and any(out_dir.iterdir()):
        raise ConversionError(f"{out_dir} holds files the GGUF converter did not write; not replacing it")
    meta = _Meta(_open(gguf_path))
    arch = _ARCHS.get(meta.arch)
    if arch is None:
        raise ConversionError(
            f"cannot convert {gguf_path.name} to MLX: architecture {meta.arch!r} is not supported "
            f"(supported: {', '.join(sorted(_ARCHS))})"
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        tmp.mkdir()
        _write_weights(meta.reader, arch, tmp, dtype)
        _write_json(tmp / "config.json", _config(meta, arch, dtype))
        _write_tokenizer(meta, tmp, chat_format)
        _write_json(tmp / MARKER, _source_record(gguf_path, dtype))  # last: it marks completion
        _publish(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def is_converted(gguf_path: Path, out_dir: Path, *, dtype: str = DEFAULT_DTYPE) -> bool:
    """Whether `out_dir` is a complete conversion of `gguf_path` by this converter version."""
    try:
        record = json.loads((Path(out_dir) / MARKER).read_text(encoding="utf-8"))
        stat = Path(gguf_path).stat()
    except (OSError, ValueError):
        return False
    same = (record.get("converter"), record.get("dtype"), record.get("size"))
    if same != (CONVERTER_VERSION, dtype, stat.st_size) or not is_mlx_dir(Path(out_dir)):
        return False
    # An unchanged mtime means the same file; a copied or re-assembled one is hashed.
    return record.get("mtime_ns") == stat.st_mtime_ns or record.get("sha256") == _sha256(gguf_path)


def _open(path: Path):
    import gguf

    try:
        reader = gguf.GGUFReader(path)
        end = max((t.data_offset + int(t.n_bytes) for t in reader.tensors), default=0)
    except (ValueError, IndexError, KeyError, OSError) as exc:
        raise ConversionError(f"{path} is not a readable GGUF file (truncated or corrupt?): {exc}") from exc
    if end > path.stat().st_size:
        raise ConversionError(f"{path} is truncated: its tensors need {end} bytes")
    return reader


class _Meta:
    """The GGUF's metadata; `{arch}` in a key stands for the file's architecture."""

    def __init__(self, reader) -> None:
        self.reader = reader
        field = reader.fields.get("general.architecture")
        self.arch = field.contents() if field is not None else None

    def get(self, key: str, default: Any = None) -> Any:
        field = self.reader.fields.get(key.format(arch=self.arch))
        return default if field is None else field.contents()

    def need(self, key: str) -> Any:
        value = self.get(key)
        if value is None:
            raise ConversionError(f"the GGUF has no {key.format(arch=self.arch)} metadata")
        return value


def _hf_name(name: str, arch: _Arch) -> str:
    base, _, suffix = name.rpartition(".")
    if base in _TOP_NAMES:
        return f"{_TOP_NAMES[base]}.{suffix}"
    match = re.fullmatch(r"blk\.(\d+)\.(\w+)", base)
    part = match and (arch.ffn_norm if match[2] == "ffn_norm" else _LAYER_NAMES.get(match[2]))
    if not part:
        raise ConversionError(f"unexpected tensor {name!r} in a {arch.model_type} GGUF")
    return f"model.layers.{match[1]}.{part}.{suffix}"


def _tensor(tensor, arch: _Arch, dtype: str):
    """One GGUF tensor as (Hugging Face name, evaluated mx array)."""
    import mlx.core as mx
    from gguf.quants import dequantize

    name = _hf_name(tensor.name, arch)
    # numpy's shape is GGUF's `ne` reversed, i.e. [out, in]: the Hugging Face layout already.
    # llama.cpp permutes q/k only for llama-family models, so nothing is un-permuted here.
    values = dequantize(tensor.data, tensor.tensor_type).astype("float32", copy=False)
    if arch.norm_shift and name.endswith("norm.weight"):
        values = values - arch.norm_shift  # mlx-lm's Gemma RMSNorm adds the 1 itself
    array = mx.array(values).astype(getattr(mx, dtype))
    mx.eval(array)  # drop the float32 copy now, not when the shard is saved
    return name, array


def _write_weights(reader, arch: _Arch, folder: Path, dtype: str) -> None:
    """Safetensors shards of at most SHARD_BYTES, one shard in memory at a time."""
    import mlx.core as mx

    plan: list[list[Any]] = [[]]
    size = 0
    for tensor in reader.tensors:
        nbytes = int(tensor.n_elements) * (4 if dtype == "float32" else 2)
        if plan[-1] and size + nbytes > SHARD_BYTES:
            plan.append([])
            size = 0
        plan[-1].append(tensor)
        size += nbytes
    count = len(plan)
    files = ["model.safetensors"] if count == 1 else [
        f"model-{i:05d}-of-{count:05d}.safetensors" for i in range(1, count + 1)
    ]
    weight_map = {}
    for file, tensors in zip(files, plan):
        shard = dict(_tensor(tensor, arch, dtype) for tensor in tensors)
        mx.save_safetensors(str(folder / file), shard, metadata={"format": "mlx"})
        weight_map.update(dict.fromkeys(shard, file))
    if count > 1:
        _write_json(folder / "model.safetensors.index.json", {"metadata": {}, "weight_map": weight_map})


def _config(meta: _Meta, arch: _Arch, dtype: str) -> dict[str, Any]:
    tensors = {t.name: t for t in meta.reader.tensors}
    hidden, heads = meta.need("{arch}.embedding_length"), meta.need("{arch}.attention.head_count")
    config = {
        "architectures": [arch.hf_class],
        "model_type": arch.model_type,
        "hidden_size": hidden,
        "num_hidden_layers": meta.need("{arch}.block_count"),
        "intermediate_size": meta.need("{arch}.feed_forward_length"),
        "num_attention_heads": heads,
        "num_key_value_heads": meta.get("{arch}.attention.head_count_kv", heads),
        "rms_norm_eps": meta.need("{arch}.attention.layer_norm_rms_epsilon"),
        "vocab_size": int(tensors["token_embd.weight"].shape[-1]),
        "max_position_embeddings": meta.need("{arch}.context_length"),
        "rope_theta": meta.get("{arch}.rope.freq_base", 10000.0),
        "tie_word_embeddings": "output.weight" not in tensors,
        "bos_token_id": meta.get("tokenizer.ggml.bos_token_id"),
        "eos_token_id": _eos_ids(meta),
        "pad_token_id": meta.get("tokenizer.ggml.padding_token_id"),
        "torch_dtype": dtype,
    }
    scaling = meta.get("{arch}.rope.scaling.type")
    if scaling and scaling != "none":
        config["rope_scaling"] = {"rope_type": scaling, "factor": meta.need("{arch}.rope.scaling.factor")}
    if meta.arch == "gemma3":
        config.update(_gemma3_config(meta, config))
    return config


def _gemma3_config(meta: _Meta, config: dict[str, Any]) -> dict[str, Any]:
    """What llama.cpp fixes in code for gemma3 instead of reading it from the file."""
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    head_dim = meta.get("{arch}.attention.key_length", hidden // heads)
    window = meta.get("{arch}.attention.sliding_window", 0)
    pattern = meta.get("{arch}.attention.sliding_window_pattern", 6)
    return {
        "head_dim": head_dim,
        # Only the 27B (62 layers) scales queries by hidden_size / heads rather than head_dim.
        "query_pre_attn_scalar": hidden // heads if config["num_hidden_layers"] == 62 else head_dim,
        "rope_local_base_freq": meta.get("{arch}.rope.freq_base_swa", 10000.0),
        "sliding_window": window or config["max_position_embeddings"],
        "sliding_window_pattern": (pattern if isinstance(pattern, int) else 6) if window else 1,
        "hidden_activation": "gelu_pytorch_tanh",
    }


def _eos_ids(meta: _Meta) -> list[int]:
    """The stop ids: eos, and the end-of-turn tokens llama.cpp also stops on."""
    tokens = meta.need("tokenizer.ggml.tokens")
    ids = [meta.get("tokenizer.ggml.eos_token_id"), meta.get("tokenizer.ggml.eot_token_id")]
    ids += [i for i, token in enumerate(tokens) if token in _END_OF_TURN]
    return list(dict.fromkeys(i for i in ids if i is not None))


def _write_tokenizer(meta: _Meta, folder: Path, chat_format: str | None) -> None:
    """`tokenizer.json` and `tokenizer_config.json` that tokenize as llama.cpp does."""
    from tokenizers import AddedToken

    tokens, kind = meta.need("tokenizer.ggml.tokens"), meta.need("tokenizer.ggml.model")
    pre = meta.get("tokenizer.ggml.pre")
    if kind == "llama" and not meta.get("tokenizer.ggml.add_space_prefix", True):
        tokenizer = _spm_tokenizer(tokens, meta.need("tokenizer.ggml.scores"))
    elif kind == "gpt2" and pre in _PRE_TOKENIZER_SPLITS:
        merges = meta.need("tokenizer.ggml.merges")
        tokenizer = _byte_level_tokenizer(tokens, merges, _PRE_TOKENIZER_SPLITS[pre])
    else:
        raise ConversionError(f"cannot rebuild a {kind!r} tokenizer (pre-tokenizer {pre!r}) for MLX")
    # llama.cpp matches control (with special=True) and user-defined tokens whole, first.
    kinds = zip(tokens, meta.get("tokenizer.ggml.token_type") or [])
    added = [AddedToken(t, special=ty == _CONTROL, normalized=False) for t, ty in kinds
             if ty in (_CONTROL, _USER_DEFINED)]
    tokenizer.add_special_tokens([t for t in added if t.special])
    tokenizer.add_tokens([t for t in added if not t.special])
    special = {
        name: tokens[i] for name, key in [("bos_token", "bos"), ("eos_token", "eos"),
                                          ("unk_token", "unknown"), ("pad_token", "padding")]
        if (i := meta.get(f"tokenizer.ggml.{key}_token_id")) is not None and i < len(tokens)
    }
    add_bos = bool(meta.get("tokenizer.ggml.add_bos_token", kind == "llama")) and "bos_token" in special
    tokenizer.post_processor = _bos_template(special.get("bos_token"), meta) if add_bos else None
    tokenizer.save(str(folder / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast", **special, "add_bos_token": add_bos,
        "add_eos_token": False, "model_max_length": meta.need("{arch}.context_length"),
        "clean_up_tokenization_spaces": False,
    }
    template = meta.get("tokenizer.chat_template") or FALLBACK_TEMPLATES.get(chat_format or "")
    if template:
        config["chat_template"] = template
    _write_json(folder / "tokenizer_config.json", config)


def _bos_template(bos: str, meta: _Meta):
    from tokenizers import processors

    return processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
        special_tokens=[(bos, meta.need("tokenizer.ggml.bos_token_id"))],
    )


def _spm_tokenizer(tokens: list[str], scores: list[float]):
    """llama.cpp's SPM tokenizer as a byte-fallback BPE.

    llama.cpp repeatedly merges the adjacent pair whose concatenation is the best-scored token,
    so the merges are every split of a token into two tokens, ranked by the whole token's score.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers

    ids = {token: i for i, token in enumerate(tokens)}
    ranked = sorted(
        (-scores[i], i, token[:cut], token[cut:])
        for i, token in enumerate(tokens)
        for cut in range(1, len(token))
        if token[:cut] in ids and token[cut:] in ids
    )
    merges = [(left, right) for *_, left, right in ranked]
    tokenizer = Tokenizer(models.BPE(ids, merges, fuse_unk=True, byte_fallback=True))
    tokenizer.normalizer = normalizers.Replace(" ", "\u2581")
    tokenizer.decoder = decoders.Sequence(
        [decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()]
    )
    return tokenizer


def _byte_level_tokenizer(tokens: list[str], merges: list[str], split: str):
    """GPT-2 style byte-level BPE; the GGUF spells its tokens in the byte alphabet already."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    pairs = [tuple(merge.split(" ", 1)) for merge in merges]
    tokenizer = Tokenizer(models.BPE({token: i for i, token in enumerate(tokens)}, pairs))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(split), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def _publish(tmp: Path, out_dir: Path) -> None:
    """Move the finished `tmp` to `out_dir`, replacing an outdated conversion there."""
    stale = out_dir.with_name(f".{out_dir.name}.stale-{uuid.uuid4().hex[:8]}")
    if out_dir.exists():
        out_dir.rename(stale)
    try:
        tmp.rename(out_dir)
    finally:
        shutil.rmtree(stale, ignore_errors=True)


def _source_record(gguf_path: Path, dtype: str) -> dict[str, Any]:
    stat = gguf_path.stat()
    return {
        "gguf": str(gguf_path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
        "sha256": _sha256(gguf_path), "dtype": dtype, "converter": CONVERTER_VERSION,
    }


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
