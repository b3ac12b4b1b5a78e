#!/usr/bin/python3
"""Writes the llama.cpp goldens of tests/model/llamacpp/ (see its README.md for what was run).

  llamacpp_goldens.py --logits-program PATH [--only NAME]

For each case of tests/model/llamacpp/goldens.json: regenerates the checkpoint with hf_reference.py
make-checkpoint (its recipe), converts it with gguf_convert.py, tokenizes the prompts with
transformers.js (tools/npm/reference_tokenize.mjs, special tokens added), runs PATH (a program built
against llama.h, outside this repository: PATH MODEL.gguf IDS.txt OUT_PREFIX writes OUT_PREFIX.<i>.f32,
the fp32 logits [tokens, vocab] of prompt i) and stores, per prompt, the logits at a fixed random
subset of the vocabulary, the top 8 ids and logits, the logsumexp over the whole vocabulary and the
largest |logit| (the logit scale), as <name>.safetensors.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gguf_convert  # noqa: E402
import hf_reference  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
GOLDEN_DIR = os.path.join(ROOT, "tests/model/llamacpp")
NPM = os.path.join(ROOT, "tools/npm")
SUBSET = 256  # more than any case's hidden size: see README.md
TOP = 8
MAX_TOKENS = 72


def tokenize(tokenizer_dir, texts, work):
    lines = os.path.join(work, "texts.jsonl")
    with open(lines, "w", encoding="utf-8") as f:
        for text in texts:
            f.write(json.dumps(text, ensure_ascii=False) + "\n")
    out = os.path.join(work, "ids.jsonl")
    subprocess.run(["node", os.path.join(NPM, "reference_tokenize.mjs"), tokenizer_dir, lines, out], check=True)
    with open(out, encoding="utf-8") as f:
        return [json.loads(line)["special_ids"][:MAX_TOKENS] for line in f if line.strip()]


def make_case(case, prompts, program):
    with tempfile.TemporaryDirectory() as work:
        model = os.path.join(work, "checkpoint")
        hf_reference.main(["make-checkpoint", "--out", model] + case["make_checkpoint"])
        tokenizer_dir = os.path.join(NPM, "node_modules", case["tokenizer"])
        gguf = os.path.join(work, "model.gguf")
        gguf_convert.convert(model, tokenizer_dir, gguf)
        ids = tokenize(tokenizer_dir, prompts, work)
        with open(os.path.join(work, "ids.txt"), "w") as f:
            for row in ids:
                f.write(" ".join(map(str, row)) + "\n")
        subprocess.run([program, gguf, os.path.join(work, "ids.txt"), os.path.join(work, "logits")], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(os.path.join(model, "config.json")) as f:
            vocab = json.load(f)["vocab_size"]
        subset = torch.randperm(vocab, generator=torch.Generator().manual_seed(case["subset_seed"]))[:SUBSET].sort().values
        tensors = {"subset_ids": subset}
        for i, row in enumerate(ids):
            with open(os.path.join(work, f"logits.{i}.f32"), "rb") as f:
                logits = torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(len(row), vocab)
            top = logits.topk(TOP, dim=-1)
            tensors.update({f"{i}.input_ids": torch.tensor(row, dtype=torch.int64),
                            f"{i}.subset_logits": logits[:, subset].contiguous(),
                            f"{i}.top_ids": top.indices.contiguous(), f"{i}.top_logits": top.values.contiguous(),
                            f"{i}.logsumexp": logits.double().logsumexp(-1).float(),
                            f"{i}.scale": logits.abs().amax(-1)})
        hf_reference.write_safetensors(os.path.join(GOLDEN_DIR, case["name"] + ".safetensors"), tensors)
        gaps = min((t.topk(2).values[:, 0] - t.topk(2).values[:, 1]).min().item()
                   for k, t in tensors.items() if k.endswith("top_logits"))
        print(f"{case['name']}: {len(ids)} prompts, {sum(map(len, ids))} positions, smallest top-1/top-2 gap {gaps:.4g}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logits-program", required=True)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    with open(os.path.join(GOLDEN_DIR, "goldens.json"), encoding="utf-8") as f:
        goldens = json.load(f)
    torch.set_num_threads(1)
    for case in goldens["cases"]:
        if not args.only or case["name"] == args.only:
            make_case(case, goldens["prompts"], args.logits_program)


if __name__ == "__main__":
    main()
