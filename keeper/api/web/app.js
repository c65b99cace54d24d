// The claimer page: a wallet's score array, months and claims, the latest epochs; claims through
// the keeper's relay. Same origin as the API; no external resources.
(function () {
  "use strict";
  const C = window.FlexClaim;
  const $ = (id) => document.getElementById(id);
  const DAY_MS = 86400000;
  let info = null; // GET /v1/info
  let current = null; // { address, wallet, months: Map(m -> claim answer or null) }

  async function api(path, init) {
    const resp = await fetch(path, init);
    let body = null;
    try { body = await resp.json(); } catch (_) { body = null; }
    return { status: resp.status, ok: resp.ok, body };
  }
  function errText(r) {
    return (r.body && r.body.error && r.body.error.message) || "the keeper answered " + r.status;
  }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function isoDay(ms) { return new Date(ms).toISOString().slice(0, 10); }
  function isoMinute(ms) { return new Date(ms).toISOString().slice(0, 16).replace("T", " "); }
  function epochStart(e) { return (info.genesis + e * 86400) * 1000; }
  function monthOfMs(ms) { const d = new Date(ms); return d.getUTCFullYear() * 12 + d.getUTCMonth(); }
  function chainNow() { return info && info.chain && info.chain.time_ms ? info.chain.time_ms : Date.now(); }

  // An amount of the reward (or payment) token in its units, as /v1/info names them ("12.5
  // FLEXE"); base units while the keeper has not read the tokens from the chain.
  function units(amount, which) {
    const t = info && info.tokens && info.tokens[which || "reward"];
    if (!t) return String(amount) + " (base units)";
    return C.formatUnits(amount, t.decimals) + " " + (t.symbol || "units of " + t.address);
  }

  // Score 0..15 -> background and a text colour with enough contrast (WCAG AA on both).
  function scoreColour(score) {
    const l = 94 - score * 4.6; // lightness 94% .. 25%
    return { bg: "hsl(212, 72%, " + l.toFixed(1) + "%)", fg: l > 58 ? "#111" : "#fff" };
  }

  async function loadInfo() {
    const r = await api("/v1/info");
    if (!r.ok) throw new Error(errText(r));
    info = r.body;
    if (info.genesis === null || info.genesis === undefined) info.genesis = 0;
    return info;
  }

  async function loadEpochs() {
    await loadInfo();
    const tbody = $("epochs").querySelector("tbody");
    tbody.replaceChildren();
    const net = "Pool contract " + info.contract + (info.chain.time_ms ? "; chain time " + isoMinute(info.chain.time_ms) + " UTC" : "") +
      (info.chain.connected ? "" : " (chain unreachable)");
    $("network").textContent = net;
    if (info.last_epoch === null || info.last_epoch === undefined) {
      const tr = el("tr"); tr.append(el("td", { colspan: "7" }, "No epoch closed yet.")); tbody.append(tr);
      return;
    }
    const last = info.last_epoch;
    const list = [];
    for (let e = last; e >= 0 && e > last - 5; e--) list.push(e);
    const answers = await Promise.all(list.map((e) => api("/v1/epochs/" + e)));
    answers.forEach((r, i) => {
      if (!r.ok) return;
      const v = r.body;
      const tr = el("tr");
      tr.append(el("td", {}, String(list[i])), el("td", {}, isoDay(epochStart(list[i]))),
        el("td", {}, v.finalized ? "finalised" : v.status),
        el("td", { class: "mono", title: v.scores_root + " (commitment " + v.commitment_hash + ")", "aria-label": v.scores_root },
          v.scores_root.slice(0, 10) + "…" + v.scores_root.slice(-8)),
        el("td", {}, String(v.active)), el("td", { class: "mono" }, v.distributed),
        el("td", { class: "mono", title: "U64F64 bits " + v.forecast }, String(v.forecast_value ?? v.forecast)));
      tbody.append(tr);
    });
  }

  function showDetail(ep, date) {
    $("cell-detail").textContent = "Epoch " + ep.epoch + " (" + date + "): score " + ep.score +
      ", weight " + ep.weight + ", reward " + ep.reward;
  }

  function renderCells(w) {
    const cells = $("cells");
    cells.replaceChildren();
    for (const ep of w.epochs) {
      const score = parseInt(ep.score, 16);
      const col = scoreColour(score);
      const date = isoDay(epochStart(ep.epoch));
      const label = "Epoch " + ep.epoch + ", " + date + ": score " + ep.score + ", weight " + ep.weight + ", reward " + ep.reward;
      const b = el("button", {
        type: "button", class: "cell", "aria-label": label, title: label,
        "data-epoch": String(ep.epoch), "data-score": ep.score,
      }, ep.score);
      b.style.background = col.bg;
      b.style.color = col.fg;
      b.addEventListener("mouseenter", () => showDetail(ep, date));
      b.addEventListener("focus", () => showDetail(ep, date));
      b.addEventListener("click", () => showDetail(ep, date));
      const item = el("span", { class: "hex", role: "listitem" });
      item.append(b);
      cells.append(item);
    }
    const legend = $("legend");
    legend.replaceChildren(el("span", { style: "width:auto;padding-right:4px" }, "score"));
    for (let s = 0; s < 16; s++) {
      const c = scoreColour(s);
      const sp = el("span", {}, s.toString(16).toUpperCase());
      sp.style.background = c.bg; sp.style.color = c.fg;
      legend.append(sp);
    }
  }

  // "2026-02-01 to 2026-02-28": the last day of a window closing at midnight UTC; a close that a
  // pause moved is given to the minute. `w`: the chain's window (null: the calendar's, unconfirmed).
  function windowText(open, close, w) {
    let text = isoDay(open) + " to " + (close % DAY_MS === 0 ? isoDay(close - DAY_MS) : "before " + isoMinute(close) + " UTC");
    if (w && w.paused) text += ", extended for as long as the pool is paused";
    else if (w && w.close > w.calendar_close) text += ", extended by pauses";
    else if (!w) text += ", per the calendar (a pause on chain may extend it)";
    return text;
  }

  function monthsOf(w) {
    const totals = new Map();
    for (const ep of w.epochs) {
      const m = monthOfMs(epochStart(ep.epoch));
      totals.set(m, (totals.get(m) || 0n) + BigInt(ep.reward));
    }
    return totals;
  }

  async function renderMonths(address, totals) {
    const tbody = $("months").querySelector("tbody");
    tbody.replaceChildren();
    const months = [...totals.keys()].sort((a, b) => a - b);
    const claims = await Promise.all(months.map((m) => api("/v1/claims/" + m + "/" + address)));
    const select = $("claim-month");
    select.replaceChildren();
    current.months = new Map();
    months.forEach((m, i) => {
      const r = claims[i];
      // The window as the pool computes it (pauses extend it), else the calendar's.
      const w = r.ok && r.body.window ? r.body.window : null;
      const [open, close] = w ? [w.open * 1000, w.close * 1000] : C.claimWindow(m);
      const now = chainNow();
      const windowState = w && w.paused ? "paused" : now < open ? "not open yet" : now < close ? "open" : "closed";
      let root = "not closed yet", status = "—";
      if (r.ok) {
        root = r.body.root_status;
        status = r.body.claim_status;
        current.months.set(m, r.body);
        if (r.body.claim_status === "unclaimed") {
          select.append(el("option", { value: String(m) }, C.monthName(m) + " (" + m + "): " + units(r.body.amount)));
        }
      } else if (r.body && r.body.error && r.body.error.code === "no_claim") {
        root = "closed"; status = "nothing to claim";
      }
      const tr = el("tr", { "data-month": String(m) });
      tr.append(el("td", {}, C.monthName(m) + " (" + m + ")"), el("td", { class: "mono" }, units(totals.get(m))),
        el("td", {}, root), el("td", { class: "claim-status" }, status),
        el("td", { class: "window", "data-close": String(close / 1000) }, windowText(open, close, w) + " (" + windowState + ")"));
      tbody.append(tr);
    });
    const claimable = select.options.length;
    if (!claimable) select.append(el("option", { value: "" }, "No month to claim"));
    select.disabled = !claimable;
    $("build").disabled = $("sign").disabled = $("submit").disabled = !claimable;
    // Keep the section (and an outcome shown in it) once it has been used.
    $("claim").hidden = !claimable && !$("claim-result").textContent;
  }

  async function show(address) {
    $("address-err").textContent = "";
    let wallet;
    try { wallet = C.parseWallet(address); } catch (e) { $("address-err").textContent = e.message; $("address").focus(); return; }
    if (!info) await loadInfo();
    const r = await api("/v1/wallets/" + wallet);
    if (!r.ok) { $("address-err").textContent = errText(r); $("wallet").hidden = true; $("claim").hidden = true; return; }
    const w = r.body;
    current = { address: wallet, wallet: w, months: new Map() };
    $("wallet").hidden = false;
    const first = w.epochs.length ? w.epochs[0].epoch : w.connection_epoch;
    $("wallet-summary").textContent = w.address + ": connected " + isoMinute(w.connected_at * 1000) + " UTC (epoch " +
      (w.connection_epoch === null ? "?" : w.connection_epoch) + "); " + w.epochs.length + " epochs scored" +
      (w.epochs.length ? " from epoch " + first : "") + "; scores " + (w.scores || "none yet") + "; total reward " + units(w.total_reward) + ".";
    renderCells(w);
    await renderMonths(wallet, monthsOf(w));
  }

  async function buildMessage() {
    $("claim-err").textContent = "";
    const m = parseInt($("claim-month").value, 10);
    const beneficiary = C.parseAccount($("beneficiary").value);
    const claim = current && current.months.get(m);
    if (!claim) throw new Error("no claim for this month");
    if (!claim.chain) throw new Error("the keeper has not connected to the chain yet (the message binds its genesis hash); try again later");
    const message = C.claimMessage(claim.chain, claim.contract, m, current.address, claim.amount, beneficiary);
    // The keeper's copy must be the same bytes, or we refuse to sign.
    const r = await api("/v1/claims/" + m + "/" + current.address + "?beneficiary=" + beneficiary);
    if (!r.ok) throw new Error(errText(r));
    if (r.body.message !== message) throw new Error("the keeper's claim message differs from the one built here; not signing");
    $("message").value = message;
    return { m, beneficiary, message };
  }

  async function sign() {
    const { message } = await buildMessage();
    const eth = window.ethereum;
    if (!eth || typeof eth.request !== "function") {
      throw new Error("no injected wallet (EIP-1193) found; sign the message elsewhere and paste the signature");
    }
    const accounts = await eth.request({ method: "eth_requestAccounts" });
    const account = (accounts || []).map((a) => String(a).toLowerCase()).find((a) => a === current.address);
    if (!account) throw new Error("the connected wallet has no account " + current.address);
    const sig = await eth.request({ method: "personal_sign", params: [C.utf8Hex(message), account] });
    $("signature").value = C.parseSignature(sig);
  }

  async function submit() {
    const { m, beneficiary } = await buildMessage();
    const signature = C.parseSignature($("signature").value);
    $("submit").disabled = true;
    $("claim-result").textContent = "Submitting the claim through the keeper's relay…";
    try {
      const r = await api("/v1/claims/" + m + "/" + current.address + "/relay", {
        method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ signature, beneficiary }),
      });
      if (!r.ok) { $("claim-result").textContent = ""; throw new Error(errText(r)); }
      const res = $("claim-result");
      res.replaceChildren(el("p", { class: "ok", id: "claim-outcome" },
        (r.body.claimed ? "Claimed: " : "Submitted: ") + units(r.body.amount) + " to " + r.body.beneficiary + " in block " + r.body.block +
        "; claim cost " + units(r.body.cost, "payment") + ", paid by the relay."),
        el("pre", {}, JSON.stringify(r.body, null, 2)));
      await renderMonths(current.address, monthsOf(current.wallet));
      $("claim").hidden = false;
    } finally {
      $("submit").disabled = $("claim-month").disabled;
    }
  }

  function guard(fn, errId) {
    return async (ev) => {
      if (ev) ev.preventDefault();
      try { $(errId).textContent = ""; await fn(); } catch (e) { $(errId).textContent = e.message || String(e); }
    };
  }

  $("lookup").addEventListener("submit", guard(() => show($("address").value), "address-err"));
  $("connect").addEventListener("click", guard(async () => {
    if (!window.ethereum) throw new Error("no injected wallet (EIP-1193) found");
    const accounts = await window.ethereum.request({ method: "eth_requestAccounts" });
    if (!accounts || !accounts.length) throw new Error("the wallet shared no account");
    $("address").value = accounts[0];
    await show(accounts[0]);
  }, "address-err"));
  $("build").addEventListener("click", guard(buildMessage, "claim-err"));
  $("sign").addEventListener("click", guard(sign, "claim-err"));
  $("claim-form").addEventListener("submit", guard(submit, "claim-err"));

  loadEpochs().catch((e) => { $("network").textContent = "Cannot reach the keeper: " + e.message; });
  const q = new URLSearchParams(location.search).get("wallet");
  if (q) { $("address").value = q; show(q).catch((e) => { $("address-err").textContent = e.message; }); }
})();
