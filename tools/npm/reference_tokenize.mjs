// Reference tokenization with transformers.js, for qtalign's tokenizer tests.
//
//   node tools/npm/reference_tokenize.mjs [--special-every=N] <tokenizer_dir> <texts.jsonl> [output.jsonl]
//
// <tokenizer_dir> holds tokenizer.json and tokenizer_config.json (an empty config is used when the
// latter is absent). Every line of <texts.jsonl> is one JSON string. For each, one JSON line is
// written (to output.jsonl, or stdout):
//   {"ids": [...], "decoded": "...", "nfc": "...", "special_ids": [...]}
// ids: encode(text, add_special_tokens=false); decoded: decode(ids); nfc: text.normalize('NFC');
// special_ids: encode(text, add_special_tokens=true), only for lines whose index is a multiple of
// N (default 1: every line).
import fs from 'node:fs';
import path from 'node:path';
import { PreTrainedTokenizer } from '@huggingface/transformers';

const options = process.argv.slice(2).filter((arg) => arg.startsWith('--'));
const [dir, inputPath, outputPath] = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const specialOption = options.find((arg) => arg.startsWith('--special-every='));
const specialEvery = specialOption ? Number(specialOption.split('=')[1]) : 1;
if (!dir || !inputPath || !(specialEvery >= 1) || options.length > (specialOption ? 1 : 0)) {
  console.error('usage: node reference_tokenize.mjs [--special-every=N] <tokenizer_dir> <texts.jsonl> [output.jsonl]');
  process.exit(2);
}

const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
const configPath = path.join(dir, 'tokenizer_config.json');
const tokenizer = new PreTrainedTokenizer(
  readJson(path.join(dir, 'tokenizer.json')),
  fs.existsSync(configPath) ? readJson(configPath) : {},
);

// The model's word cache is an LRU of 10,000 entries whose bookkeeping dominates the run time on
// large batches; a plain unbounded memo of the same pure function gives the same ids, faster.
const model = tokenizer._tokenizer?.model;
if (model?.cache) {
  const memo = new Map();
  model.cache = { get: (key) => memo.get(key), put: (key, value) => memo.set(key, value), clear: () => memo.clear() };
}

const lines = fs.readFileSync(inputPath, 'utf8').split('\n').filter((line) => line.length > 0);
const out = [];
lines.forEach((line, index) => {
  const text = JSON.parse(line);
  const ids = tokenizer.encode(text, { add_special_tokens: false });
  // transformers.js refuses to decode an empty list; its text is the empty string.
  const decoded = ids.length > 0 ? tokenizer.decode(ids) : '';
  const record = { ids, decoded, nfc: text.normalize('NFC') };
  if (index % specialEvery === 0) record.special_ids = tokenizer.encode(text, { add_special_tokens: true });
  out.push(JSON.stringify(record));
});
const result = out.join('\n') + (out.length > 0 ? '\n' : '');
if (outputPath) fs.writeFileSync(outputPath, result);
else process.stdout.write(result);
