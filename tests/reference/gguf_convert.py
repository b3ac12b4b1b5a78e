#!/usr/bin/python3
"""Converts a Hugging Face checkpoint directory (config.json + safetensors, as hf_reference.py
make-checkpoint writes it) and a tokenizer.json into an fp32 GGUF file that llama.cpp loads, so that
llama.cpp (an implementation independent of qtalign and of hf_reference.py) can produce golden logits.
With --type bf16 the matrices are stored in bf16 (GGML type 30) and the vectors (norms, biases) in fp32,
as llama.cpp's own converter does for --outtype bf16; bench/llamacpp_side_by_side.py benchmarks those.
Written from the GGUF format's documented layout (version 3); metadata keys and tensor names are the
ones llama.cpp's loader reads for each architecture. Needs only torch and the standard library.

  gguf_convert.py --model DIR --tokenizer TOKENIZER_DIR --out FILE.gguf [--type f32|bf16]

What llama.cpp expects and transformers does differently, applied here:
- llama / mistral: llama.cpp's LLaMA graph rotates adjacent pairs (GGML's "normal" RoPE), transformers
  rotates the two halves of each head (rotate_half). llama.cpp's converter therefore permutes the rows
  of q_proj and k_proj per head, (2, head_dim/2) -> (head_dim/2, 2); so do we. qwen2, qwen3, gemma2 and
  gemma3 use NeoX RoPE (halves) in llama.cpp and are not permuted.
- gemma2 / gemma3: transformers' Gemma RMSNorm scales by (1 + w); llama.cpp's graph scales by the stored
  weight, so every *norm.weight (q_norm and k_norm included) is stored as 1 + w.
- llama rope_scaling "llama3": llama.cpp reads per-frequency divisors from a rope_freqs tensor, computed
  from the config as transformers computes the scaled inverse frequencies; "linear" becomes
  rope.scaling.type/factor. Other kinds are refused (llama.cpp has no equivalent of transformers' there).
- gemma2 / gemma3: llama.cpp scales queries by 1/sqrt(head_dim) (only its 27B variants by
  hidden/heads) and ignores query_pre_attn_scalar; a config whose query_pre_attn_scalar differs from
  head_dim is refused rather than silently converted into a different model. llama.cpp's Gemma 2
  always soft-caps attention (default 50), so null soft-capping values are refused for gemma2.
- mistral: llama.cpp runs Mistral as LLaMA, without a sliding window, so its goldens only hold prompts
  shorter than the window (72 tokens against 4096); Gemma's goldens check sliding windows instead.
"""
import argparse
import json
import math
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_reference import load_checkpoint, tensor_bytes  # noqa: E402  (the reference's own safetensors code)

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
ALIGNMENT = 32
# GGUF metadata value types
UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64 = 4, 5, 6, 7, 8, 9, 10
GGML_TYPE_F32 = 0
GGML_TYPE_BF16 = 30
# llama.cpp's file types (general.file_type): all fp32, or matrices in bf16
FILE_TYPES = {"f32": 0, "bf16": 32}
# llama.cpp's token types
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6

GGUF_ARCH = {"llama": "llama", "mistral": "llama", "qwen2": "qwen2", "qwen3": "qwen3", "gemma2": "gemma2",
             "gemma3_text": "gemma3"}
PERMUTED_ROPE = ("llama", "mistral")
GEMMA = ("gemma2", "gemma3_text")


class Fail(Exception):
    pass


# ---- GGUF encoding: little-endian; strings are uint64 length + UTF-8 bytes ----

def pack_string(text):
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def pack_value(kind, value):
    if kind == STRING:
        return pack_string(value)
    if kind == BOOL:
        return struct.pack("<?", value)
    return struct.pack({UINT32: "<I", INT32: "<i", FLOAT32: "<f", UINT64: "<Q"}[kind], value)


def pack_kv(key, kind, value, element_kind=None):
    head = pack_string(key) + struct.pack("<I", kind)
    if kind != ARRAY:
        return head + pack_value(kind, value)
    if element_kind == INT32:
        body = struct.pack(f"<{len(value)}i", *value)
    elif element_kind == FLOAT32:
        body = struct.pack(f"<{len(value)}f", *value)
    else:
        body = b"".join(pack_value(element_kind, item) for item in value)
    return head + struct.pack("<IQ", element_kind, len(value)) + body


def write_gguf(path, metadata, tensors):
    """metadata: list of (key, kind, value[, element kind]); tensors: list of (name, fp32 or bf16 tensor)."""
    infos, offset = [], 0
    for name, tensor in tensors:
        dims = list(reversed(tensor.shape))  # GGML lists the fastest-varying dimension first
        kind = GGML_TYPE_BF16 if tensor.dtype == torch.bfloat16 else GGML_TYPE_F32
        infos.append(pack_string(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
                     + struct.pack("<IQ", kind, offset))
        offset += -(-tensor.numel() * tensor.element_size() // ALIGNMENT) * ALIGNMENT
    header = (GGUF_MAGIC + struct.pack("<IQQ", GGUF_VERSION, len(tensors), len(metadata))
              + b"".join(pack_kv(*entry) for entry in metadata) + b"".join(infos))
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(header)
        f.write(b"\0" * (-len(header) % ALIGNMENT))
        for _, tensor in tensors:
            data = tensor_bytes(tensor)
            f.write(data)
            f.write(b"\0" * (-len(data) % ALIGNMENT))
    os.replace(tmp, path)


# ---- tokenizer metadata from tokenizer.json ----

def tokenizer_metadata(tokenizer_dir, vocab_size):
    with open(os.path.join(tokenizer_dir, "tokenizer.json"), encoding="utf-8") as f:
        tokenizer = json.load(f)
    config_path = os.path.join(tokenizer_dir, "tokenizer_config.json")
    config = {}
    if os.path.exists(config_path):
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
    model = tokenizer["model"]
    if model["type"] != "BPE":
        raise Fail(f"{tokenizer_dir}/tokenizer.json: model type {model['type']} is not supported (BPE only)")
    byte_level = not model.get("byte_fallback", False)
    tokens = {token_id: text for text, token_id in model["vocab"].items()}
    special = {}
    for added in tokenizer["added_tokens"]:
        tokens[added["id"]] = added["content"]
        special[added["id"]] = added.get("special", False)
    if max(tokens) >= vocab_size:
        raise Fail(f"{tokenizer_dir}: token id {max(tokens)} does not fit the checkpoint's vocab_size {vocab_size}")
    names, types = [], []
    for token_id in range(vocab_size):
        text = tokens.get(token_id)
        if text is None:
            names.append(f"[PAD{token_id}]")
            types.append(UNUSED)
        elif token_id in special:
            names.append(text)
            types.append(CONTROL if special[token_id] else USER_DEFINED)
        elif not byte_level and len(text) == 6 and text.startswith("<0x") and text.endswith(">"):
            names.append(text)
            types.append(BYTE)
        elif text == model.get("unk_token"):
            names.append(text)
            types.append(UNKNOWN)
        else:
            names.append(text)
            types.append(NORMAL)
    ids = {text: token_id for token_id, text in enumerate(names)}

    def role(name):
        value = config.get(name)
        if isinstance(value, dict):
            value = value.get("content")
        return ids.get(value) if value is not None else None

    metadata = [("tokenizer.ggml.tokens", ARRAY, names, STRING), ("tokenizer.ggml.token_type", ARRAY, types, INT32)]
    if byte_level:
        # GPT-2 style byte-level BPE; the pre-tokenizer name selects llama.cpp's split regex.
        pattern = json.dumps(tokenizer.get("pre_tokenizer"))
        pre = "qwen2" if "\\\\p{N}|" in pattern else "llama-bpe"
        merges = [merge if isinstance(merge, str) else " ".join(merge) for merge in model["merges"]]
        metadata += [("tokenizer.ggml.model", STRING, "gpt2"), ("tokenizer.ggml.pre", STRING, pre),
                     ("tokenizer.ggml.merges", ARRAY, merges, STRING)]
    else:
        # SentencePiece-style BPE with byte fallback; scores only steer llama.cpp's own tokenization
        # (the goldens feed token ids), so earlier tokens simply score higher.
        metadata += [("tokenizer.ggml.model", STRING, "llama"),
                     ("tokenizer.ggml.scores", ARRAY, [-float(i) for i in range(vocab_size)], FLOAT32)]
    for key, name in (("bos", "bos_token"), ("eos", "eos_token"), ("unknown", "unk_token"), ("padding", "pad_token")):
        token_id = role(name)
        if token_id is not None:
            metadata.append((f"tokenizer.ggml.{key}_token_id", UINT32, token_id))
    metadata.append(("tokenizer.ggml.add_bos_token", BOOL, bool(config.get("add_bos_token", False))))
    metadata.append(("tokenizer.ggml.add_eos_token", BOOL, bool(config.get("add_eos_token", False))))
    return metadata


# ---- model metadata and tensors ----

def llama3_rope_divisors(config, head_dim):
    """Per-frequency divisors of RoPE's inverse frequencies, as transformers' llama3 rope type computes them."""
    scaling = config["rope_scaling"]
    factor = scaling["factor"]
    low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
    old_context = scaling["original_max_position_embeddings"]
    divisors = []
    for i in range(0, head_dim, 2):
        inv_freq = 1.0 / (config["rope_theta"] ** (i / head_dim))
        wavelength = 2 * math.pi / inv_freq
        if wavelength < old_context / high:
            divisors.append(1.0)
        elif wavelength > old_context / low:
            divisors.append(factor)
        else:
            smooth = (old_context / wavelength - low) / (high - low)
            divisors.append(1.0 / ((1 - smooth) / factor + smooth))
    return divisors


def model_metadata(config, model_type, head_dim):
    arch = GGUF_ARCH[model_type]
    heads = config["num_attention_heads"]
    out = [("general.architecture", STRING, arch), ("general.name", STRING, f"qtalign golden {model_type}"),
           (f"{arch}.context_length", UINT32, config["max_position_embeddings"]),
           (f"{arch}.embedding_length", UINT32, config["hidden_size"]),
           (f"{arch}.block_count", UINT32, config["num_hidden_layers"]),
           (f"{arch}.feed_forward_length", UINT32, config["intermediate_size"]),
           (f"{arch}.attention.head_count", UINT32, heads),
           (f"{arch}.attention.head_count_kv", UINT32, config.get("num_key_value_heads", heads)),
           (f"{arch}.attention.layer_norm_rms_epsilon", FLOAT32, config["rms_norm_eps"]),
           (f"{arch}.attention.key_length", UINT32, head_dim),
           (f"{arch}.attention.value_length", UINT32, head_dim),
           (f"{arch}.rope.dimension_count", UINT32, head_dim),
           (f"{arch}.rope.freq_base", FLOAT32, config["rope_theta"])]
    scaling = config.get("rope_scaling")
    if scaling:
        kind = scaling.get("rope_type", scaling.get("type"))
        if kind == "linear":
            out += [(f"{arch}.rope.scaling.type", STRING, "linear"), (f"{arch}.rope.scaling.factor", FLOAT32, scaling["factor"])]
        elif not (kind == "llama3" and model_type == "llama"):
            raise Fail(f"rope_scaling {scaling} has no llama.cpp equivalent here")
    if model_type in GEMMA:
        scalar = config.get("query_pre_attn_scalar", head_dim)
        if scalar != head_dim:
            raise Fail(f"query_pre_attn_scalar {scalar} != head_dim {head_dim}: llama.cpp would scale queries differently")
        out.append((f"{arch}.attention.sliding_window", UINT32, config["sliding_window"]))
        if config.get("final_logit_softcapping"):
            out.append((f"{arch}.final_logit_softcapping", FLOAT32, config["final_logit_softcapping"]))
    if model_type == "gemma2":
        if not config.get("attn_logit_softcapping") or not config.get("final_logit_softcapping"):
            raise Fail("gemma2 without attn/final soft-capping: llama.cpp's Gemma 2 always caps")
        out.append((f"{arch}.attn_logit_softcapping", FLOAT32, config["attn_logit_softcapping"]))
    if model_type == "gemma3_text":
        if config.get("layer_types"):
            raise Fail("gemma3_text with explicit layer_types: only sliding_window_pattern is converted")
        if config.get("attn_logit_softcapping"):
            raise Fail("gemma3_text with attention soft-capping: llama.cpp's Gemma 3 has none")
        out += [(f"{arch}.attention.sliding_window_pattern", UINT32, config.get("sliding_window_pattern", 6)),
                (f"{arch}.rope.freq_base_swa", FLOAT32, config.get("rope_local_base_freq", 10000.0))]
    return out


LAYER_NAMES = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
               "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm",
               "self_attn.k_norm": "attn_k_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
               "mlp.down_proj": "ffn_down", "pre_feedforward_layernorm": "ffn_norm",
               "post_feedforward_layernorm": "post_ffw_norm"}


def gguf_name(hf_name, model_type):
    if hf_name == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf_name == "model.norm.weight":
        return "output_norm.weight"
    if hf_name == "lm_head.weight":
        return "output.weight"
    parts = hf_name.split(".")
    if parts[:2] != ["model", "layers"]:
        raise Fail(f"unexpected tensor {hf_name}")
    module, kind = ".".join(parts[3:-1]), parts[-1]
    if module == "post_attention_layernorm":
        target = "post_attention_norm" if model_type in GEMMA else "ffn_norm"
    elif module in LAYER_NAMES:
        target = LAYER_NAMES[module]
    else:
        raise Fail(f"unexpected tensor {hf_name}")
    return f"blk.{parts[2]}.{target}.{kind}"


def rope_permute(weight, heads):
    """Per head, rows (2, head_dim/2) -> (head_dim/2, 2): transformers' halves to GGML's adjacent pairs."""
    return weight.reshape(heads, 2, weight.shape[0] // heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def convert(model_dir, tokenizer_dir, out_path, file_type="f32"):
    config, weights = load_checkpoint(model_dir)
    model_type = config.get("model_type")
    if model_type not in GGUF_ARCH:
        raise Fail(f"{model_dir}/config.json: model_type {model_type!r} is not supported")
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    tied = "lm_head.weight" not in weights
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads", heads)
    tensors = []
    for name, tensor in weights.items():
        tensor = tensor.to(torch.float32)
        if model_type in GEMMA and name == "lm_head.weight":
            continue  # llama.cpp's Gemma always uses the embeddings
        if model_type in GEMMA and name.endswith("norm.weight"):
            tensor = tensor + 1.0
        if model_type in PERMUTED_ROPE and (".q_proj." in name or ".k_proj." in name):
            if name.endswith(".bias"):
                raise Fail(f"{name}: q/k biases on a LLaMA-layout model are not converted")
            tensor = rope_permute(tensor, heads if ".q_proj." in name else kv_heads)
        if file_type == "bf16" and tensor.dim() == 2:
            tensor = tensor.to(torch.bfloat16)
        tensors.append((gguf_name(name, model_type), tensor))
    scaling = config.get("rope_scaling") or {}
    if model_type == "llama" and scaling.get("rope_type", scaling.get("type")) == "llama3":
        tensors.append(("rope_freqs.weight", torch.tensor(llama3_rope_divisors(config, head_dim))))
    metadata = model_metadata(config, model_type, head_dim)
    metadata += [("general.alignment", UINT32, ALIGNMENT), ("general.file_type", UINT32, FILE_TYPES[file_type])]
    metadata += tokenizer_metadata(tokenizer_dir, config["vocab_size"])
    write_gguf(out_path, metadata, tensors)
    return {"model_type": model_type, "tied": tied, "tensors": len(tensors)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="checkpoint directory (config.json + safetensors)")
    parser.add_argument("--tokenizer", required=True, help="directory with tokenizer.json (+ tokenizer_config.json)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--type", choices=sorted(FILE_TYPES), default="f32", help="how matrices are stored")
    args = parser.parse_args(argv)
    try:
        print(json.dumps(convert(args.model, args.tokenizer, args.out, args.type)))
    except (Fail, KeyError, OSError) as error:
        sys.exit(f"gguf_convert.py: {args.model}: {error}")


if __name__ == "__main__":
    main()
