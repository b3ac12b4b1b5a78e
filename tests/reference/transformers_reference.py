#!/usr/bin/python3
"""The forward pass of Hugging Face transformers itself, and PEFT's LoRA on top of it, behind the
interface of `hf_reference.py forward` and `peft_reference.py forward`.

hf_reference.py and peft_reference.py are our own second implementations of transformers' and PEFT's
semantics. Where transformers and PEFT are installed (the GPU machine: tools/gpu-check.sh), setting
QTALIGN_REFERENCE=transformers makes both scripts hand their `forward` to this module, so every test
that checks qtalign against our references (the parity suite of every family, the llama.cpp goldens'
reference check, the PEFT adapter test) checks it against transformers and PEFT instead, unchanged.

  transformers_reference.py forward --model DIR [--adapter DIR] --inputs IN.safetensors
                                    --output OUT.safetensors [--dtype fp32|bf16]

For every case <c> of IN (<c>.input_ids, optional <c>.attention_mask; left padding), OUT gets
<c>.logits (fp32), <c>.hidden_states.<i> as transformers' output_hidden_states gives them (the last
after the final norm) and <c>.last_layer_output (the last layer's output, before the final norm).
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_reference  # noqa: E402  (its safetensors reader and writer, and the dtype names)


def version_tuple(text):
    parts = []
    for part in text.split(".")[:2]:
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def load_model(model_dir, adapter_dir, dtype):
    """transformers' model of the checkpoint (eager attention, as the references compute it), with
    PEFT's LoRA adapter attached unmerged when one is given."""
    import transformers
    # transformers 4.56 renamed from_pretrained's torch_dtype to dtype.
    dtype_key = "dtype" if version_tuple(transformers.__version__) >= (4, 56) else "torch_dtype"
    model = transformers.AutoModelForCausalLM.from_pretrained(
        model_dir, attn_implementation="eager", **{dtype_key: dtype})
    if adapter_dir:
        import peft
        model = peft.PeftModel.from_pretrained(model, adapter_dir)
    return model.eval()


def final_norm(model):
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.model.norm


@torch.no_grad()
def forward(model, input_ids, attention_mask):
    """Logits, hidden states and the final norm's input of one (possibly left-padded) batch."""
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    # Positions as generate() makes them for left-padded batches, as hf_reference.py does.
    position_ids = attention_mask.long().cumsum(-1) - 1
    position_ids.masked_fill_(attention_mask == 0, 1)
    captured = {}
    hook = final_norm(model).register_forward_pre_hook(lambda module, args: captured.update(last=args[0]))
    try:
        out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                    output_hidden_states=True, use_cache=False)
    finally:
        hook.remove()
    return out.logits.float(), out.hidden_states, captured["last"]


def run_forward(model_dir, adapter_dir, inputs_path, output_path, dtype_name):
    model = load_model(model_dir, adapter_dir, hf_reference.COMPUTE_DTYPES[dtype_name])
    inputs = hf_reference.read_safetensors(inputs_path)
    outputs = {}
    for key in sorted(inputs):
        if not key.endswith(".input_ids"):
            continue
        case = key[:-len(".input_ids")]
        logits, hidden_states, last = forward(model, inputs[key], inputs.get(case + ".attention_mask"))
        outputs[case + ".logits"] = logits
        for i, state in enumerate(hidden_states):
            outputs[f"{case}.hidden_states.{i}"] = state.float()
        outputs[case + ".last_layer_output"] = last.float()
    hf_reference.write_safetensors(output_path, outputs)


def selected():
    """Whether the references should hand their forward pass to this module."""
    choice = os.environ.get("QTALIGN_REFERENCE", "")
    if choice not in ("", "transformers"):
        raise SystemExit(f"QTALIGN_REFERENCE is '{choice}': the only alternative reference is 'transformers'")
    return choice == "transformers"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("forward")
    run.add_argument("--model", required=True)
    run.add_argument("--adapter", default="")
    run.add_argument("--inputs", required=True)
    run.add_argument("--output", required=True)
    run.add_argument("--dtype", default="fp32", choices=sorted(hf_reference.COMPUTE_DTYPES))
    args = parser.parse_args()
    torch.set_num_threads(1)
    run_forward(args.model, args.adapter, args.inputs, args.output, args.dtype)


if __name__ == "__main__":
    sys.exit(main())
