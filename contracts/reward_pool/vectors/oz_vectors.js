// Independent test vectors for the reward pool's unit tests (merkle.rs, claim_message.rs, lib.rs),
// computed with OpenZeppelin's own JS library and ethereum-cryptography (keccak256, noble secp256k1
// with RFC 6979 nonces), not with this crate's code.
// Run from the repository root after `npm ci` in tests/oz:
//   NODE_PATH=tests/oz/node_modules node contracts/reward_pool/vectors/oz_vectors.js
const { StandardMerkleTree } = require('@openzeppelin/merkle-tree');
const { keccak256 } = require('ethereum-cryptography/keccak');
const { secp256k1 } = require('ethereum-cryptography/secp256k1');
const { bytesToHex, utf8ToBytes, hexToBytes } = require('ethereum-cryptography/utils');
const types = ['uint32', 'address', 'uint128'];
const one = StandardMerkleTree.of([[24311, '0x1111111111111111111111111111111111111111', '1000']], types);
console.log('single leaf hash', one.leafHash([24311, '0x1111111111111111111111111111111111111111', '1000']), 'root', one.root);
const vals = [
  [24311, '0x1111111111111111111111111111111111111111', '1000'],
  [24311, '0x2222222222222222222222222222222222222222', '2500'],
  [24311, '0x3333333333333333333333333333333333333333', '7'],
];
const t = StandardMerkleTree.of(vals, types);
console.log('3-leaf root', t.root);
for (const [i, v] of t.entries()) console.log('proof', v[1], v[2], JSON.stringify(t.getProof(i)));
const msg = "Flex reward claim\nchain: 0x" + "33".repeat(32) + "\ncontract: 0x" + "11".repeat(32) + "\nmonth: 24311 (2025-12)\nwallet: 0x" + "aa".repeat(20) + "\namount: 1000\nbeneficiary: 0x" + "22".repeat(32);
const mb = utf8ToBytes(msg);
const prefixed = new Uint8Array([...utf8ToBytes("\x19Ethereum Signed Message:\n" + mb.length), ...mb]);
const digest = keccak256(prefixed);
console.log('msg len', mb.length, 'digest', bytesToHex(digest));
const sk = hexToBytes('4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318');
const pub = secp256k1.getPublicKey(sk, false);
const addr = bytesToHex(keccak256(pub.slice(1)).slice(12));
const sig = secp256k1.sign(digest, sk);
console.log('addr 0x' + addr);
console.log('sig r', sig.r.toString(16).padStart(64,'0'), 's', sig.s.toString(16).padStart(64,'0'), 'v', 27 + sig.recovery);
