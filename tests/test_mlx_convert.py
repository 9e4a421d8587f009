"""GGUF -> mlx-lm conversion, checked against llama.cpp on the bundled Gemma 3 270M.

The conversion runs once per session into a temporary directory (about half a minute on two
cores): it is the code under test, so it is not cached across runs.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from gemma_code.backends.models.mlx_convert import MARKER, ConversionError, convert_gguf
from gemma_code.backends.models.registry import ensure_local, get_spec

if not os.environ.get("CI"):  # CI installs both; there a missing one must fail, not skip
    pytest.importorskip("mlx_lm", reason="mlx-lm is not installed (pip install 'mlx[cpu]' mlx-lm)")
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
pytestmark = pytest.mark.real_model

TEXTS = [
    "Hello, world! The quick brown fox jumps over the lazy dog.",
    "def add(a, b):\n    return a + b\n\n\nclass Foo:\n\tpass  # tab-indented\n",
    "  leading spaces,   runs of spaces and trailing ones   \n\n\n",
    "héllo wörld — 日本語のテキスト, émojis 🙂🚀 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n",
    "if (x < 10 && y >= 3) { printf(\"%d\\n\", x); } // <table><tr><td>1</td></tr>",
]
PROMPT = "import os\nimport sys\n\nfor name in os.listdir(sys.argv[1]):\n    path = os.path.join("
STEPS = 8


@pytest.fixture(scope="module")
def gguf_path() -> Path:
    return ensure_local(get_spec("gemma-3-270m"))


@pytest.fixture(scope="module")
def converted(gguf_path: Path, tmp_path_factory) -> Path:
    return convert_gguf(gguf_path, tmp_path_factory.mktemp("mlx") / "gemma-3-270m")


@pytest.fixture(scope="module")
def mlx_model(converted: Path):
    from mlx_lm import load

    return load(str(converted))


@pytest.fixture(scope="module")
def llama(gguf_path: Path):
    from gemma_code.backends.llama_cpp import new_llama

    llm = new_llama(model_path=str(gguf_path), n_ctx=256, n_threads=2, logits_all=True, verbose=False)
    yield llm
    llm.close()


def test_directory_has_config_weights_tokenizer_and_marker(converted: Path, gguf_path: Path):
    config = json.loads((converted / "config.json").read_text())
    assert config["model_type"] == "gemma3_text" and config["tie_word_embeddings"] is True
    expected = {"hidden_size": 640, "num_hidden_layers": 18, "num_attention_heads": 4,
                "num_key_value_heads": 1, "head_dim": 256, "vocab_size": 262144,
                "sliding_window": 512, "sliding_window_pattern": 6, "rope_theta": 1e6,
                "rope_local_base_freq": 1e4, "query_pre_attn_scalar": 256}
    assert {key: config[key] for key in expected} == expected
    marker = json.loads((converted / MARKER).read_text())
    assert marker["sha256"] == get_spec("gemma-3-270m").source.sha256
    assert marker["size"] == gguf_path.stat().st_size
    assert {"model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= {
        p.name for p in converted.iterdir()
    }
    assert [p.name for p in converted.parent.iterdir()] == [converted.name]  # no temp left


def test_norms_lose_the_plus_one_and_matrices_keep_the_hf_layout(converted: Path, gguf_path: Path):
    import gguf
    import mlx.core as mx

    weights = mx.load(str(converted / "model.safetensors"))
    tensors = {t.name: t for t in gguf.GGUFReader(gguf_path).tensors}
    stored = np.array(weights["model.norm.weight"].astype(mx.float32))
    np.testing.assert_allclose(stored, np.array(tensors["output_norm.weight"].data) - 1, rtol=1e-2, atol=1e-2)
    assert weights["model.embed_tokens.weight"].shape == (262144, 640)
    assert weights["model.layers.0.self_attn.q_proj.weight"].shape == (4 * 256, 640)
    assert weights["model.layers.0.mlp.down_proj.weight"].shape == (640, 2048)
    assert "lm_head.weight" not in weights


def test_tokenizer_gives_llama_cpp_ids(mlx_model, gguf_path: Path):
    from llama_cpp import Llama

    vocab = Llama(model_path=str(gguf_path), vocab_only=True, verbose=False)
    tokenizer = mlx_model[1]
    for text in TEXTS:
        expected = vocab.tokenize(text.encode(), add_bos=False, special=True)
        assert tokenizer.encode(text, add_special_tokens=False) == expected, text
    assert tokenizer.encode(TEXTS[0]) == vocab.tokenize(TEXTS[0].encode(), add_bos=True, special=True)
    assert tokenizer.decode(tokenizer.encode(TEXTS[1], add_special_tokens=False)) == TEXTS[1]
    assert tokenizer.encode("<start_of_turn>", add_special_tokens=False) == [105]
    assert 106 in tokenizer.eos_token_ids  # <end_of_turn> stops generation, as in llama.cpp


def test_greedy_next_tokens_match_llama_cpp(mlx_model, llama):
    import mlx.core as mx

    prompt = llama.tokenize(PROMPT.encode(), add_bos=True, special=True)
    assert len(prompt) >= 20
    llama.reset()
    llama.eval(prompt)
    expected = []
    for _ in range(STEPS):
        expected.append(int(np.argmax(llama.scores[llama.n_tokens - 1])))
        llama.eval([expected[-1]])
    # Teacher-forced: MLX predicts each step from llama.cpp's own prefix, so one near-tie
    # cannot cascade into every later step.
    logits = mlx_model[0](mx.array([prompt + expected[:-1]]))[0, len(prompt) - 1:]
    predicted = np.array(mx.argmax(logits, axis=-1)).tolist()
    assert predicted[0] == expected[0]
    assert sum(a == b for a, b in zip(predicted, expected)) >= STEPS - 1, (predicted, expected)


def test_second_call_reuses_the_directory(converted: Path, gguf_path: Path, tmp_path: Path):
    weights = converted / "model.safetensors"
    before = weights.stat().st_mtime_ns
    start = time.monotonic()
    assert convert_gguf(gguf_path, converted) == converted
    assert time.monotonic() - start < 5
    copy = tmp_path / "copy.gguf"  # same bytes, new mtime: recognised by its sha256
    shutil.copyfile(gguf_path, copy)
    assert convert_gguf(copy, converted) == converted
    assert weights.stat().st_mtime_ns == before


def _tiny_gguf(path: Path, arch: str, tensor: str) -> Path:
    import gguf

    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_block_count(1)
    writer.add_tensor(tensor, np.ones((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_unsupported_architecture_is_named(tmp_path: Path):
    source = _tiny_gguf(tmp_path / "bert.gguf", "bert", "token_embd.weight")
    with pytest.raises(ConversionError, match="architecture 'bert' is not supported"):
        convert_gguf(source, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_failed_conversion_leaves_nothing_behind(tmp_path: Path):
    source = _tiny_gguf(tmp_path / "odd.gguf", "gemma3", "blk.0.mystery.weight")
    with pytest.raises(ConversionError, match="mystery"):
        convert_gguf(source, tmp_path / "out" / "model")
    assert list((tmp_path / "out").iterdir()) == []


def test_truncated_gguf_gives_a_clear_error(gguf_path: Path, tmp_path: Path):
    whole = _tiny_gguf(tmp_path / "whole.gguf", "gemma3", "token_embd.weight").read_bytes()
    with open(gguf_path, "rb") as src:
        head = src.read(4096)
    for name, data in [("magic", head[:3]), ("header", head), ("tensors", whole[:-8])]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ConversionError, match="truncated"):
            convert_gguf(tmp_path / name, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_foreign_directory_is_not_replaced(gguf_path: Path, tmp_path: Path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConversionError, match="did not write"):
        convert_gguf(gguf_path, tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
