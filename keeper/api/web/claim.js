// The claim message of docs/PROTOCOL.md ("Claim message"), byte for byte, and input checks.
// A classic script: the page loads it with <script>, the unit check (tests/web/claim_message.mjs)
// runs it in a node `vm` context; both use globalThis.FlexClaim.
(function (root) {
  "use strict";

  function pad(n, width) {
    let s = String(n);
    while (s.length < width) s = "0" + s;
    return s;
  }

  // month_index = year*12 + (month-1) -> "YYYY-MM".
  function monthName(m) {
    return pad(Math.floor(m / 12), 4) + "-" + pad((m % 12) + 1, 2);
  }

  function isHex(s, bytes) {
    return typeof s === "string" && new RegExp("^0x[0-9a-fA-F]{" + 2 * bytes + "}$").test(s);
  }

  // A wallet: 0x + 40 hex digits, lower-cased (the message's form).
  function parseWallet(s) {
    s = String(s || "").trim();
    if (!isHex(s, 20)) throw new Error("a wallet address is 0x followed by 40 hex digits");
    return s.toLowerCase();
  }

  // A beneficiary account: 0x + 64 hex digits. SS58 addresses are not decoded here (see README).
  function parseAccount(s) {
    s = String(s || "").trim();
    if (!isHex(s, 32)) {
      throw new Error(
        "the beneficiary must be a 32-byte account in hex: 0x followed by 64 hex digits " +
          "(SS58 addresses are not accepted; convert with `subkey inspect`)"
      );
    }
    return s.toLowerCase();
  }

  // A decimal amount in base units, no leading zeros.
  function parseAmount(s) {
    s = String(s).trim();
    if (!/^[0-9]+$/.test(s)) throw new Error("the amount is not a decimal integer");
    return BigInt(s).toString();
  }

  // A 65-byte signature r || s || v; v in {0, 1} is written as {27, 28}.
  function parseSignature(s) {
    s = String(s || "").trim();
    if (!isHex(s, 65)) throw new Error("a signature is 0x followed by 130 hex digits (65 bytes)");
    s = s.toLowerCase();
    const v = parseInt(s.slice(130, 132), 16);
    if (v === 0 || v === 1) s = s.slice(0, 130) + (v + 27).toString(16);
    return s;
  }

  // The exact message: six lines joined by "\n", no trailing newline.
  function claimMessage(contract, monthIndex, wallet, amount, beneficiary) {
    if (!isHex(contract, 32)) throw new Error("the contract is not 0x + 64 hex digits");
    if (!Number.isInteger(monthIndex) || monthIndex < 0 || monthIndex > 0xffffffff) {
      throw new Error("the month index is not a u32");
    }
    return [
      "Flex reward claim",
      "contract: " + contract.toLowerCase(),
      "month: " + monthIndex + " (" + monthName(monthIndex) + ")",
      "wallet: " + parseWallet(wallet),
      "amount: " + parseAmount(amount),
      "beneficiary: " + parseAccount(beneficiary),
    ].join("\n");
  }

  // 0x-hex of the message's UTF-8 bytes (what personal_sign takes).
  function utf8Hex(text) {
    const bytes = new TextEncoder().encode(text);
    let out = "0x";
    for (const b of bytes) out += (b < 16 ? "0" : "") + b.toString(16);
    return out;
  }

  // The claim window of month m: [1st of m+1, 1st of m+2), unix milliseconds (UTC).
  function claimWindow(m) {
    const y = Math.floor(m / 12);
    const mo = m % 12;
    return [Date.UTC(y, mo + 1, 1), Date.UTC(y, mo + 2, 1)];
  }

  root.FlexClaim = {
    monthName,
    parseWallet,
    parseAccount,
    parseAmount,
    parseSignature,
    claimMessage,
    utf8Hex,
    claimWindow,
  };
})(typeof globalThis !== "undefined" ? globalThis : this);
