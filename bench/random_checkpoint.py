#!/usr/bin/python3
"""Writes a random-weight bf16 Hugging Face checkpoint of a large Qwen1.5 shape, one tensor at a time,
for the memory benchmarks (BENCHMARKS.md). The model is never whole in memory: each shard is written
once its tensors are drawn, so a 28 GB checkpoint needs about one shard (<= 2 GB) of RAM.

  random_checkpoint.py --shape qwen1.5-14b --out /work/bigmodel/qwen1.5-14b-shape [--tokenizer FILE]
"""
import argparse
import json
import os
import shutil
import struct

import torch

SHAPES = {
    "qwen1.5-14b": dict(hidden_size=5120, num_hidden_layers=40, num_attention_heads=40, num_key_value_heads=40,
                        intermediate_size=13696, vocab_size=152064),
    "qwen1.5-1.8b": dict(hidden_size=2048, num_hidden_layers=24, num_attention_heads=16, num_key_value_heads=16,
                         intermediate_size=5504, vocab_size=151936),
}
SHARD_BYTES = 2 << 30


def tensors(shape):
    h, i, v = shape["hidden_size"], shape["intermediate_size"], shape["vocab_size"]
    yield "model.embed_tokens.weight", (v, h), 0.02
    for layer in range(shape["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        for name in ("q_proj", "k_proj", "v_proj"):
            yield p + f"self_attn.{name}.weight", (h, h), 0.02
            yield p + f"self_attn.{name}.bias", (h,), 0.02
        yield p + "self_attn.o_proj.weight", (h, h), 0.02
        yield p + "mlp.gate_proj.weight", (i, h), 0.02
        yield p + "mlp.up_proj.weight", (i, h), 0.02
        yield p + "mlp.down_proj.weight", (h, i), 0.02
        yield p + "input_layernorm.weight", (h,), None
        yield p + "post_attention_layernorm.weight", (h,), None
    yield "model.norm.weight", (h,), None
    yield "lm_head.weight", (v, h), 0.02


def write_shard(path, shard):
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, tensor in shard:
        size = tensor.numel() * 2
        header[name] = {"dtype": "BF16", "shape": list(tensor.shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, tensor in shard:
            f.write(tensor.contiguous().view(torch.int16).numpy().tobytes())
    os.replace(path + ".tmp", path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", choices=sorted(SHAPES), required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--tokenizer")
    args = parser.parse_args()
    shape = SHAPES[args.shape]
    os.makedirs(args.out, exist_ok=True)
    generator = torch.Generator().manual_seed(0)

    # Shards are planned from the sizes first so their names can say how many there are.
    plan, size = [[]], 0
    for name, dims, std in tensors(shape):
        nbytes = 2 * torch.Size(dims).numel()
        if plan[-1] and size + nbytes > SHARD_BYTES:
            plan.append([])
            size = 0
        plan[-1].append((name, dims, std))
        size += nbytes
    weight_map, total = {}, 0
    for k, entries in enumerate(plan):
        file_name = f"model-{k + 1:05d}-of-{len(plan):05d}.safetensors"
        shard = []
        for name, dims, std in entries:
            values = torch.randn(dims, generator=generator)
            values = values * std if std is not None else 1.0 + 0.1 * values
            shard.append((name, values.to(torch.bfloat16)))
            weight_map[name] = file_name
            total += 2 * values.numel()
        write_shard(os.path.join(args.out, file_name), shard)
        print(f"{file_name}: {len(shard)} tensors", flush=True)
    with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f)
    config = dict(architectures=["Qwen2ForCausalLM"], model_type="qwen2", hidden_act="silu",
                  max_position_embeddings=32768, rms_norm_eps=1e-6, rope_theta=1000000.0,
                  tie_word_embeddings=False, torch_dtype="bfloat16", **shape)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    if args.tokenizer:
        shutil.copy(args.tokenizer, os.path.join(args.out, "tokenizer.json"))


if __name__ == "__main__":
    main()
