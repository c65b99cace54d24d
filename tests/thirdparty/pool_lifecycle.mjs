// The reward pool's lifecycle driven by third-party clients only (issue 15, acceptance): nothing
// of the project's code runs here. polkadot.js' api-contract reads the contracts' `.contract`
// bundles (metadata + Wasm) and deploys the tokens and the pool, the keepers vote epochs and the
// month root to quorum, a wallet signs its claim with ethers.js over the 7-line message of
// docs/PROTOCOL.md ("Claim message", rebuilt here from the documented format), the claim tree is
// OpenZeppelin's StandardMerkleTree with the documented leaf encoding, and after the claim window
// anyone sweeps the rest to the treasury. Balances and the pool's events are asserted at each step.
//
// Usage: node pool_lifecycle.mjs WS_URL TOKEN.contract POOL.contract
// Chain time moves with chopsticks' dev RPCs (dev_timeTravel, dev_newBlock). On success the last
// line of stdout is a JSON summary (read by tests/tests/thirdparty.rs); any failed check exits 1.
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";
import { ApiPromise, WsProvider } from "@polkadot/api";
import { Abi, CodePromise, ContractPromise } from "@polkadot/api-contract";
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { hexToU8a, u8aToHex } from "@polkadot/util";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { Wallet, verifyMessage } from "ethers";

const [url, tokenPath, poolPath] = process.argv.slice(2);
if (!url || !tokenPath || !poolPath) {
  console.error("usage: node pool_lifecycle.mjs WS_URL TOKEN.contract POOL.contract");
  process.exit(2);
}

const DAY = 86_400;
const GENESIS = Date.UTC(2026, 0, 29) / 1000; // 2026-01-29: January holds epochs 0, 1, 2
const JANUARY_2026 = 2026 * 12;
const FEB_1 = Date.UTC(2026, 1, 1) / 1000;
const MAR_1 = Date.UTC(2026, 2, 1) / 1000;
const SUPPLY = 10n ** 19n;
const DEPOSIT = 10n ** 18n;
const CLAIM_PRICE = 5n * 10n ** 17n; // 0.5 payment base units per reward base unit, times 1e18
const GOVERNANCE_DELAY = 2 * DAY;

const log = (...a) => console.error("[thirdparty]", ...a);

await cryptoWaitReady();
const provider = new WsProvider(url);
const api = await ApiPromise.create({ provider, noInitWarn: true });
// Addresses in the chain's own SS58 format, as the API writes them.
const keyring = new Keyring({ type: "sr25519", ss58Format: api.registry.chainSS58 ?? 42 });
const [alice, bob, charlie, dave, eve, ferdie] = ["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"].map((n) =>
  keyring.addFromUri("//" + n),
);
const treasury = keyring.addFromUri("//FlexTreasury").address;
const genesisHash = api.genesisHash.toHex();
// Dry runs may use up to one extrinsic's maximum weight; transactions then pay what they required.
const DRY_RUN_GAS = api.consts.system.blockWeights.perClass.normal.maxExtrinsic.unwrap();

// chopsticks' dev RPCs: set the clock, then build a block with it.
async function travel(unixSeconds) {
  await provider.send("dev_timeTravel", [unixSeconds * 1000]);
  await provider.send("dev_newBlock", [{ count: 1 }]);
}

// Submits a signed extrinsic and waits until it is in a block; rejects with the decoded
// dispatch error (module errors by name) when it fails.
function submit(tx, signer, what) {
  return new Promise((resolve, reject) => {
    let done = false;
    tx.signAndSend(signer, (result) => {
      if (done) return;
      if (result.dispatchError) {
        done = true;
        const e = result.dispatchError;
        const reason = e.isModule ? JSON.stringify(api.registry.findMetaError(e.asModule)) : e.toString();
        reject(new Error(`${what}: dispatch error ${reason}`));
      } else if (result.status.isInBlock || result.status.isFinalized) {
        done = true;
        resolve(result);
      }
    }).catch((e) => {
      done = true;
      reject(new Error(`${what}: ${e.message}`));
    });
  });
}

// The contract's events of a call, by their short name, fields as codecs by their metadata names.
function eventsOf(result) {
  return (result.contractEvents || []).map(({ event, args }) => ({
    name: event.identifier.split("::").pop(),
    fields: Object.fromEntries(event.args.map((a, i) => [a.name, args[i]])),
  }));
}

const loadBundle = (path) => JSON.parse(readFileSync(path, "utf8"));

// Deploys a bundle: dry run of the instantiation for the weight, then `instantiate_with_code`.
async function deploy(bundle, signer, salt, ...args) {
  const abi = new Abi(bundle, api.registry.getChainProperties());
  const code = new CodePromise(api, abi, bundle.source.wasm);
  const ctor = abi.constructors[0];
  const data = ctor.toU8a(args);
  const dry = await api.call.contractsApi.instantiate(
    signer.address, 0, null, null, { Upload: bundle.source.wasm }, data, salt,
  );
  assert.ok(dry.result.isOk, `dry run of ${bundle.contract.name} instantiation failed: ${dry.result.toString()}`);
  assert.ok(!dry.result.asOk.result.flags.isRevert, `${bundle.contract.name}'s constructor reverted in its dry run`);
  const tx = code.tx[ctor.method]({ gasLimit: dry.gasRequired, storageDepositLimit: null, salt }, ...args);
  const result = await submit(tx, signer, `deploy ${bundle.contract.name}`);
  assert.ok(result.contract, `no Instantiated event for ${bundle.contract.name}`);
  log(`deployed ${bundle.contract.name} at ${result.contract.address.toString()}`);
  return new ContractPromise(api, abi, result.contract.address);
}

// A read-only dry run of `message`, unwrapped from ink!'s `Result<_, LangError>`.
async function query(contract, message, caller, ...args) {
  const { result, output } = await contract.query[message](caller.address ?? caller, { gasLimit: DRY_RUN_GAS }, ...args);
  assert.ok(result.isOk, `${message}: dry run failed: ${result.toString()}`);
  assert.ok(output.isOk, `${message}: LangError ${output.toString()}`);
  return output.asOk;
}

// A message returning the contract's `Result<T, Error>`: the `Err` variant's name, or null.
async function refusal(contract, message, caller, ...args) {
  const out = await query(contract, message, caller, ...args);
  return out.isErr ? out.asErr.type : null;
}

// A transaction the way a wallet sends one: dry run (must not revert) for the weight, then submit.
async function call(contract, message, signer, ...args) {
  const { result, output, gasRequired } = await contract.query[message](signer.address, { gasLimit: DRY_RUN_GAS }, ...args);
  assert.ok(result.isOk, `${message}: dry run failed: ${result.toString()}`);
  assert.ok(!result.asOk.flags.isRevert, `${message} by ${signer.meta.name ?? signer.address} reverts: ${output?.toString()}`);
  const tx = contract.tx[message]({ gasLimit: gasRequired, storageDepositLimit: null }, ...args);
  const res = await submit(tx, signer, message);
  return { events: eventsOf(res), output: output.asOk };
}

const balance = async (token, who) => (await query(token, "psp22::balanceOf", alice, who)).toBigInt();

// ---- deploy ------------------------------------------------------------------------------------
const tokenBundle = loadBundle(tokenPath);
const poolBundle = loadBundle(poolPath);
await travel(GENESIS - DAY);
const flexe = await deploy(tokenBundle, alice, "0x01", SUPPLY, "Flex FLEXE", "FLEXE", 12);
const pay = await deploy(tokenBundle, alice, "0x02", SUPPLY, "Flex PAY", "PAY", 12);
assert.equal((await query(flexe, "psp22::totalSupply", alice)).toBigInt(), SUPPLY);
assert.equal((await query(flexe, "psp22Metadata::tokenSymbol", alice)).toHuman(), "FLEXE");

const keepers = [alice, bob, charlie, dave];
const pool = await deploy(poolBundle, alice, "0x03",
  flexe.address, pay.address, treasury, GENESIS, keepers.map((k) => k.address), GOVERNANCE_DELAY, genesisHash);
assert.equal((await query(pool, "chainGenesisHash", alice)).toHex(), genesisHash, "the pool binds this chain");
assert.equal((await query(pool, "threshold", alice)).toNumber(), 3, "floor(2*4/3)+1");
assert.equal((await query(pool, "governanceDelay", alice)).toNumber(), GOVERNANCE_DELAY);
assert.equal((await query(pool, "treasury", alice)).toString(), treasury);
assert.equal((await query(pool, "owner", alice)).toString(), alice.address);

// Funding: approve, then deposit.
await call(flexe, "psp22::approve", alice, pool.address, DEPOSIT);
const deposited = await call(pool, "deposit", alice, DEPOSIT);
assert.deepEqual(deposited.events.map((e) => e.name), ["Deposited"]);
assert.equal(deposited.events[0].fields.amount.toBigInt(), DEPOSIT);
assert.equal(await balance(flexe, pool.address), DEPOSIT);
assert.equal((await query(pool, "unallocated", alice)).toBigInt(), DEPOSIT);

// ---- epochs ------------------------------------------------------------------------------------
// Five EVM wallets; the month's activity: each epoch's reward split over the active wallets by
// weight (floor, the rest to the last), exact integers.
const wallets = [1, 2, 3, 4, 5].map((i) => new Wallet("0x" + i.toString(16).padStart(2, "0").repeat(32)));
const epochPlan = [
  { active: [0, 1, 2], weights: [3n, 2n, 1n] },
  { active: [0, 1, 2, 3], weights: [4n, 3n, 2n, 1n] },
  { active: [0, 1, 2, 3, 4], weights: [5n, 1n, 1n, 1n, 2n] },
];
const monthAmounts = new Map();
let snapshot = 0n; // P_t: 0 at genesis, then the unallocated balance after each finalisation
let unallocated = DEPOSIT;
let walletIndex = 0n;
let maxActive = -1;
let distributed = 0n;
for (const [epoch, plan] of epochPlan.entries()) {
  // The documented epoch pool: Wi rises by 1 when the active count beats every earlier epoch's
  // (0 at epoch 0), H = 0 in the first year, P_e = floor(P_t * Wi / 10000).
  const active = plan.active.length;
  if (epoch > 0 && active > maxActive) walletIndex += 1n;
  maxActive = Math.max(maxActive, active);
  const pe = (snapshot * walletIndex) / 10000n;
  const preview = await query(pool, "expectedEpoch", alice, active);
  assert.equal(preview.epoch.toNumber(), epoch);
  assert.equal(preview.walletIndex.toBigInt(), walletIndex, `Wi of epoch ${epoch}`);
  assert.equal(preview.pool.toBigInt(), pe, `P_e of epoch ${epoch}: the documented formula`);

  const weightSum = plan.weights.reduce((a, b) => a + b, 0n);
  let given = 0n;
  const leaves = plan.active.map((w, i) => {
    const reward = i === plan.active.length - 1 ? pe - given : (pe * plan.weights[i]) / weightSum;
    given += reward;
    const address = wallets[w].address.toLowerCase();
    monthAmounts.set(address, (monthAmounts.get(address) ?? 0n) + reward);
    return [epoch, address, 8, plan.weights[i] << 64n, reward];
  });
  const scores = StandardMerkleTree.of(leaves, ["uint64", "address", "uint8", "uint128", "uint128"]);
  const commitment = {
    epoch,
    scoresRoot: scores.root,
    activeCount: active,
    totalWeightBits: weightSum << 64n,
    multiplierSum: weightSum,
    pool: pe,
    forecast: 0,
  };

  // Not before the epoch has ended, nor by a non-keeper, nor with another pool.
  await travel(GENESIS + epoch * DAY + DAY / 2);
  assert.equal(await refusal(pool, "submitEpoch", alice, commitment), "EpochNotEnded");
  await travel(GENESIS + (epoch + 1) * DAY + 60);
  assert.equal(await refusal(pool, "submitEpoch", eve, commitment), "NotKeeper");
  assert.equal(await refusal(pool, "submitEpoch", alice, { ...commitment, pool: pe + 1n }), "PoolMismatch");

  const hash = (await query(pool, "epochCommitmentHash", alice, commitment)).toHex();
  for (const [i, keeper] of [alice, bob, charlie].entries()) {
    const { events, output } = await call(pool, "submitEpoch", keeper, commitment);
    const finalised = i === 2;
    assert.equal(output.asOk.isTrue, finalised, `vote ${i + 1} of 3 finalises: ${finalised}`);
    const voted = events.find((e) => e.name === "EpochVoted");
    assert.equal(voted.fields.commitmentHash.toHex(), hash);
    assert.equal(voted.fields.votes.toNumber(), i + 1);
    assert.equal(voted.fields.keeper.toString(), keeper.address);
    assert.equal(events.some((e) => e.name === "EpochFinalized"), finalised);
    if (!finalised) {
      assert.equal(await refusal(pool, "submitEpoch", keeper, commitment), "AlreadyVoted");
    }
  }
  assert.equal((await query(pool, "nextEpoch", alice)).toNumber(), epoch + 1);
  const info = (await query(pool, "epoch", alice, epoch)).unwrap();
  assert.equal(info.commitment.scoresRoot.toHex(), scores.root);
  assert.equal(info.monthIndex.toNumber(), JANUARY_2026);
  assert.equal(info.distributed.toBigInt(), pe);
  distributed += pe;
  unallocated -= pe;
  snapshot = unallocated;
  assert.equal((await query(pool, "unallocated", alice)).toBigInt(), unallocated);
}
assert.ok(distributed > 0n);
assert.equal((await query(pool, "monthDistributed", alice, JANUARY_2026)).toBigInt(), distributed);

// ---- the month's claim root ------------------------------------------------------------------------
const claimValues = [...monthAmounts].filter(([, a]) => a > 0n).map(([w, a]) => [JANUARY_2026, w, a]);
const claims = StandardMerkleTree.of(claimValues, ["uint32", "address", "uint128"]);
assert.equal(claimValues.reduce((s, v) => s + v[2], 0n), distributed, "the tree holds what the epochs distributed");
const root = { monthIndex: JANUARY_2026, claimsRoot: claims.root, total: distributed, claimPrice: CLAIM_PRICE };
assert.equal(await refusal(pool, "submitMonth", alice, { ...root, total: distributed - 1n }), "MonthTotalMismatch");
for (const [i, keeper] of [alice, bob, charlie].entries()) {
  const { events, output } = await call(pool, "submitMonth", keeper, root);
  assert.equal(output.asOk.isTrue, i === 2);
  assert.equal(events.some((e) => e.name === "MonthFinalized"), i === 2);
}
const month = (await query(pool, "month", alice, JANUARY_2026)).unwrap();
assert.equal(month.root.claimsRoot.toHex(), claims.root);

// ---- a claim, signed with ethers over the documented message ------------------------------------------
await travel(FEB_1 + 3600);
const window = (await query(pool, "claimWindow", alice, JANUARY_2026)).unwrap();
assert.deepEqual([window[0].toNumber(), window[1].toNumber()], [FEB_1, MAR_1], "January's window is February");

const claimer = wallets[0];
const claimIndex = claimValues.findIndex(([, w]) => w === claimer.address.toLowerCase());
const amount = claimValues[claimIndex][2];
const proof = claims.getProof(claimIndex);
const accountHex = (ss58) => u8aToHex(keyring.decodeAddress(ss58));
const claimMessage = (beneficiary) =>
  [
    "Flex reward claim",
    `chain: ${genesisHash.toLowerCase()}`,
    `contract: ${accountHex(pool.address.toString())}`,
    `month: ${JANUARY_2026} (${String(Math.floor(JANUARY_2026 / 12)).padStart(4, "0")}-${String((JANUARY_2026 % 12) + 1).padStart(2, "0")})`,
    `wallet: ${claimer.address.toLowerCase()}`,
    `amount: ${amount.toString()}`,
    `beneficiary: ${accountHex(beneficiary)}`,
  ].join("\n");
const message = claimMessage(ferdie.address);
const onChain = await query(pool, "claimMessage", alice, JANUARY_2026, claimer.address, amount, ferdie.address);
assert.equal(u8aToHex(onChain.toU8a(true)), u8aToHex(new TextEncoder().encode(message)), "the documented message is the contract's");
const signature = await claimer.signMessage(message); // EIP-191 personal_sign
assert.equal(verifyMessage(message, signature), claimer.address);
assert.equal(hexToU8a(signature).length, 65);

// The cost: ceil(amount * price / 10^19).
const cost = (amount * CLAIM_PRICE + 10n ** 19n - 1n) / 10n ** 19n;
assert.equal((await query(pool, "claimCost", alice, JANUARY_2026, amount)).asOk.toBigInt(), cost);
assert.ok(cost > 0n);

// Eve relays and pays the cost in PAY; the tokens go to Ferdie.
await call(pay, "psp22::transfer", alice, eve.address, 10n * cost, []);
const claimArgs = (beneficiary) => [JANUARY_2026, claimer.address, amount, proof, signature, beneficiary];
assert.equal(await refusal(pool, "claim", eve, ...claimArgs(ferdie.address)), "PaymentFailed", "no allowance yet");
await call(pay, "psp22::approve", eve, pool.address, cost);
assert.equal(await refusal(pool, "claim", eve, ...claimArgs(eve.address)), "SignerMismatch", "the signature binds the beneficiary");
assert.equal(await refusal(pool, "claim", eve, ...claimArgs(pool.address)), "InvalidBeneficiary");
const wrongProof = [JANUARY_2026, claimer.address, amount + 1n, proof, signature, ferdie.address];
assert.equal(await refusal(pool, "claim", eve, ...wrongProof), "InvalidProof");

const before = {
  ferdie: await balance(flexe, ferdie.address),
  pool: await balance(flexe, pool.address),
  evePay: await balance(pay, eve.address),
  treasuryPay: await balance(pay, treasury),
};
const claimed = await call(pool, "claim", eve, ...claimArgs(ferdie.address));
const claimedEvent = claimed.events.find((e) => e.name === "Claimed");
assert.ok(claimedEvent, "a Claimed event");
assert.equal(claimedEvent.fields.monthIndex.toNumber(), JANUARY_2026);
assert.equal(claimedEvent.fields.wallet.toHex(), claimer.address.toLowerCase());
assert.equal(claimedEvent.fields.beneficiary.toString(), ferdie.address);
assert.equal(claimedEvent.fields.amount.toBigInt(), amount);
assert.equal(claimedEvent.fields.payer.toString(), eve.address);
assert.equal(claimedEvent.fields.cost.toBigInt(), cost);
assert.equal(await balance(flexe, ferdie.address), before.ferdie + amount, "beneficiary paid");
assert.equal(await balance(flexe, pool.address), before.pool - amount);
assert.equal(await balance(pay, eve.address), before.evePay - cost, "the submitter pays the cost");
assert.equal(await balance(pay, treasury), before.treasuryPay + cost, "to the treasury");
assert.equal((await query(pool, "isClaimed", alice, JANUARY_2026, claimer.address)).isTrue, true);
await call(pay, "psp22::approve", eve, pool.address, cost);
assert.equal(await refusal(pool, "claim", eve, ...claimArgs(ferdie.address)), "AlreadyClaimed");

// ---- sweep after the window ------------------------------------------------------------------------
assert.equal(await refusal(pool, "sweep", bob, JANUARY_2026), "SweepTooEarly");
await travel(MAR_1 - 60);
assert.equal(await refusal(pool, "sweep", bob, JANUARY_2026), "SweepTooEarly", "a minute before the close");
await travel(MAR_1 + 60);
// A late claim by wallet 1 (signed for Eve) is refused: the window has closed.
const lateIndex = claimValues.findIndex(([, w]) => w === wallets[1].address.toLowerCase());
const lateAmount = claimValues[lateIndex][2];
const lateMessage = claimMessage(eve.address)
  .replace(`wallet: ${claimer.address.toLowerCase()}`, `wallet: ${wallets[1].address.toLowerCase()}`)
  .replace(`amount: ${amount}`, `amount: ${lateAmount}`);
const lateSig = await wallets[1].signMessage(lateMessage);
assert.equal(
  await refusal(pool, "claim", eve, JANUARY_2026, wallets[1].address, lateAmount, claims.getProof(lateIndex), lateSig, eve.address),
  "ClaimWindowClosed",
);
const rest = distributed - amount;
const treasuryBefore = await balance(flexe, treasury);
const swept = await call(pool, "sweep", bob, JANUARY_2026);
assert.equal(swept.output.asOk.toBigInt(), rest);
const sweptEvent = swept.events.find((e) => e.name === "Swept");
assert.equal(sweptEvent.fields.amount.toBigInt(), rest);
assert.equal(sweptEvent.fields.treasury.toString(), treasury);
assert.equal(await balance(flexe, treasury), treasuryBefore + rest, "the unclaimed rest is swept");
assert.equal(await balance(flexe, pool.address), DEPOSIT - distributed);
assert.equal((await query(pool, "swept", alice, JANUARY_2026)).unwrap().toBigInt(), rest);
assert.equal(await refusal(pool, "sweep", bob, JANUARY_2026), "AlreadySwept");

const pkg = (name) => JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url))).version;
console.log(
  JSON.stringify({
    pool: accountHex(pool.address.toString()),
    flexe: accountHex(flexe.address.toString()),
    pay: accountHex(pay.address.toString()),
    treasury: accountHex(treasury),
    month_index: JANUARY_2026,
    claims_root: claims.root,
    distributed: distributed.toString(),
    claimed: { wallet: claimer.address.toLowerCase(), amount: amount.toString(), cost: cost.toString(), beneficiary: accountHex(ferdie.address) },
    swept: rest.toString(),
    clients: {
      "@polkadot/api": pkg("@polkadot/api"),
      "@polkadot/api-contract": pkg("@polkadot/api-contract"),
      ethers: pkg("ethers"),
      "@openzeppelin/merkle-tree": pkg("@openzeppelin/merkle-tree"),
    },
  }),
);
await api.disconnect();
process.exit(0);
