// The local EVM node of the follower's tests: `npx hardhat node --hostname 127.0.0.1 --port P`.
// Nothing is compiled by Hardhat (no compiler download): src/Swapper.sol is compiled by solc-js
// (compile.js) and deployed over JSON-RPC by the tests.
// FLEX_HARDHAT_INITIAL_TIME (unix seconds) dates the genesis block, so a test can mine blocks at
// the times of its scenario (Hardhat's block times only move forward from genesis).
const initial = process.env.FLEX_HARDHAT_INITIAL_TIME;
module.exports = {
  paths: { sources: "./no-hardhat-sources" },
  networks: {
    hardhat: {
      chainId: 31337,
      mining: { auto: true, interval: 0 },
      ...(initial ? { initialDate: new Date(Number(initial) * 1000).toISOString() } : {}),
    },
  },
};
