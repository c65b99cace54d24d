// Drives the keeper's claimer page in headless Chromium (Debian's /usr/bin/chromium, Playwright's
// playwright-core). Run by keeper/cli/tests/web_page.rs with a JSON job in $FLEX_WEB_JOB:
// { base, wallet, key, scores, epochs, month, beneficiary, beneficiary_ss58, message, window_close, out }.
// Prints one JSON line.
import { chromium } from "playwright-core";
import { Wallet, getBytes } from "ethers";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const job = JSON.parse(process.env.FLEX_WEB_JOB);
const fail = (msg) => { throw new Error(msg); };
const signer = new Wallet(job.key);
if (signer.address.toLowerCase() !== job.wallet) fail("the test key is not the wallet's");

const userDataDir = mkdtempSync(join(tmpdir(), "flex-chromium-"));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 390, height: 844 }, // phone width
});
const result = { screenshots: [] };
try {
  const page = context.pages()[0] || (await context.newPage());
  const consoleErrors = [];
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  // No request may leave the keeper's origin (no CDN).
  const foreign = [];
  page.on("request", (r) => { if (!r.url().startsWith(job.base)) foreign.push(r.url()); });

  // An injected EIP-1193 provider whose personal_sign is a real secp256k1 signature (ethers).
  const signed = [];
  await page.exposeFunction("__flexTestSign", async (hexMessage) => {
    const sig = await signer.signMessage(getBytes(hexMessage));
    signed.push(Buffer.from(getBytes(hexMessage)).toString("utf8"));
    return sig;
  });
  await page.addInitScript((address) => {
    window.ethereum = {
      isFlexTestStub: true,
      async request({ method, params }) {
        if (method === "eth_requestAccounts" || method === "eth_accounts") return [address];
        if (method === "eth_chainId") return "0x1";
        if (method === "personal_sign") {
          if (!params || params[1].toLowerCase() !== address) throw new Error("unknown account");
          return window.__flexTestSign(params[0]);
        }
        throw new Error("unsupported method " + method);
      },
    };
  }, job.wallet);

  await page.goto(job.base + "/", { waitUntil: "load" });
  await page.waitForSelector("#epochs tbody tr td");
  result.latest_epochs = await page.$$eval("#epochs tbody tr", (rows) => rows.map((r) => r.innerText));

  // Connect the wallet through the provider, then check the rendered cells.
  await page.click("#connect");
  await page.waitForSelector("#cells .cell");
  const cells = await page.$$eval("#cells .cell", (cs) => cs.map((c) => ({
    text: c.textContent, epoch: Number(c.dataset.epoch), label: c.getAttribute("aria-label"),
    bg: getComputedStyle(c).backgroundColor, fg: getComputedStyle(c).color,
  })));
  if (cells.map((c) => c.text).join("") !== job.scores) fail("cells " + JSON.stringify(cells) + " != scores " + job.scores);
  if (JSON.stringify(cells.map((c) => c.epoch)) !== JSON.stringify(job.epochs)) fail("cell epochs " + cells.map((c) => c.epoch));
  for (const c of cells) if (!/^Epoch \d+, \d{4}-\d\d-\d\d: score [0-9A-F], weight [0-9.]+, reward \d+$/.test(c.label)) fail("cell label " + c.label);
  // Colour by score: equal scores share a colour, different scores differ.
  for (const a of cells) for (const b of cells) {
    if ((a.text === b.text) !== (a.bg === b.bg)) fail("cell colours " + JSON.stringify([a, b]));
  }
  result.cells = cells;
  // Keyboard: Tab reaches the cells; focus shows the epoch's detail.
  await page.focus("#cells .cell");
  await page.keyboard.press("Tab");
  const detail = await page.textContent("#cell-detail");
  if (!detail.startsWith("Epoch " + job.epochs[1 % job.epochs.length] + " (")) fail("focus detail: " + detail);
  result.focus_detail = detail;
  // The window's close as the pool computes it (a pause extended it), not the calendar's.
  const windowCell = `#months tr[data-month="${job.month}"] .window`;
  const closeAttr = await page.getAttribute(windowCell, "data-close");
  if (closeAttr !== String(job.window_close)) fail("window close " + closeAttr + " != the pool's " + job.window_close);
  result.window = await page.textContent(windowCell);
  const closeMinute = new Date(job.window_close * 1000).toISOString().slice(0, 16).replace("T", " ");
  if (!result.window.includes("before " + closeMinute + " UTC, extended by pauses (open)")) fail("window text " + result.window);
  const monthRow = `#months tr[data-month="${job.month}"] .claim-status`;
  if ((await page.textContent(monthRow)) !== "unclaimed") fail("month status before: " + (await page.textContent(monthRow)));

  // Bad input is refused with a message.
  await page.fill("#beneficiary", job.beneficiary_ss58.slice(0, -1) + (job.beneficiary_ss58.endsWith("A") ? "B" : "A"));
  await page.click("#build");
  await page.waitForFunction(() => document.getElementById("claim-err").textContent.includes("SS58"));
  // Build, check the exact bytes, sign through the provider, claim through the relay.
  // The beneficiary as SS58: the page decodes it (checksum verified) to the hex the message binds.
  await page.fill("#beneficiary", job.beneficiary_ss58);
  await page.click("#build");
  await page.waitForFunction(() => document.getElementById("message").value.length > 0);
  const message = await page.inputValue("#message");
  if (message !== job.message) fail("message " + JSON.stringify(message) + " != " + JSON.stringify(job.message));
  await page.click("#sign");
  await page.waitForFunction(() => document.getElementById("signature").value.length === 132);
  if (signed.length !== 1 || signed[0] !== job.message) fail("the provider signed " + JSON.stringify(signed));
  result.signature = await page.inputValue("#signature");
  await page.click("#submit");
  await page.waitForSelector("#claim-outcome", { timeout: 120000 });
  result.outcome = await page.textContent("#claim-outcome");
  if (!result.outcome.startsWith("Claimed: ")) fail("outcome " + result.outcome + " / " + (await page.textContent("#claim-err")));
  // In the reward token's units (symbol and decimals from /v1/info), as `flex-keeper claim` shows them.
  if (job.amount_display && !result.outcome.startsWith("Claimed: " + job.amount_display + " to ")) fail("outcome units: " + result.outcome);
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === "claimed", monthRow);
  result.month_status = await page.textContent(monthRow);
  await page.focus("#cells .cell");
  const phone = job.out + "/claim-page-phone.png";
  await page.screenshot({ path: phone, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  const desktop = job.out + "/claim-page-desktop.png";
  await page.screenshot({ path: desktop, fullPage: true });
  result.screenshots.push(phone, desktop);
  // Phone width: nothing wider than the viewport except inside scroll boxes.
  await page.setViewportSize({ width: 390, height: 844 });
  result.page_width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (result.page_width > 390) fail("the page is " + result.page_width + " px wide at 390 px");
  if (foreign.length) fail("requests outside the keeper: " + foreign.join(", "));
  if (consoleErrors.length) fail("page errors: " + consoleErrors.join("; "));
  console.log(JSON.stringify(result));
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
