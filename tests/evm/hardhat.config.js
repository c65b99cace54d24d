// The local EVM node of the follower's tests: `npx hardhat node --hostname 127.0.0.1 --port P`.
// Nothing is compiled by Hardhat (no compiler download): src/Swapper.sol is compiled by solc-js
// (compile.js) and deployed over JSON-RPC by the tests.
module.exports = {
  paths: { sources: "./no-hardhat-sources" },
  networks: {
    hardhat: {
      chainId: 31337,
      mining: { auto: true, interval: 0 },
    },
  },
};
