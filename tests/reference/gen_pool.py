#!/usr/bin/env python3
"""Seeded random transaction pools for the replay cross-check (tests/reference/replay_ref.py).

    gen_pool.py MODE SEED OUT_POOL.json OUT_WEIGHTS.json

MODE `mixed`: 0..300 wallets over a few epochs, coarse timestamps (ties), RFC 3339 and unix times,
string and integer action ids, exact duplicates, connections and actions before genesis.
MODE `long`: 140 wallets over 420 epochs (crosses the first halving at epoch 365).
MODE `cap`: one new wallet a day, every wallet active daily, so the wallet index reaches its cap.
"""
import datetime
import json
import random
import sys

G = 1767225600
DAY = 86400


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def mixed(r):
    kinds = {"swap": "2.5", "stake": "4", "post": "1", "like": "1.0000000001",
             "vote": "3.3333333333333333333", "big": "10", "tie": "1.00000000011641532182693481445312"}
    nw = r.choice([0, 1, 3, 70, 71, 72, 80, 150, 300])
    ne = r.choice([1, 3, 8])
    wallets, aid = [], 0
    for _ in range(nw):
        addr = "0x" + "".join(r.choice("0123456789abcdefABCDEF") for _ in range(40))
        acts = {"onchain": [], "offchain": []}
        for _ in range(r.randint(0, 6)):
            aid += 1
            t = G + r.randint(-DAY, ne * DAY)
            if r.random() < 0.5:
                t = G + (t - G) // 600 * 600
            a = {"action_id": str(aid) if r.random() < 0.7 else aid, "kind": r.choice(list(kinds)),
                 "timestamp": t if r.random() < 0.6 else rfc3339(t)}
            side = r.choice(["onchain", "offchain"])
            acts[side].append(a)
            if r.random() < 0.1:
                acts[side].append(dict(a))
        wallets.append({"address": addr, "connected_at": G + r.randint(-2 * DAY, ne * DAY), "actions": acts})
    return wallets, kinds


def long_run(r, cap):
    kinds = {"swap": "2.5", "post": "1"}
    wallets, aid = [], 0
    for i in range(140):
        start = i if cap else i * 3
        acts = {"onchain": [], "offchain": []}
        for e in range(start, 420, 1 if cap else r.choice([1, 2, 5, 30])):
            aid += 1
            acts["onchain"].append({"action_id": aid, "kind": r.choice(list(kinds)),
                                    "timestamp": G + e * DAY + r.randint(0, DAY - 1)})
        wallets.append({"address": "0x%040x" % r.getrandbits(160),
                        "connected_at": G + start * DAY + r.randint(0, DAY - 1), "actions": acts})
    return wallets, kinds


def main():
    mode, seed, pool_out, weights_out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    r = random.Random(seed)
    wallets, kinds = mixed(r) if mode == "mixed" else long_run(r, mode == "cap")
    json.dump({"wallets": wallets}, open(pool_out, "w"))
    json.dump(kinds, open(weights_out, "w"))


if __name__ == "__main__":
    main()
