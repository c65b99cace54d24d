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

  // BLAKE2b-512 (RFC 7693), unkeyed, with BigInt words: only SS58 checksums use it (tiny inputs).
  const M64 = (1n << 64n) - 1n;
  const IV = [0x6a09e667f3bcc908n, 0xbb67ae8584caa73bn, 0x3c6ef372fe94f82bn, 0xa54ff53a5f1d36f1n,
    0x510e527fade682d1n, 0x9b05688c2b3e6c1fn, 0x1f83d9abfb41bd6bn, 0x5be0cd19137e2179n];
  const SIGMA = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4], [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13], [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11], [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5], [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
  ];
  function rotr(x, n) { return ((x >> n) | (x << (64n - n))) & M64; }
  function blake2b512(bytes) {
    const h = IV.slice();
    h[0] ^= 0x01010040n; // digest length 64, no key, fanout 1, depth 1
    const blocks = Math.max(1, Math.ceil(bytes.length / 128));
    for (let bi = 0; bi < blocks; bi++) {
      const last = bi === blocks - 1;
      const block = new Uint8Array(128);
      block.set(bytes.subarray(bi * 128, Math.min(bytes.length, bi * 128 + 128)));
      const m = [];
      for (let i = 0; i < 16; i++) {
        let w = 0n;
        for (let j = 7; j >= 0; j--) w = (w << 8n) | BigInt(block[i * 8 + j]);
        m.push(w);
      }
      const t = BigInt(last ? bytes.length : (bi + 1) * 128);
      const v = h.concat(IV);
      v[12] ^= t & M64;
      v[13] ^= t >> 64n;
      if (last) v[14] ^= M64;
      const g = (a, b, c, d, x, y) => {
        v[a] = (v[a] + v[b] + x) & M64; v[d] = rotr(v[d] ^ v[a], 32n);
        v[c] = (v[c] + v[d]) & M64; v[b] = rotr(v[b] ^ v[c], 24n);
        v[a] = (v[a] + v[b] + y) & M64; v[d] = rotr(v[d] ^ v[a], 16n);
        v[c] = (v[c] + v[d]) & M64; v[b] = rotr(v[b] ^ v[c], 63n);
      };
      for (let r = 0; r < 12; r++) {
        const s = SIGMA[r % 10];
        g(0, 4, 8, 12, m[s[0]], m[s[1]]); g(1, 5, 9, 13, m[s[2]], m[s[3]]);
        g(2, 6, 10, 14, m[s[4]], m[s[5]]); g(3, 7, 11, 15, m[s[6]], m[s[7]]);
        g(0, 5, 10, 15, m[s[8]], m[s[9]]); g(1, 6, 11, 12, m[s[10]], m[s[11]]);
        g(2, 7, 8, 13, m[s[12]], m[s[13]]); g(3, 4, 9, 14, m[s[14]], m[s[15]]);
      }
      for (let i = 0; i < 8; i++) h[i] ^= v[i] ^ v[i + 8];
    }
    const out = new Uint8Array(64);
    for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) out[i * 8 + j] = Number((h[i] >> BigInt(8 * j)) & 0xffn);
    return out;
  }

  const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  function base58Decode(s) {
    let n = 0n;
    for (const ch of s) {
      const d = B58.indexOf(ch);
      if (d < 0) throw new Error("not base58");
      n = n * 58n + BigInt(d);
    }
    const bytes = [];
    while (n > 0n) { bytes.unshift(Number(n & 0xffn)); n >>= 8n; }
    for (const ch of s) { if (ch !== "1") break; bytes.unshift(0); }
    return Uint8Array.from(bytes);
  }
  function toHex(bytes) {
    let out = "0x";
    for (const b of bytes) out += (b < 16 ? "0" : "") + b.toString(16);
    return out;
  }

  // An SS58 address of a 32-byte account (any network prefix) -> 0x + 64 hex digits, checksum verified.
  function ss58Decode(s) {
    const data = base58Decode(s);
    let prefixLen;
    if (data.length === 35 && data[0] < 64) prefixLen = 1;
    else if (data.length === 36 && (data[0] & 0xc0) === 0x40) prefixLen = 2;
    else throw new Error("not an SS58 address of a 32-byte account");
    const body = data.subarray(0, prefixLen + 32);
    const pre = new TextEncoder().encode("SS58PRE");
    const input = new Uint8Array(pre.length + body.length);
    input.set(pre);
    input.set(body, pre.length);
    const sum = blake2b512(input);
    if (sum[0] !== data[prefixLen + 32] || sum[1] !== data[prefixLen + 33]) throw new Error("bad SS58 checksum");
    return toHex(data.subarray(prefixLen, prefixLen + 32));
  }

  // A beneficiary account: 0x + 64 hex digits, or an SS58 address (decoded, checksum verified).
  function parseAccount(s) {
    s = String(s || "").trim();
    if (isHex(s, 32)) return s.toLowerCase();
    if (/^[1-9A-HJ-NP-Za-km-z]{46,50}$/.test(s)) {
      try {
        return ss58Decode(s);
      } catch (e) {
        throw new Error("the beneficiary is not a valid SS58 address (" + e.message + ")");
      }
    }
    throw new Error("the beneficiary must be a 32-byte account: 0x followed by 64 hex digits, or an SS58 address");
  }

  // A decimal amount in base units, no leading zeros.
  function parseAmount(s) {
    s = String(s).trim();
    if (!/^[0-9]+$/.test(s)) throw new Error("the amount is not a decimal integer");
    return BigInt(s).toString();
  }

  // `amount` base units (a decimal string or BigInt) with `decimals` fractional digits, exact,
  // trailing zeros dropped: formatUnits("12500", 3) is "12.5" (flex_chain::format_units).
  function formatUnits(amount, decimals) {
    const digits = BigInt(parseAmount(amount)).toString();
    const d = Number(decimals);
    if (!Number.isInteger(d) || d < 0 || d > 255) throw new Error("decimals must be 0..255");
    if (d === 0) return digits;
    const padded = digits.length <= d ? "0".repeat(d + 1 - digits.length) + digits : digits;
    const int = padded.slice(0, padded.length - d);
    const frac = padded.slice(padded.length - d).replace(/0+$/, "");
    return frac ? int + "." + frac : int;
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

  // The exact message: seven lines joined by "\n", no trailing newline; chain is the genesis
  // hash of the pool's chain.
  function claimMessage(chain, contract, monthIndex, wallet, amount, beneficiary) {
    if (!isHex(chain, 32)) throw new Error("the chain's genesis hash is not 0x + 64 hex digits");
    if (!isHex(contract, 32)) throw new Error("the contract is not 0x + 64 hex digits");
    if (!Number.isInteger(monthIndex) || monthIndex < 0 || monthIndex > 0xffffffff) {
      throw new Error("the month index is not a u32");
    }
    return [
      "Flex reward claim",
      "chain: " + chain.toLowerCase(),
      "contract: " + contract.toLowerCase(),
      "month: " + monthIndex + " (" + monthName(monthIndex) + ")",
      "wallet: " + parseWallet(wallet),
      "amount: " + parseAmount(amount),
      "beneficiary: " + parseAccount(beneficiary),
    ].join("\n");
  }

  // 0x-hex of the message's UTF-8 bytes (what personal_sign takes).
  function utf8Hex(text) {
    return toHex(new TextEncoder().encode(text));
  }

  // The claim window of month m: [1st of m+1, 1st of m+2), unix milliseconds (UTC).
  function claimWindow(m) {
    const y = Math.floor(m / 12);
    const mo = m % 12;
    return [Date.UTC(y, mo + 1, 1), Date.UTC(y, mo + 2, 1)];
  }

  root.FlexClaim = {
    formatUnits,
    monthName,
    parseWallet,
    parseAccount,
    parseAmount,
    parseSignature,
    claimMessage,
    utf8Hex,
    claimWindow,
    ss58Decode,
    blake2b512,
  };
})(typeof globalThis !== "undefined" ? globalThis : this);
