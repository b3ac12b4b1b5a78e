#!/usr/bin/python3
"""Writes the seed corpus of adapter_fuzz: PEFT adapters for the tiny qwen2 model of
model/random_model.h (hidden 64, 2 layers, 4 heads of 16, 2 KV heads, intermediate 176), each as
adapter_config.json + separator + adapter_model.safetensors, the safetensors bytes written here by
hand from the format's definition. Run once: /usr/bin/python3 fuzz/make_adapter_seeds.py"""
import json
import pathlib
import struct

SEPARATOR = b"\n--adapter_model.safetensors--\n"
CORPUS = pathlib.Path(__file__).resolve().parent / "corpus" / "adapter_fuzz"
HIDDEN, KV_OUT, INTERMEDIATE = 64, 32, 176
OUT_IN = {"q_proj": (HIDDEN, HIDDEN), "k_proj": (KV_OUT, HIDDEN), "v_proj": (KV_OUT, HIDDEN),
          "o_proj": (HIDDEN, HIDDEN), "gate_proj": (INTERMEDIATE, HIDDEN), "up_proj": (INTERMEDIATE, HIDDEN),
          "down_proj": (HIDDEN, INTERMEDIATE)}
ITEM_SIZE = {"F32": 4, "F16": 2, "BF16": 2}


def module_name(layer, kind):
    group = "mlp" if kind in ("gate_proj", "up_proj", "down_proj") else "self_attn"
    return f"model.layers.{layer}.{group}.{kind}"


def safetensors(tensors, metadata=None):
    """tensors: (name, dtype, shape) in file order; the data is a repeating byte pattern."""
    header, offset = {}, 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape in tensors:
        size = ITEM_SIZE[dtype]
        for extent in shape:
            size *= extent
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    data = bytes((i * 37) % 251 for i in range(offset))
    if "F32" in {t[1] for t in tensors}:  # small finite floats instead of arbitrary bit patterns
        data = b"".join(struct.pack("<f", ((i % 17) - 8) / 64.0) for i in range(offset // 4))
    return struct.pack("<Q", len(text)) + text + data


def adapter(config, r, modules, dtype="F32", suffix="", metadata=None):
    tensors = []
    for module in modules:
        out, inp = OUT_IN[module.rsplit(".", 1)[1]]
        tensors.append((f"base_model.model.{module}.lora_A{suffix}.weight", dtype, (r, inp)))
        tensors.append((f"base_model.model.{module}.lora_B{suffix}.weight", dtype, (out, r)))
    return json.dumps(config, indent=1).encode() + SEPARATOR + safetensors(tensors, metadata)


def config(r, targets, **extra):
    return {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": 2 * r, "lora_dropout": 0.05,
            "target_modules": targets, "bias": "none", "fan_in_fan_out": False, "use_rslora": False, **extra}


def main():
    CORPUS.mkdir(parents=True, exist_ok=True)
    qv = [module_name(layer, kind) for layer in range(2) for kind in ("q_proj", "v_proj")]
    one = [module_name(0, "q_proj")]
    seeds = {
        "q_v_r2.bin": adapter(config(2, ["q_proj", "v_proj"]), 2, qv, metadata={"format": "pt"}),
        "regex_one_module.bin": adapter(config(1, r"model\.layers\.0\.self_attn\.q_proj"), 1, one),
        "bf16_default_names.bin": adapter(config(1, ["model.layers.0.self_attn.q_proj"], use_rslora=True), 1, one,
                                          dtype="BF16", suffix=".default"),
        "mlp_f16.bin": adapter(config(1, ["down_proj"]), 1, [module_name(layer, "down_proj") for layer in range(2)],
                               dtype="F16"),
        "config_only.json": json.dumps(config(4, ["q_proj"])).encode(),
    }
    for name, content in seeds.items():
        (CORPUS / name).write_bytes(content)


if __name__ == "__main__":
    main()
