"""The model store: which models gemma-code knows, downloading them, converting GGUF to MLX."""
