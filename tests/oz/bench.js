#!/usr/bin/env node
// OZ side of the flex-merkle bench: `node bench.js VALUES.json` (claim values, dump form).
// Prints JSON {root, build_s, proofs_s, n}: StandardMerkleTree.of and getProof for every value.
'use strict';
const fs = require('fs');
const { StandardMerkleTree } = require('@openzeppelin/merkle-tree');

const values = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
let t = process.hrtime.bigint();
const tree = StandardMerkleTree.of(values, ['uint32', 'address', 'uint128']);
const build_s = Number(process.hrtime.bigint() - t) / 1e9;
t = process.hrtime.bigint();
let total = 0;
for (let i = 0; i < values.length; i++) total += tree.getProof(i).length;
const proofs_s = Number(process.hrtime.bigint() - t) / 1e9;
process.stdout.write(JSON.stringify({ root: tree.root, build_s, proofs_s, n: values.length, proof_hashes: total }));
