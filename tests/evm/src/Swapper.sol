// SPDX-License-Identifier: Apache-2.0
// The contract the EVM log follower's tests and lag bench deploy on a local Hardhat node.
pragma solidity 0.8.26;

contract Swapper {
    event Swapped(address indexed trader, uint256 amount);
    event Staked(address indexed user, address indexed pool, uint256 amount);
    event Noise(uint256 value);

    function swap(uint256 amount) external {
        emit Swapped(msg.sender, amount);
    }

    /// Three logs in one transaction: the two `Swapped` are the receipt's logs 1 and 2.
    function swapTwice(uint256 a, uint256 b) external {
        emit Noise(a);
        emit Swapped(msg.sender, a);
        emit Swapped(msg.sender, b);
    }

    function stake(address pool, uint256 amount) external {
        emit Staked(msg.sender, pool, amount);
    }

    function noise(uint256 value) external {
        emit Noise(value);
    }
}
