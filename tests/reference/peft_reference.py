#!/usr/bin/python3
"""LoRA adapters as PEFT applies them, written independently of qtalign from PEFT's semantics, on top
of hf_reference.py's forward pass: PEFT's adapter directory layout (adapter_config.json +
adapter_model.safetensors with "base_model.model.<module>.lora_A.weight" [r, in] and
"...lora_B.weight" [out, r]), its target-module matching, and its LoRA linear layer in eval mode:
base(x) + lora_B(lora_A(x)) * lora_alpha / r.

  peft_reference.py forward --model DIR --adapter DIR --inputs IN.safetensors --output OUT.safetensors
      As hf_reference.py forward (fp32), with the adapter applied unmerged. With
      QTALIGN_REFERENCE=transformers, PEFT itself applies it (transformers_reference.py).
"""
import argparse
import json
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_reference  # noqa: E402
import transformers_reference  # noqa: E402

KEY = re.compile(r"base_model\.model\.(.+)\.lora_([AB])\.weight")


def targets_module(targets, module):
    if isinstance(targets, str):
        return re.fullmatch(targets, module) is not None
    return any(module == target or module.endswith("." + target) for target in targets)


def load_adapter(directory, weights):
    with open(os.path.join(directory, "adapter_config.json")) as f:
        config = json.load(f)
    assert config["peft_type"] == "LORA", config["peft_type"]
    assert config["task_type"] == "CAUSAL_LM", config["task_type"]
    assert config.get("bias", "none") == "none"
    assert not config.get("fan_in_fan_out", False)
    assert not config.get("use_dora", False)
    r = config["r"]
    scaling = config["lora_alpha"] / (r ** 0.5 if config.get("use_rslora") else r)
    tensors = hf_reference.read_safetensors(os.path.join(directory, "adapter_model.safetensors"))
    adapters = {}
    for key, tensor in tensors.items():
        match = KEY.fullmatch(key)
        assert match, f"not a PEFT LoRA key: {key}"
        module, matrix = match.groups()
        assert targets_module(config["target_modules"], module), f"{module} is not targeted"
        adapters.setdefault(module, {})[matrix] = tensor.float()
    for name in weights:
        module = name[:-len(".weight")]
        if name.endswith(".weight") and module.split(".")[-1].endswith("proj") and \
                targets_module(config["target_modules"], module):
            assert module in adapters, f"targeted module {module} has no tensors"
    for module, pair in adapters.items():
        out_features, in_features = weights[module + ".weight"].shape
        assert pair["A"].shape == (r, in_features), (module, pair["A"].shape)
        assert pair["B"].shape == (out_features, r), (module, pair["B"].shape)
    return adapters, scaling


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("forward")
    run.add_argument("--model", required=True)
    run.add_argument("--adapter", required=True)
    run.add_argument("--inputs", required=True)
    run.add_argument("--output", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if transformers_reference.selected():  # PEFT itself instead, when QTALIGN_REFERENCE asks for it
        transformers_reference.run_forward(args.model, args.adapter, args.inputs, args.output, "fp32")
        return

    config, weights = hf_reference.load_checkpoint(args.model)
    weights = {name: tensor.float() for name, tensor in weights.items()}
    adapters, scaling = load_adapter(args.adapter, weights)
    base_linear = hf_reference.linear

    def lora_linear(x, weights, name, bias=False):
        y = base_linear(x, weights, name, bias)
        if name in adapters:
            a, b = adapters[name]["A"], adapters[name]["B"]
            y = y + torch.nn.functional.linear(torch.nn.functional.linear(x, a), b) * scaling
        return y

    hf_reference.linear = lora_linear
    arch = hf_reference.Architecture(config)
    inputs = hf_reference.read_safetensors(args.inputs)
    outputs = {}
    for key in sorted(inputs):
        if key.endswith(".input_ids"):
            case = key[:-len(".input_ids")]
            logits, _, _ = hf_reference.forward(arch, weights, inputs[key], inputs.get(case + ".attention_mask"),
                                                torch.float32)
            outputs[case + ".logits"] = logits
    hf_reference.write_safetensors(args.output, outputs)


if __name__ == "__main__":
    sys.exit(main())
