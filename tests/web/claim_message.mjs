// Unit check: the page's claim message (keeper/api/web/claim.js) against vectors produced by the
// Rust reference `flex_evm::claim_message` (written by keeper/cli/tests/web_page.rs).
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

const vectors = JSON.parse(readFileSync(process.argv[2], "utf8"));
let failed = 0;
for (const v of vectors) {
  const got = C.claimMessage(v.contract, v.month_index, v.wallet, v.amount, v.beneficiary);
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
  ["SS58 beneficiary refused", throws(() => C.parseAccount("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"))],
  ["short wallet refused", throws(() => C.parseWallet("0x1234"))],
  ["leading zeros dropped", C.parseAmount("000120") === "120"],
  ["v 0/1 -> 27/28", C.parseSignature("0x" + "11".repeat(64) + "01").endsWith("1c")],
  ["window of 2026-01", C.claimWindow(2026 * 12).join() === [Date.UTC(2026, 1, 1), Date.UTC(2026, 2, 1)].join()],
];
for (const [name, ok] of checks) if (!ok) { failed++; console.error("check failed: " + name); }
if (failed) { console.error(failed + " failure(s)"); process.exit(1); }
console.log("claim message: " + vectors.length + " vectors match flex_evm::claim_message; " + checks.length + " input checks pass");
