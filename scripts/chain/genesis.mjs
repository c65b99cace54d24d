// Writes the raw chain spec chopsticks runs, straight from the runtime Wasm:
//   node genesis.mjs <runtime.wasm> <chain-spec.json>
//
// It asks the runtime itself for its dev genesis (GenesisBuilder_get_preset), builds the genesis state
// with it (GenesisBuilder_build_state) in chopsticks' own executor, and stores the storage it wrote,
// plus `:code`. The preset's JSON goes from the runtime back into the runtime as bytes, never through
// JavaScript numbers, so u128 balances stay exact.
import { readFileSync, writeFileSync } from 'node:fs';
import { runTask, destroyWorker } from '@acala-network/chopsticks-core';

const [wasmPath, outPath] = process.argv.slice(2);
if (!wasmPath || !outPath) {
  console.error('usage: node genesis.mjs <runtime.wasm> <chain-spec.json>');
  process.exit(2);
}

const hex = (bytes) => '0x' + Buffer.from(bytes).toString('hex');
const unhex = (h) => Buffer.from(h.replace(/^0x/, ''), 'hex');

// SCALE compact length prefix (enough for byte vectors).
function compact(n) {
  if (n < 1 << 6) return Buffer.from([n << 2]);
  if (n < 1 << 14) return Buffer.from([((n << 2) | 1) & 0xff, n >> 6]);
  if (n < 1 << 30) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(((n << 2) | 2) >>> 0);
    return b;
  }
  throw new Error(`length ${n} too large`);
}
function decodeCompact(buf) {
  const mode = buf[0] & 3;
  if (mode === 0) return [buf[0] >> 2, 1];
  if (mode === 1) return [buf.readUInt16LE(0) >> 2, 2];
  if (mode === 2) return [buf.readUInt32LE(0) >>> 2, 4];
  throw new Error('big compact not supported');
}
const encodeBytes = (b) => Buffer.concat([compact(b.length), b]);

const code = readFileSync(wasmPath);
const wasm = hex(code);
// Genesis state starts empty; the executor keeps its own overlay of what the call writes.
const emptyState = {
  getStorage: async () => undefined,
  getNextKey: async () => undefined,
  offchainGetStorage: async () => undefined,
  offchainTimestamp: async () => Date.now(),
  offchainRandomSeed: async () => hex(Buffer.alloc(32)),
  offchainSubmitTransaction: async () => false,
};

async function call(method, args) {
  const response = await runTask(
    { wasm, calls: [[method, [hex(args)]]], mockSignatureHost: false, allowUnresolvedImports: false, runtimeLogLevel: 0 },
    emptyState,
  );
  if ('Error' in response) throw new Error(`${method}: ${response.Error}`);
  return response.Call;
}

// get_preset(Some("development")) -> Option<Vec<u8>> holding the JSON patch.
const preset = await call('GenesisBuilder_get_preset', Buffer.concat([Buffer.from([1]), encodeBytes(Buffer.from('development'))]));
const presetOut = unhex(preset.result);
if (presetOut[0] !== 1) throw new Error('the runtime has no "development" genesis preset');
const [len, off] = decodeCompact(presetOut.subarray(1));
const json = presetOut.subarray(1 + off, 1 + off + len);

// build_state(json) -> Result<(), String>; its storage writes are the genesis state.
const built = await call('GenesisBuilder_build_state', encodeBytes(json));
const builtOut = unhex(built.result);
if (builtOut[0] !== 0) throw new Error(`build_state failed: ${builtOut.subarray(1).toString()}`);

const top = {};
for (const [key, value] of built.storageDiff) {
  if (value !== null && value !== undefined) top[key] = value;
}
top['0x3a636f6465'] = wasm; // ":code"

const spec = {
  name: 'Flex Devnet',
  id: 'flex_devnet',
  chainType: 'Development',
  bootNodes: [],
  telemetryEndpoints: null,
  protocolId: null,
  properties: { ss58Format: 42, tokenDecimals: 12, tokenSymbol: 'UNIT' },
  codeSubstitutes: {},
  genesis: { raw: { top, childrenDefault: {} } },
};
writeFileSync(outPath, JSON.stringify(spec, null, 1) + '\n');
console.error(`genesis: ${Object.keys(top).length} storage entries, preset ${json.length} bytes -> ${outPath}`);
await destroyWorker();
