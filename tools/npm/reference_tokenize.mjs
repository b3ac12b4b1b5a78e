// Reference tokenization with transformers.js, for qtalign's tokenizer tests.
//
//   node tools/npm/reference_tokenize.mjs <tokenizer_dir> <texts.jsonl> [output.jsonl]
//
// <tokenizer_dir> holds tokenizer.json and tokenizer_config.json (an empty config is used when the
// latter is absent). Every line of <texts.jsonl> is one JSON string. For each, one JSON line is
// written (to output.jsonl, or stdout):
//   {"ids": [...], "special_ids": [...], "decoded": "...", "nfc": "..."}
// ids: encode(text, add_special_tokens=false); special_ids: the same with add_special_tokens=true;
// decoded: decode(ids); nfc: text.normalize('NFC').
import fs from 'node:fs';
import path from 'node:path';
import { PreTrainedTokenizer } from '@huggingface/transformers';

const [dir, inputPath, outputPath] = process.argv.slice(2);
if (!dir || !inputPath) {
  console.error('usage: node reference_tokenize.mjs <tokenizer_dir> <texts.jsonl> [output.jsonl]');
  process.exit(2);
}

const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
const configPath = path.join(dir, 'tokenizer_config.json');
const tokenizer = new PreTrainedTokenizer(
  readJson(path.join(dir, 'tokenizer.json')),
  fs.existsSync(configPath) ? readJson(configPath) : {},
);

const lines = fs.readFileSync(inputPath, 'utf8').split('\n').filter((line) => line.length > 0);
const out = [];
for (const line of lines) {
  const text = JSON.parse(line);
  const ids = tokenizer.encode(text, { add_special_tokens: false });
  const special_ids = tokenizer.encode(text, { add_special_tokens: true });
  // transformers.js refuses to decode an empty list; its text is the empty string.
  const decoded = ids.length > 0 ? tokenizer.decode(ids) : '';
  out.push(JSON.stringify({ ids, special_ids, decoded, nfc: text.normalize('NFC') }));
}
const result = out.join('\n') + (out.length > 0 ? '\n' : '');
if (outputPath) fs.writeFileSync(outputPath, result);
else process.stdout.write(result);
