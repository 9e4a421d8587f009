"""`python -m evals.harness.serve ARGS`: llama-cpp-python's OpenAI-compatible server (same
arguments), loading the model as gemma-code does on CPUs with AMX, where a plain load crashes
(`gemma_code.backends.llama_cpp.amx_safe_loading`)."""

import runpy

from gemma_code.backends.llama_cpp import amx_safe_loading

if __name__ == "__main__":
    with amx_safe_loading():  # the server loads its model at start-up, inside this block
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
