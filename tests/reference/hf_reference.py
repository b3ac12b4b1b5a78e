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
      With QTALIGN_REFERENCE=transformers, transformers itself computes them (transformers_reference.py).
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

# Per family: the config class defaults a config.json may leave out, and what the family always does.
FAMILIES = {
    # model_type: (default kv heads (None = heads), default head_dim (None = hidden / heads), tied by default)
    "qwen2": (32, None, False),
    "llama": (None, None, False),
    "mistral": (8, None, False),
    "qwen3": (32, 128, False),
    "gemma2": (16, 256, True),
    "gemma3_text": (4, 256, True),
}


class Architecture:
    def __init__(self, config):
        model_type = config["model_type"]
        if model_type not in FAMILIES:
            raise SystemExit(f"unsupported model_type {model_type}")
        default_kv, default_head_dim, default_tie = FAMILIES[model_type]
        self.layers = config["num_hidden_layers"]
        self.heads = config["num_attention_heads"]
        self.kv_heads = config.get("num_key_value_heads", default_kv) or self.heads
        self.head_dim = config.get("head_dim") or default_head_dim or config["hidden_size"] // self.heads
        self.eps = config.get("rms_norm_eps", 1e-6)
        self.theta = config.get("rope_theta", 10000.0)
        self.tied = config.get("tie_word_embeddings", default_tie)
        self.gemma = model_type in ("gemma2", "gemma3_text")
        # Qwen2's q/k/v projections always carry a bias; the others' q/k/v/o follow attention_bias.
        self.bias = model_type == "qwen2" or config.get("attention_bias", False)
        self.output_bias = model_type != "qwen2" and self.bias
        self.qk_norm = model_type in ("qwen3", "gemma3_text")
        self.activation = config.get("hidden_activation", "gelu_pytorch_tanh") if self.gemma else config.get("hidden_act", "silu")
        if self.activation not in ("silu", "gelu_pytorch_tanh"):
            raise SystemExit(f"unsupported activation {self.activation}")
        self.scaling = (config.get("query_pre_attn_scalar", 256) if self.gemma else self.head_dim) ** -0.5
        self.attn_softcap = config.get("attn_logit_softcapping", 50.0 if model_type == "gemma2" else None)
        self.final_softcap = config.get("final_logit_softcapping", 30.0 if model_type == "gemma2" else None)
        self.max_positions = config.get("max_position_embeddings", 2048)
        self.hidden_size_root = config["hidden_size"] ** 0.5
        # Per layer: (sliding window or None, rope base, rope_scaling)
        window = config.get("sliding_window")
        if model_type == "gemma2":
            default_types = ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(self.layers)]
        elif model_type == "gemma3_text":
            pattern = config.get("sliding_window_pattern", 6)
            default_types = ["sliding_attention" if (i + 1) % pattern else "full_attention" for i in range(self.layers)]
        elif model_type in ("qwen2", "qwen3"):
            if not config.get("use_sliding_window", False):
                window = None
            first = config.get("max_window_layers", 28)
            default_types = ["sliding_attention" if window and i >= first else "full_attention"
                             for i in range(self.layers)]
        elif model_type == "mistral":
            default_types = ["sliding_attention" if window else "full_attention"] * self.layers
        else:
            default_types = ["full_attention"] * self.layers
        layer_types = config.get("layer_types") or default_types
        scaling = config.get("rope_scaling")
        local_base = config.get("rope_local_base_freq", 10000.0)
        self.layer_settings = []
        for kind in layer_types:
            sliding = kind == "sliding_attention"
            if model_type == "gemma3_text" and sliding:
                self.layer_settings.append((window, local_base, None))
            else:
                self.layer_settings.append((window if sliding else None, self.theta, scaling))


def rms_norm(x, weight, eps, offset=False):
    input_dtype = x.dtype
    x = x.to(torch.float32)
    variance = x.pow(2).mean(-1, keepdim=True)
    x = x * torch.rsqrt(variance + eps)
    if offset:
        # Gemma: scale by (1 + w) in fp32, then cast back.
        return (x * (1.0 + weight.float())).to(input_dtype)
    return weight * x.to(input_dtype)


def inverse_frequencies(head_dim, theta, scaling, max_positions, seq_len):
    """transformers' ROPE_INIT_FUNCTIONS for the default, linear, dynamic and llama3 rope types.
    seq_len: the largest position in the pass + 1 (dynamic NTK rescales the base beyond the context)."""
    kind = "default"
    if scaling:
        kind = scaling.get("rope_type", scaling.get("type", "default"))
    exponents = torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim
    if kind == "dynamic":
        factor = scaling["factor"]
        length = seq_len if seq_len > max_positions else max_positions
        theta = theta * ((factor * length / max_positions) - (factor - 1)) ** (head_dim / (head_dim - 2))
    inv_freq = 1.0 / (theta ** exponents)
    if kind == "linear":
        inv_freq = inv_freq / scaling["factor"]
    elif kind == "llama3":
        factor = scaling["factor"]
        low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
        old_context = scaling["original_max_position_embeddings"]
        low_freq_wavelen = old_context / low
        high_freq_wavelen = old_context / high
        wavelen = 2 * math.pi / inv_freq
        scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
        smooth = (old_context / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
        inv_freq = torch.where(medium, smoothed, scaled)
    elif kind not in ("default", "dynamic"):
        raise SystemExit(f"unsupported rope_type {kind}")
    return inv_freq


def rotary_cos_sin(position_ids, inv_freq, dtype):
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


def causal_mask(attention_mask, dtype, position_ids=None, window=None):
    """The additive 4-D mask transformers builds from a 2-D padding mask: a query may attend to
    real keys at or before its own index; everything else gets the dtype's lowest value. With a
    sliding window, a key also must lie fewer than `window` positions before the query. (transformers
    measures the window in indices of the padded row; positions are the same wherever padding does
    not sit between real tokens, and keep a padded row's result equal to the unpadded sequence's.)"""
    batch, tokens = attention_mask.shape
    lowest = torch.finfo(dtype).min
    causal = torch.full((tokens, tokens), lowest, dtype=dtype).triu(1)
    mask = causal[None, None, :, :].expand(batch, 1, tokens, tokens).clone()
    padding = attention_mask[:, None, None, :] == 0
    mask = mask.masked_fill(padding, lowest)
    if window is not None:
        distance = position_ids[:, :, None] - position_ids[:, None, :]  # [batch, query, key]
        mask = mask.masked_fill((distance >= window)[:, None, :, :], lowest)
    return mask


def linear(x, weights, name, bias=False):
    return torch.nn.functional.linear(x, weights[name + ".weight"], weights[name + ".bias"] if bias else None)


def softcap(x, cap):
    return torch.tanh(x / cap) * cap if cap else x


def attention(arch, weights, prefix, x, cos, sin, mask):
    batch, tokens, _ = x.shape
    q = linear(x, weights, prefix + "q_proj", arch.bias).view(batch, tokens, arch.heads, arch.head_dim)
    k = linear(x, weights, prefix + "k_proj", arch.bias).view(batch, tokens, arch.kv_heads, arch.head_dim)
    v = linear(x, weights, prefix + "v_proj", arch.bias).view(batch, tokens, arch.kv_heads, arch.head_dim).transpose(1, 2)
    if arch.qk_norm:
        q = rms_norm(q, weights[prefix + "q_norm.weight"], arch.eps, arch.gemma)
        k = rms_norm(k, weights[prefix + "k_norm.weight"], arch.eps, arch.gemma)
    q = apply_rotary(q.transpose(1, 2), cos, sin)
    k = apply_rotary(k.transpose(1, 2), cos, sin)
    k = repeat_kv(k, arch.heads // arch.kv_heads)
    v = repeat_kv(v, arch.heads // arch.kv_heads)
    if arch.gemma or arch.qk_norm:
        scores = torch.matmul(q, k.transpose(2, 3)) * arch.scaling
    else:
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(arch.head_dim)
    scores = softcap(scores, arch.attn_softcap)
    scores = scores + mask
    probabilities = torch.nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
    context = torch.matmul(probabilities, v).transpose(1, 2).reshape(batch, tokens, arch.heads * arch.head_dim)
    return linear(context, weights, prefix + "o_proj", arch.output_bias)


def mlp(arch, weights, prefix, x):
    gate = linear(x, weights, prefix + "gate_proj")
    if arch.activation == "silu":
        gate = torch.nn.functional.silu(gate)
    else:
        gate = torch.nn.functional.gelu(gate, approximate="tanh")
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
    if arch.gemma:
        x = x * torch.tensor(arch.hidden_size_root, dtype=x.dtype)
    seq_len = int(position_ids.max()) + 1
    tables = {}
    for window, theta, scaling in arch.layer_settings:
        key = (window, theta, json.dumps(scaling, sort_keys=True))
        if key not in tables:
            inv_freq = inverse_frequencies(arch.head_dim, theta, scaling, arch.max_positions, seq_len)
            tables[key] = rotary_cos_sin(position_ids, inv_freq, dtype) + (
                causal_mask(attention_mask, dtype, position_ids, window),)
    hidden_states = [x]
    for i in range(arch.layers):
        prefix = f"model.layers.{i}."
        window, theta, scaling = arch.layer_settings[i]
        cos, sin, mask = tables[(window, theta, json.dumps(scaling, sort_keys=True))]
        residual = x
        x = rms_norm(x, weights[prefix + "input_layernorm.weight"], arch.eps, arch.gemma)
        x = attention(arch, weights, prefix + "self_attn.", x, cos, sin, mask)
        if arch.gemma:
            x = rms_norm(x, weights[prefix + "post_attention_layernorm.weight"], arch.eps, True)
            x = residual + x
            residual = x
            x = rms_norm(x, weights[prefix + "pre_feedforward_layernorm.weight"], arch.eps, True)
            x = mlp(arch, weights, prefix + "mlp.", x)
            x = rms_norm(x, weights[prefix + "post_feedforward_layernorm.weight"], arch.eps, True)
            x = residual + x
        else:
            x = residual + x
            residual = x
            x = rms_norm(x, weights[prefix + "post_attention_layernorm.weight"], arch.eps)
            x = residual + mlp(arch, weights, prefix + "mlp.", x)
        hidden_states.append(x)
    last_layer_output = x
    x = rms_norm(x, weights["model.norm.weight"], arch.eps, arch.gemma)
    hidden_states[-1] = x
    lm_head = weights["model.embed_tokens.weight" if arch.tied else "lm_head.weight"]
    logits = softcap(torch.nn.functional.linear(x, lm_head), arch.final_softcap).float()
    return logits, hidden_states, last_layer_output


def run_forward(args):
    import transformers_reference  # transformers itself instead, when QTALIGN_REFERENCE asks for it
    if transformers_reference.selected():
        transformers_reference.run_forward(args.model, "", args.inputs, args.output, args.dtype)
        return
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
    # Gemma multiplies the embeddings by sqrt(hidden size) (and ties them to the output): stored at
    # 1/sqrt(hidden size) they enter at unit scale and leave logits of the usual size.
    embed_std = 1 / math.sqrt(hidden) if gemma else 1.0
    weights = {"model.embed_tokens.weight": normal(args.vocab_size, hidden, std=embed_std)}
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
        if args.attention_bias and args.model_type != "qwen2":
            weights[prefix + "self_attn.o_proj.bias"] = normal(hidden, std=0.5)
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
    make.add_argument("--attention-bias", action="store_true", help="q/k/v/o biases (qwen2: q/k/v, always)")
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
