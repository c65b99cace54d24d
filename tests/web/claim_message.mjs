// Unit check: the page's claim message (keeper/api/web/claim.js) against vectors produced by the
// Rust reference `flex_evm::claim_message` (written by keeper/cli/tests/web_page.rs) and against the
// ethers.js vectors of docs/vectors/claim_message.json.
// Usage: node claim_message.mjs VECTORS.json
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

const here = fileURLToPath(new URL(".", import.meta.url));
const ctx = { TextEncoder };
ctx.globalThis = ctx;
vm.createContext(ctx);
vm.runInContext(readFileSync(here + "../../keeper/api/web/claim.js", "utf8"), ctx, { filename: "claim.js" });
const C = ctx.FlexClaim;

const { messages: vectors, ss58, units } = JSON.parse(readFileSync(process.argv[2], "utf8"));
let failed = 0;
// Amounts in a token's units (flex_chain::format_units, as the CLI writes them).
for (const u of units || []) {
  const got = C.formatUnits(u.amount, u.decimals);
  if (got !== u.text) { failed++; console.error("formatUnits(" + u.amount + ", " + u.decimals + ") -> " + got + ", expected " + u.text); }
}
// SS58 addresses (from subxt's AccountId32, prefix 42) decode to their accounts.
for (const v of ss58) {
  let got;
  try { got = C.parseAccount(v.ss58); } catch (e) { got = "error: " + e.message; }
  if (got !== v.hex) { failed++; console.error("SS58 " + v.ss58 + " -> " + got + ", expected " + v.hex); }
}
// Plus the ethers.js vectors of docs/vectors/claim_message.json.
const ethersVectors = JSON.parse(readFileSync(here + "../../docs/vectors/claim_message.json", "utf8")).vectors;
for (const v of [...vectors, ...ethersVectors]) {
  const got = C.claimMessage(v.chain, v.contract, v.month_index, v.wallet, v.amount, v.beneficiary);
  if (got !== v.message) {
    failed++;
    console.error("MISMATCH for " + JSON.stringify(v) + "\n  got:  " + JSON.stringify(got));
  }
  const hex = C.utf8Hex(got);
  if (hex !== "0x" + Buffer.from(v.message, "utf8").toString("hex")) {
    failed++;
    console.error("utf8Hex mismatch for month " + v.month_index);
  }
}
// Input checks the page relies on.
const throws = (f) => { try { f(); return false; } catch (_) { return true; } };
const checks = [
  ["blake2b-512(abc), RFC 7693", Buffer.from(C.blake2b512(new TextEncoder().encode("abc"))).toString("hex") ===
    "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"],
  ["blake2b-512 over two blocks", Buffer.from(C.blake2b512(new Uint8Array(200))).toString("hex").length === 128],
  ["SS58 with a bad checksum refused", throws(() => C.parseAccount("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ"))],
  ["Polkadot (prefix 0) Alice", C.parseAccount("15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5") ===
    "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"],
  ["Kusama (prefix 2) Alice", C.parseAccount("HNZata7iMYWmk5RvZRTiAsSDhV8366zq2YGb3tLH5Upf74F") ===
    "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"],
  ["garbage beneficiary refused", throws(() => C.parseAccount("0x1234"))],
  ["short wallet refused", throws(() => C.parseWallet("0x1234"))],
  ["leading zeros dropped", C.parseAmount("000120") === "120"],
  ["v 0/1 -> 27/28", C.parseSignature("0x" + "11".repeat(64) + "01").endsWith("1c")],
  ["window of 2026-01", C.claimWindow(2026 * 12).join() === [Date.UTC(2026, 1, 1), Date.UTC(2026, 2, 1)].join()],
];
for (const [name, ok] of checks) if (!ok) { failed++; console.error("check failed: " + name); }
if (failed) { console.error(failed + " failure(s)"); process.exit(1); }
console.log("claim message: " + vectors.length + " vectors match flex_evm::claim_message, " + ethersVectors.length +
  " docs/vectors (ethers.js); " + ss58.length +
   " SS58 addresses decode; " + (units || []).length + " amounts in units match; " + checks.length + " input checks pass");
