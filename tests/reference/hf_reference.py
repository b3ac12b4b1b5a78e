#!/usr/bin/python3
"""The forward pass of Hugging Face Qwen2 / Llama / Mistral causal LMs, written independently of
qtalign from the semantics of transformers' modeling code (eager attention), to check qtalign's
checkpoint reader and forward pass against. Needs only torch and the standard library; reads and
writes safetensors by hand.

  hf_reference.py forward --model DIR --inputs IN.safetensors --output OUT.safetensors [--dtype fp32|bf16]
      IN holds "<case>.input_ids" [batch, tokens] (int64) and optionally "<case>.attention_mask".
      OUT holds, per case, in fp32: "<case>.logits", "<case>.hidden_states.<i>" for i = 0..layers
      (transformers' output_hidden_states: embeddings, then each layer's output, the last one after
      the final norm) and "<case>.last_layer_output" (the last layer's output before the final norm).
  hf_reference.py generate --model DIR --prompt-ids 1,2,3 --max-new-tokens N --output OUT.json
      Greedy decoding without any cache (the whole sequence recomputed each step); writes the new
      ids as a JSON list.
  hf_reference.py make-checkpoint --out DIR --model-type qwen2|llama|mistral|qwen3|gemma2|gemma3_text ...
      A random-weight checkpoint in the Hugging Face layout (config.json + safetensors, sharded
      with an index when --shards > 1), with weights scaled so activations and attention are far
      from trivial.
  hf_reference.py jobs FILE.json
      Runs each argument list of the JSON array in FILE in turn (one interpreter start for many).
"""
import argparse
import json
import math
import os
import struct
import sys

import torch

DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}
DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}
COMPUTE_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
HF_DTYPE_NAMES = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}


# ---- safetensors, by hand: 8-byte little-endian header length, JSON header, raw bytes ----

def read_safetensors(path):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    (header_length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_length].decode("utf-8"))
    start = 8 + header_length
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        shape = entry["shape"]
        if end == begin:
            tensors[name] = torch.empty(shape, dtype=dtype)
            continue
        flat = torch.frombuffer(data[start + begin:start + end], dtype=dtype)
        tensors[name] = flat.reshape(shape).clone()
    return tensors


def tensor_bytes(tensor):
    tensor = tensor.contiguous()
    if tensor.dtype in (torch.bfloat16, torch.float16):
        return tensor.view(torch.int16).numpy().tobytes()
    return tensor.numpy().tobytes()


def write_safetensors(path, tensors):
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    chunks = []
    for name, tensor in tensors.items():
        raw = tensor_bytes(tensor)
        header[name] = {"dtype": DTYPE_NAMES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        chunks.append(raw)
    text = json.dumps(header).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    temporary = path + ".tmp"
    with open(temporary, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)
    os.replace(temporary, path)


# ---- checkpoint directory ----

def load_checkpoint(directory):
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    single = os.path.join(directory, "model.safetensors")
    if os.path.exists(single):
        weights = read_safetensors(single)
    else:
        with open(os.path.join(directory, "model.safetensors.index.json")) as f:
            index = json.load(f)
        weights = {}
        for shard in sorted(set(index["weight_map"].values())):
            weights.update(read_safetensors(os.path.join(directory, shard)))
    return config, weights


# ---- the model, as transformers computes it ----

class Architecture:
    def __init__(self, config):
        model_type = config["model_type"]
        if model_type not in ("qwen2", "llama", "mistral"):
            raise SystemExit(f"unsupported model_type {model_type}")
        self.layers = config["num_hidden_layers"]
        self.heads = config["num_attention_heads"]
        default_kv = {"qwen2": 32, "llama": None, "mistral": 8}[model_type]
        self.kv_heads = config.get("num_key_value_heads", default_kv) or self.heads
        self.head_dim = config.get("head_dim") or config["hidden_size"] // self.heads
        self.eps = config.get("rms_norm_eps", 1e-6)
        self.theta = config.get("rope_theta", 10000.0)
        self.tied = config.get("tie_word_embeddings", False)
        self.bias = model_type == "qwen2"  # Qwen2's q/k/v projections always carry a bias


def rms_norm(x, weight, eps):
    input_dtype = x.dtype
    x = x.to(torch.float32)
    variance = x.pow(2).mean(-1, keepdim=True)
    x = x * torch.rsqrt(variance + eps)
    return weight * x.to(input_dtype)


def rotary_cos_sin(position_ids, head_dim, theta, dtype):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    freqs = position_ids[:, :, None].float() * inv_freq[None, None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(x, cos, sin):
    cos = cos.unsqueeze(1)  # [batch, 1, tokens, head_dim]
    sin = sin.unsqueeze(1)
    return (x * cos) + (rotate_half(x) * sin)


def repeat_kv(x, times):
    batch, kv_heads, tokens, head_dim = x.shape
    if times == 1:
        return x
    x = x[:, :, None, :, :].expand(batch, kv_heads, times, tokens, head_dim)
    return x.reshape(batch, kv_heads * times, tokens, head_dim)


def causal_mask(attention_mask, dtype):
    """The additive 4-D mask transformers builds from a 2-D padding mask: a query may attend to
    real keys at or before its own index; everything else gets the dtype's lowest value."""
    batch, tokens = attention_mask.shape
    lowest = torch.finfo(dtype).min
    causal = torch.full((tokens, tokens), lowest, dtype=dtype).triu(1)
    mask = causal[None, None, :, :].expand(batch, 1, tokens, tokens).clone()
    padding = attention_mask[:, None, None, :] == 0
    return mask.masked_fill(padding, lowest)


def linear(x, weights, name, bias=False):
    return torch.nn.functional.linear(x, weights[name + ".weight"], weights[name + ".bias"] if bias else None)


def attention(arch, weights, prefix, x, cos, sin, mask):
    batch, tokens, _ = x.shape
    q = linear(x, weights, prefix + "q_proj", arch.bias).view(batch, tokens, arch.heads, arch.head_dim).transpose(1, 2)
    k = linear(x, weights, prefix + "k_proj", arch.bias).view(batch, tokens, arch.kv_heads, arch.head_dim).transpose(1, 2)
    v = linear(x, weights, prefix + "v_proj", arch.bias).view(batch, tokens, arch.kv_heads, arch.head_dim).transpose(1, 2)
    q = apply_rotary(q, cos, sin)
    k = apply_rotary(k, cos, sin)
    k = repeat_kv(k, arch.heads // arch.kv_heads)
    v = repeat_kv(v, arch.heads // arch.kv_heads)
    scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(arch.head_dim)
    scores = scores + mask
    probabilities = torch.nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
    context = torch.matmul(probabilities, v).transpose(1, 2).reshape(batch, tokens, arch.heads * arch.head_dim)
    return linear(context, weights, prefix + "o_proj")


def mlp(weights, prefix, x):
    gate = torch.nn.functional.silu(linear(x, weights, prefix + "gate_proj"))
    return linear(gate * linear(x, weights, prefix + "up_proj"), weights, prefix + "down_proj")


@torch.no_grad()
def forward(arch, weights, input_ids, attention_mask, dtype):
    """Returns logits (fp32), the hidden states as transformers' output_hidden_states gives them,
    and the last layer's output before the final norm."""
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    # Positions as transformers' generate() makes them for padded batches.
    position_ids = attention_mask.long().cumsum(-1) - 1
    position_ids.masked_fill_(attention_mask == 0, 1)
    x = torch.nn.functional.embedding(input_ids, weights["model.embed_tokens.weight"])
    cos, sin = rotary_cos_sin(position_ids, arch.head_dim, arch.theta, dtype)
    mask = causal_mask(attention_mask, dtype)
    hidden_states = [x]
    for i in range(arch.layers):
        prefix = f"model.layers.{i}."
        residual = x
        x = rms_norm(x, weights[prefix + "input_layernorm.weight"], arch.eps)
        x = residual + attention(arch, weights, prefix + "self_attn.", x, cos, sin, mask)
        residual = x
        x = rms_norm(x, weights[prefix + "post_attention_layernorm.weight"], arch.eps)
        x = residual + mlp(weights, prefix + "mlp.", x)
        hidden_states.append(x)
    last_layer_output = x
    x = rms_norm(x, weights["model.norm.weight"], arch.eps)
    hidden_states[-1] = x
    lm_head = weights["model.embed_tokens.weight" if arch.tied else "lm_head.weight"]
    logits = torch.nn.functional.linear(x, lm_head).float()
    return logits, hidden_states, last_layer_output


def run_forward(args):
    config, weights = load_checkpoint(args.model)
    arch = Architecture(config)
    dtype = COMPUTE_DTYPES[args.dtype]
    weights = {name: tensor.to(dtype) for name, tensor in weights.items()}
    inputs = read_safetensors(args.inputs)
    outputs = {}
    for key in sorted(inputs):
        if not key.endswith(".input_ids"):
            continue
        case = key[:-len(".input_ids")]
        mask = inputs.get(case + ".attention_mask")
        logits, hidden_states, last = forward(arch, weights, inputs[key], mask, dtype)
        outputs[case + ".logits"] = logits
        for i, state in enumerate(hidden_states):
            outputs[f"{case}.hidden_states.{i}"] = state.float()
        outputs[case + ".last_layer_output"] = last.float()
    write_safetensors(args.output, outputs)


def run_generate(args):
    config, weights = load_checkpoint(args.model)
    arch = Architecture(config)
    weights = {name: tensor.float() for name, tensor in weights.items()}
    ids = [int(token) for token in args.prompt_ids.split(",")]
    generated = []
    for _ in range(args.max_new_tokens):
        logits, _, _ = forward(arch, weights, torch.tensor([ids + generated]), None, torch.float32)
        generated.append(int(logits[0, -1].argmax()))
    with open(args.output, "w") as f:
        json.dump(generated, f)


# ---- random checkpoints ----

ARCHITECTURE_NAMES = {"qwen2": "Qwen2ForCausalLM", "llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
                      "qwen3": "Qwen3ForCausalLM", "gemma2": "Gemma2ForCausalLM", "gemma3_text": "Gemma3ForCausalLM"}
GEMMA_TYPES = ("gemma2", "gemma3_text")


def make_checkpoint(args):
    generator = torch.Generator().manual_seed(args.seed)
    hidden, heads = args.hidden_size, args.heads
    head_dim = args.head_dim or hidden // heads
    kv_heads = args.kv_heads or heads
    gemma = args.model_type in GEMMA_TYPES
    tie = args.tie or gemma  # Gemma's classes always tie the output projection to the embeddings
    qk_norm = args.model_type in ("qwen3", "gemma3_text")
    bias = args.model_type == "qwen2" or args.attention_bias

    def normal(*shape, std=1.0, mean=0.0):
        return torch.randn(*shape, generator=generator) * std + mean

    # Gemma stores RMSNorm weights as offsets from 1 (it scales by 1 + w), the others as the scale.
    norm_mean = 0.0 if gemma else 1.0
    weights = {"model.embed_tokens.weight": normal(args.vocab_size, hidden)}
    for i in range(args.layers):
        prefix = f"model.layers.{i}."
        widths = {"q_proj": heads * head_dim, "k_proj": kv_heads * head_dim, "v_proj": kv_heads * head_dim}
        for name, width in widths.items():
            # Larger query/key weights make attention sharply non-uniform, so errors in RoPE,
            # masking or head grouping show in the outputs.
            gain = 2.0 if name in ("q_proj", "k_proj") else 1.0
            weights[prefix + f"self_attn.{name}.weight"] = normal(width, hidden, std=gain / math.sqrt(hidden))
            if bias:
                weights[prefix + f"self_attn.{name}.bias"] = normal(width, std=0.5)
        weights[prefix + "self_attn.o_proj.weight"] = normal(hidden, heads * head_dim, std=1 / math.sqrt(heads * head_dim))
        weights[prefix + "mlp.gate_proj.weight"] = normal(args.intermediate_size, hidden, std=1 / math.sqrt(hidden))
        weights[prefix + "mlp.up_proj.weight"] = normal(args.intermediate_size, hidden, std=1 / math.sqrt(hidden))
        weights[prefix + "mlp.down_proj.weight"] = normal(hidden, args.intermediate_size,
                                                          std=1 / math.sqrt(args.intermediate_size))
        weights[prefix + "input_layernorm.weight"] = normal(hidden, std=0.1, mean=norm_mean)
        weights[prefix + "post_attention_layernorm.weight"] = normal(hidden, std=0.1, mean=norm_mean)
        if gemma:
            weights[prefix + "pre_feedforward_layernorm.weight"] = normal(hidden, std=0.1, mean=norm_mean)
            weights[prefix + "post_feedforward_layernorm.weight"] = normal(hidden, std=0.1, mean=norm_mean)
        if qk_norm:
            # Normalized queries and keys have unit RMS; an effective scale near 2 keeps attention sharp.
            for name in ("q_norm", "k_norm"):
                weights[prefix + f"self_attn.{name}.weight"] = normal(head_dim, std=0.5, mean=1.0 if gemma else 2.0)
    weights["model.norm.weight"] = normal(hidden, std=0.1, mean=norm_mean)
    if not tie:
        weights["lm_head.weight"] = normal(args.vocab_size, hidden, std=1 / math.sqrt(hidden))

    disk_dtype = COMPUTE_DTYPES[args.dtype]
    weights = {name: tensor.to(disk_dtype) for name, tensor in weights.items()}
    config = {
        "architectures": [ARCHITECTURE_NAMES[args.model_type]],
        "model_type": args.model_type,
        "vocab_size": args.vocab_size,
        "hidden_size": hidden,
        "intermediate_size": args.intermediate_size,
        "num_hidden_layers": args.layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "hidden_act": "gelu_pytorch_tanh" if gemma else "silu",
        "max_position_embeddings": args.max_position_embeddings,
        "rms_norm_eps": args.rms_norm_eps,
        "rope_theta": args.rope_theta,
        "rope_scaling": json.loads(args.rope_scaling) if args.rope_scaling else None,
        "tie_word_embeddings": tie,
        "torch_dtype": HF_DTYPE_NAMES[disk_dtype],
        "bos_token_id": 1,
        "eos_token_id": 2,
    }
    if args.head_dim or args.model_type in ("qwen3",) + GEMMA_TYPES:
        config["head_dim"] = head_dim
    window = args.sliding_window or 4096
    if args.model_type in ("qwen2", "qwen3"):
        config.update(use_sliding_window=args.use_sliding_window, sliding_window=window,
                      max_window_layers=args.layers if args.max_window_layers < 0 else args.max_window_layers)
    if args.model_type == "mistral":
        config["sliding_window"] = window
    new_family = args.model_type in ("qwen3",) + GEMMA_TYPES
    if new_family:
        config["attention_bias"] = args.attention_bias
        config["attention_dropout"] = 0.0
    if gemma:
        # As Hugging Face writes Gemma configs: both activation keys, no tie_word_embeddings (the class
        # default, true), pad id 0, soft-capping written as null when off.
        del config["tie_word_embeddings"]
        config.update(hidden_activation=args.hidden_activation, pad_token_id=0, bos_token_id=2, eos_token_id=1,
                      query_pre_attn_scalar=args.query_pre_attn_scalar or head_dim, sliding_window=window,
                      attn_logit_softcapping=args.attn_logit_softcapping or None,
                      final_logit_softcapping=args.final_logit_softcapping or None,
                      cache_implementation="hybrid")
    if args.model_type == "gemma2":
        del config["rope_scaling"]  # Gemma2Config has no rope_scaling
        config["sliding_window_size"] = window
    if args.model_type == "gemma3_text":
        config.update(rope_local_base_freq=args.rope_local_base_freq, sliding_window_pattern=args.sliding_window_pattern)
    if args.layer_types:
        config["layer_types"] = args.layer_types.split(",")
    if new_family:
        config = dict(sorted(config.items()))  # transformers writes config.json with sorted keys

    os.makedirs(args.out, exist_ok=True)
    names = list(weights)
    if args.shards <= 1:
        write_safetensors(os.path.join(args.out, "model.safetensors"), weights)
    else:
        per_shard = math.ceil(len(names) / args.shards)
        weight_map = {}
        for shard in range(args.shards):
            file_name = f"model-{shard + 1:05d}-of-{args.shards:05d}.safetensors"
            chunk = {name: weights[name] for name in names[shard * per_shard:(shard + 1) * per_shard]}
            write_safetensors(os.path.join(args.out, file_name), chunk)
            weight_map.update({name: file_name for name in chunk})
        total = sum(tensor.numel() * tensor.element_size() for tensor in weights.values())
        with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("forward")
    run.add_argument("--model", required=True)
    run.add_argument("--inputs", required=True)
    run.add_argument("--output", required=True)
    run.add_argument("--dtype", default="fp32", choices=sorted(COMPUTE_DTYPES))
    generate = commands.add_parser("generate")
    generate.add_argument("--model", required=True)
    generate.add_argument("--prompt-ids", required=True)
    generate.add_argument("--max-new-tokens", type=int, required=True)
    generate.add_argument("--output", required=True)
    make = commands.add_parser("make-checkpoint")
    make.add_argument("--out", required=True)
    make.add_argument("--model-type", required=True, choices=sorted(ARCHITECTURE_NAMES))
    make.add_argument("--vocab-size", type=int, default=97)
    make.add_argument("--hidden-size", type=int, default=64)
    make.add_argument("--intermediate-size", type=int, default=112)
    make.add_argument("--layers", type=int, default=2)
    make.add_argument("--heads", type=int, default=4)
    make.add_argument("--kv-heads", type=int, default=0, help="0 = as many as --heads")
    make.add_argument("--head-dim", type=int, default=0, help="0 = hidden size / heads, not written to config.json")
    make.add_argument("--rope-theta", type=float, default=10000.0)
    make.add_argument("--rms-norm-eps", type=float, default=1e-6)
    make.add_argument("--max-position-embeddings", type=int, default=4096)
    make.add_argument("--rope-scaling", default="", help="config.json's rope_scaling, as JSON (default null)")
    make.add_argument("--attention-bias", action="store_true", help="q/k/v biases (always on for qwen2)")
    make.add_argument("--sliding-window", type=int, default=0, help="0 = 4096")
    make.add_argument("--use-sliding-window", action="store_true", help="qwen2/qwen3")
    make.add_argument("--max-window-layers", type=int, default=-1, help="qwen2/qwen3; -1 = all layers")
    make.add_argument("--sliding-window-pattern", type=int, default=6, help="gemma3_text")
    make.add_argument("--layer-types", default="", help="comma-separated layer_types, written when given")
    make.add_argument("--rope-local-base-freq", type=float, default=10000.0, help="gemma3_text")
    make.add_argument("--query-pre-attn-scalar", type=int, default=0, help="gemma; 0 = head_dim")
    make.add_argument("--attn-logit-softcapping", type=float, default=0, help="gemma; 0 = null")
    make.add_argument("--final-logit-softcapping", type=float, default=0, help="gemma; 0 = null")
    make.add_argument("--hidden-activation", default="gelu_pytorch_tanh", help="gemma")
    make.add_argument("--tie", action="store_true")
    make.add_argument("--dtype", default="fp32", choices=sorted(COMPUTE_DTYPES))
    make.add_argument("--shards", type=int, default=1)
    make.add_argument("--seed", type=int, default=0)
    jobs = commands.add_parser("jobs")
    jobs.add_argument("file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.command == "forward":
        run_forward(args)
    elif args.command == "generate":
        run_generate(args)
    elif args.command == "make-checkpoint":
        make_checkpoint(args)
    else:
        with open(args.file) as f:
            for job in json.load(f):
                main(job)


if __name__ == "__main__":
    sys.exit(main())
