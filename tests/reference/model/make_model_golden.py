#!/usr/bin/env python3
"""Golden logits and greedy continuations of SmolLM2-135M-Instruct Q4_1 from
llama.cpp (through llama-cpp-python), for tests/engine/test_model.cpp.

Run with a Python that has llama-cpp-python==0.3.16 and numpy, e.g.
  python3 -m venv ~/.cache/engram-desktop/refenv
  ~/.cache/engram-desktop/refenv/bin/pip install llama-cpp-python==0.3.16 numpy
  ~/.cache/engram-desktop/refenv/bin/python tests/reference/model/make_model_golden.py \
      ~/.cache/engram-desktop/models/SmolLM2-135M-Instruct.Q4_1.gguf

Writes smollm2_golden.json beside this script: for each prompt, its token ids
(llama.cpp's tokenization, so the model test does not depend on ours), the
top-20 logits after the prompt, and 64 greedy tokens (argmax, fed back even if
an end token appears) with the top-2 logit gap at every step (to explain a
divergence on a near-tie).
"""
import json
import os
import sys

import numpy as np
from llama_cpp import Llama, llama_cpp

PROMPTS = [
    ("chat_capital",
     "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
     "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"),
    ("story", "Once upon a time, in a small village by the sea, there lived"),
    ("code", "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"),
]
N_GREEDY = 64
TOP = 20


def main():
    model = sys.argv[1]
    llm = Llama(model_path=model, n_ctx=512, n_batch=512, n_threads=2, verbose=False, seed=0)
    n_vocab = llm.n_vocab()

    def last_logits():
        return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,)).copy()

    out = {"model": os.path.basename(model), "llama_cpp_python": llama_cpp.__version__ if hasattr(llama_cpp, "__version__") else "0.3.16",
           "n_vocab": n_vocab, "prompts": []}
    for name, text in PROMPTS:
        ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        llm.reset()
        llm.eval(ids)
        logits = last_logits()
        top = np.argsort(-logits, kind="stable")[:TOP]
        greedy, gaps = [], []
        cur = logits
        for _ in range(N_GREEDY):
            order = np.argsort(-cur, kind="stable")[:2]
            tok = int(order[0])
            greedy.append(tok)
            gaps.append(float(cur[order[0]] - cur[order[1]]))
            llm.eval([tok])
            cur = last_logits()
        out["prompts"].append({
            "name": name,
            "text": text,
            "tokens": [int(t) for t in ids],
            "top_ids": [int(t) for t in top],
            "top_logits": [float(logits[t]) for t in top],
            "greedy": greedy,
            "greedy_top2_gap": gaps,
            "greedy_text": llm.detokenize(greedy).decode("utf-8", errors="replace"),
        })
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "smollm2_golden.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
    print("wrote", path)
    for p in out["prompts"]:
        print(p["name"], repr(p["greedy_text"][:120]))


if __name__ == "__main__":
    main()
