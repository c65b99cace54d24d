// Compiles src/Swapper.sol with solc-js (offline, the version pinned in package.json) and prints
// {"abi": [...], "bytecode": "0x..."} on stdout. Run by keeper/cli/tests/evm_follower.rs and the
// lag bench.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const file = path.join(__dirname, "src", "Swapper.sol");
const input = {
  language: "Solidity",
  sources: { "Swapper.sol": { content: fs.readFileSync(file, "utf8") } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { "*": { Swapper: ["abi", "evm.bytecode.object"] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  for (const e of errors) console.error(e.formattedMessage);
  process.exit(1);
}
const c = out.contracts["Swapper.sol"].Swapper;
process.stdout.write(
  JSON.stringify({ abi: c.abi, bytecode: "0x" + c.evm.bytecode.object, solc: solc.version() }) + "\n"
);
