#!/usr/bin/env node
// Reference side of the flex-merkle cross-check: OpenZeppelin's own StandardMerkleTree.
//
//   node oz.js cases REQUEST.json   -> JSON: per case {root, proofs, multi, dump} or {error}
//   node oz.js validate DUMP.json   -> JSON: {root, length, proofs}: StandardMerkleTree.load + validate,
//                                      and every value's proof checked with OZ's verify
//
// REQUEST.json: [{"kind": "claim"|"score", "values": [[...]], "multi": [[valueIndex, ...]],
//                 "mixed": bool}]; with "mixed", small integers are passed as JS numbers and
//                 uint128s as 0x-hex strings (OZ keeps them as given in its dump).
'use strict';
const fs = require('fs');
const { StandardMerkleTree } = require('@openzeppelin/merkle-tree');

const ENCODINGS = {
  claim: ['uint32', 'address', 'uint128'],
  score: ['uint64', 'address', 'uint8', 'uint128', 'uint128'],
};

function mixed(kind, value) {
  const hex = s => '0x' + BigInt(s).toString(16);
  if (kind === 'claim') return [Number(value[0]), value[1].toUpperCase().replace('0X', '0x'), hex(value[2])];
  return [value[0], value[1], Number(value[2]), hex(value[3]), value[4]];
}

function runCase(c) {
  const enc = ENCODINGS[c.kind];
  const values = c.mixed ? c.values.map(v => mixed(c.kind, v)) : c.values;
  let tree;
  try {
    tree = StandardMerkleTree.of(values, enc);
  } catch (e) {
    return { error: e.message };
  }
  const proofs = values.map((_, i) => tree.getProof(i));
  const multi = (c.multi || []).map(idx => {
    const mp = tree.getMultiProof(idx);
    if (!StandardMerkleTree.verifyMultiProof(tree.root, enc, mp)) throw new Error('OZ rejects its own multiproof');
    return mp;
  });
  return { root: tree.root, proofs, multi, dump: JSON.stringify(tree.dump()) };
}

function validate(file) {
  const tree = StandardMerkleTree.load(JSON.parse(fs.readFileSync(file, 'utf8')));
  tree.validate();
  let proofs = 0;
  for (const [i] of tree.entries()) {
    if (!tree.verify(i, tree.getProof(i))) throw new Error(`proof of value ${i} does not verify`);
    proofs++;
  }
  return { root: tree.root, length: tree.length, proofs };
}

const [cmd, file] = process.argv.slice(2);
if (cmd === 'cases') {
  const cases = JSON.parse(fs.readFileSync(file, 'utf8'));
  process.stdout.write(JSON.stringify(cases.map(runCase)));
} else if (cmd === 'validate') {
  process.stdout.write(JSON.stringify(validate(file)));
} else {
  process.stderr.write('usage: node oz.js cases REQUEST.json | validate DUMP.json\n');
  process.exit(2);
}
