#!/usr/bin/python3
"""bitsandbytes' 4-bit weight quantization (quantize_4bit / dequantize_4bit, NF4 and FP4, double
quantization of the absmax values) and transformers' way of saving such a model, written
independently of qtalign with torch tensor operations, to check qtalign's quantizer and its reader
of "-bnb-4bit" checkpoints against.

  bnb_reference.py quantize --model DIR --quant-type nf4|fp4 --blocksize N
                            --dequantized OUT_DIR --bnb OUT_DIR [--double-quant]
      Quantizes every decoder linear weight (q/k/v/o/gate/up/down) of the fp32 checkpoint in DIR.
      --dequantized: the same checkpoint with those weights replaced by dequantize(quantize(W)) (fp32).
      --bnb: the checkpoint as transformers saves a bitsandbytes 4-bit model: packed uint8 codes
      [ceil(n/2), 1] and, per weight, .absmax, .quant_map, .quant_state.bitsandbytes__<type> (JSON
      bytes) and, with --double-quant, .nested_absmax and .nested_quant_map; quantization_config in
      config.json. Everything else is copied as it is.
"""
import argparse
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_reference import load_checkpoint, write_safetensors  # noqa: E402

NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
       -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
       0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
       0.7229568362236023, 1.0]
FP4 = [v / 12.0 for v in [0, 0.0625, 8.0, 12.0, 4.0, 6.0, 2.0, 3.0, -0.0, -0.0625, -8.0, -12.0, -4.0, -6.0, -2.0, -3.0]]
# bitsandbytes' FP4 magnitude thresholds, and the 3-bit magnitude codes in increasing order.
FP4_THRESHOLDS = [0.00260417, 0.0859375, 0.20833333, 0.29166667, 0.4166667, 0.583333, 0.8333333]
FP4_MAGNITUDE_CODES = [0b000, 0b001, 0b110, 0b111, 0b100, 0b101, 0b010, 0b011]
LINEARS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
           "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]


def code_for(scaled, quant_type):
    """The code of each value already multiplied by 1/absmax: the nearest code value, a value exactly
    halfway going to the lower one (bitsandbytes' kernels compare with '>'), float32 midpoints."""
    if quant_type == "nf4":
        book = torch.tensor(NF4, dtype=torch.float64)
        midpoints = ((book[:-1] + book[1:]) / 2).to(torch.float32)
        return torch.bucketize(scaled, midpoints, right=False)
    magnitude = torch.bucketize(scaled.abs(), torch.tensor(FP4_THRESHOLDS, dtype=torch.float32), right=False)
    codes = torch.tensor(FP4_MAGNITUDE_CODES)[magnitude]
    return codes + 8 * (scaled < 0).to(torch.int64)


def quantize(weight, quant_type, blocksize):
    flat = weight.to(torch.float32).reshape(-1)
    n = flat.numel()
    blocks = (n + blocksize - 1) // blocksize
    padded = torch.zeros(blocks * blocksize, dtype=torch.float32)
    padded[:n] = flat
    padded = padded.view(blocks, blocksize)
    absmax = padded.abs().max(dim=1).values
    scaled = padded * (1.0 / absmax).unsqueeze(1)  # the kernel multiplies by the fp32 reciprocal
    codes = code_for(scaled.nan_to_num(0.0), quant_type)
    # An all-zero block scales 0 by inf: NaN compares false everywhere, which gives code 0.
    codes[absmax == 0] = 0
    # Past the end the kernel quantizes zeros: an odd count ends with the code of 0 in a low nibble.
    codes = codes.reshape(-1)[: n + (n % 2)]
    packed = (codes[0::2] << 4 | codes[1::2]).to(torch.uint8)
    return packed, absmax


def dequantize(packed, absmax, quant_type, blocksize, shape):
    n = shape[0] * shape[1]
    codes = torch.stack([packed.to(torch.int64) >> 4, packed.to(torch.int64) & 15], dim=1).reshape(-1)[:n]
    book = torch.tensor(NF4 if quant_type == "nf4" else FP4, dtype=torch.float32)
    scales = absmax.repeat_interleave(blocksize)[:n]
    return (book[codes] * scales).reshape(shape)


def dynamic_map():
    """bitsandbytes' create_dynamic_map(signed=True): 7 exponent ranges of 10x, each split linearly."""
    data = []
    for i in range(7):
        boundaries = torch.linspace(0.1, 1, 2 ** i + 1, dtype=torch.float32)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-6 + i)) * means).tolist()
        data += (-(10 ** (-6 + i)) * means).tolist()
    data += [0.0, 1.0]
    return torch.tensor(sorted(data), dtype=torch.float32)


def dynamic_code_for(scaled, code):
    """The 8-bit code of each value already multiplied by 1/absmax, as bitsandbytes' CUDA kernel
    (dQuantize) picks it: the nearest entry of the sorted map by float32 midpoints between
    neighbours, a value exactly on a midpoint going to the even index of the two (its binary search
    only ever compares with odd entries, then keeps the even one it stopped at unless the value is
    strictly past a midpoint); NaN (a block all at the offset: 0 * inf) gives 0."""
    midpoints = (code[:-1] + code[1:]) * 0.5  # float32, as the kernel computes them
    q = torch.bucketize(scaled, midpoints, right=False)  # how many midpoints lie strictly below
    on_midpoint = torch.zeros_like(q, dtype=torch.bool)
    inside = q < midpoints.numel()
    on_midpoint[inside] = scaled[inside] == midpoints[q[inside]]
    q = torch.where(on_midpoint & (q % 2 == 1), q + 1, q)
    q[torch.isnan(scaled)] = 0
    return q.to(torch.uint8)


def double_quantize(absmax):
    """bitsandbytes' compress_statistics: the absmax values minus their mean, then blockwise (256)
    8-bit with the dynamic map, each block scaled by the fp32 reciprocal of its largest magnitude."""
    offset = absmax.mean()
    centred = absmax - offset
    code = dynamic_map()
    n = centred.numel()
    blocks = (n + 255) // 256
    padded = torch.zeros(blocks * 256)
    padded[:n] = centred
    nested_absmax = padded.view(blocks, 256).abs().max(dim=1).values
    scaled = (padded.view(blocks, 256) * (1.0 / nested_absmax).unsqueeze(1)).reshape(-1)[:n]
    q = dynamic_code_for(scaled, code)
    dequantized = code[q.to(torch.int64)] * nested_absmax.repeat_interleave(256)[:n] + offset
    return q, nested_absmax, code, offset, dequantized


def quantize_command(args):
    config, weights = load_checkpoint(args.model)
    dequantized, stored = dict(weights), {}
    for name, tensor in weights.items():
        if not (name.startswith("model.layers.") and any(name.endswith(m + ".weight") for m in LINEARS)):
            stored[name] = tensor
            continue
        packed, absmax = quantize(tensor, args.quant_type, args.blocksize)
        state = {"quant_type": args.quant_type, "blocksize": args.blocksize, "dtype": "float32",
                 "shape": list(tensor.shape)}
        stored[name] = packed.reshape(-1, 1)
        if args.double_quant:
            q, nested_absmax, code, offset, absmax = double_quantize(absmax)
            stored[name + ".absmax"] = q
            stored[name + ".nested_absmax"] = nested_absmax
            stored[name + ".nested_quant_map"] = code
            state.update({"nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": offset.item()})
        else:
            stored[name + ".absmax"] = absmax
        stored[name + ".quant_map"] = torch.tensor(NF4 if args.quant_type == "nf4" else FP4, dtype=torch.float32)
        stored[name + ".quant_state.bitsandbytes__" + args.quant_type] = torch.tensor(
            list(json.dumps(state).encode("utf-8")), dtype=torch.uint8)
        dequantized[name] = dequantize(packed, absmax, args.quant_type, args.blocksize, tensor.shape)

    for directory, tensors in ((args.dequantized, dequantized), (args.bnb, stored)):
        os.makedirs(directory, exist_ok=True)
        write_safetensors(os.path.join(directory, "model.safetensors"), tensors)
    with open(os.path.join(args.dequantized, "config.json"), "w") as f:
        json.dump(config, f)
    config = dict(config)
    config["quantization_config"] = {
        "_load_in_4bit": True, "_load_in_8bit": False, "bnb_4bit_compute_dtype": "float32",
        "bnb_4bit_quant_storage": "uint8", "bnb_4bit_quant_type": args.quant_type,
        "bnb_4bit_use_double_quant": args.double_quant, "llm_int8_enable_fp32_cpu_offload": False,
        "llm_int8_has_fp16_weight": False, "llm_int8_skip_modules": None, "llm_int8_threshold": 6.0,
        "load_in_4bit": True, "load_in_8bit": False, "quant_method": "bitsandbytes"}
    with open(os.path.join(args.bnb, "config.json"), "w") as f:
        json.dump(config, f)
    for extra in ("tokenizer.json",):
        if os.path.exists(os.path.join(args.model, extra)):
            shutil.copy(os.path.join(args.model, extra), args.bnb)


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("quantize")
    q.add_argument("--model", required=True)
    q.add_argument("--quant-type", choices=["nf4", "fp4"], default="nf4")
    q.add_argument("--blocksize", type=int, default=64)
    q.add_argument("--dequantized", required=True)
    q.add_argument("--bnb", required=True)
    q.add_argument("--double-quant", action="store_true")
    args = parser.parse_args()
    quantize_command(args)


if __name__ == "__main__":
    main()
