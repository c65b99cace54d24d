#!/usr/bin/env python3
"""An independent reference of SPEC sections 1-5, written from the spec text alone (not from the Rust
engine), used to cross-check `flex-keeper replay` byte for byte on random inputs.

    replay_ref.py POOL.json WEIGHTS.json GENESIS BALANCE [active|always] [EPOCHS]

Python integers are exact, so there is no fixed-point library here: a U32F32 weight is the integer
round_half_even(w * 2^32) and a U64F64 sum is the sum of those integers shifted left by 32.
"""
import json
import sys
from datetime import datetime
from fractions import Fraction

DAY = 86400
MULT = [0, 1, 2, 3, 5, 7, 9, 12, 16, 18, 25, 30, 35, 50, 70, 100]


def section_score(s):
    # SPEC 4.6 table: sections count from the bottom (1) to the top (70).
    for hi, score in [(1, 1), (2, 2), (5, 3), (8, 4), (11, 5), (13, 6), (15, 7), (30, 8), (45, 9),
                      (55, 10), (63, 11), (67, 12), (69, 13), (70, 14)]:
        if s <= hi:
            return score
    raise ValueError(s)


def ts(v):
    if isinstance(v, int):
        return v
    return int(datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp())


def u32f32_bits(s):
    frac = Fraction(s) * (1 << 32)
    return round(frac)  # Fraction rounding is half to even


def main():
    pool_path, weights_path, genesis, balance = sys.argv[1:5]
    bonus = sys.argv[5] if len(sys.argv) > 5 else "active"
    epochs_arg = int(sys.argv[6]) if len(sys.argv) > 6 else None
    genesis, balance = int(genesis), int(balance)
    weights = {k: u32f32_bits(v) << 32 for k, v in json.load(open(weights_path)).items()}
    pool = json.load(open(pool_path))

    wallets = {}  # address bytes -> connection epoch
    actions = {}  # action_id -> (addr, epoch, ts, weight_bits)
    last = 0
    for w in pool["wallets"]:
        addr = bytes.fromhex(w["address"][2:].lower())
        c = max(0, (ts(w["connected_at"]) - genesis) // DAY)
        wallets[addr] = c
        last = max(last, c)
        for side in ("onchain", "offchain"):
            for a in w.get("actions", {}).get(side, []):
                t = ts(a["timestamp"])
                aid = str(a["action_id"])
                if aid in actions:
                    continue
                if t < genesis:
                    actions[aid] = None
                    continue
                e = (t - genesis) // DAY
                actions[aid] = (addr, e, t, weights[a["kind"]]) if e >= c else None
    counted = [a for a in actions.values() if a is not None]
    for a in counted:
        last = max(last, a[1])
    # Default: through the last epoch with a connection or a counted action (none for an empty pool).
    n_epochs = epochs_arg if epochs_arg is not None else (last + 1 if wallets else 0)

    arrays = {addr: "" for addr in wallets}
    out_epochs = []
    wi, best_active, p_t = 0, None, balance
    for e in range(n_epochs):
        members = sorted(a for a, c in wallets.items() if c <= e)
        weight = {a: 0 for a in members}
        first = {}
        for addr, ae, t, wb in counted:
            if ae == e:
                weight[addr] += wb
                first[addr] = min(first.get(addr, t), t)
        active = sum(1 for a in members if weight[a] > 0)
        if e >= 1 and active > best_active:
            wi = min(100, wi + 1)
        best_active = active if best_active is None else max(best_active, active)
        h = e // 365
        p_e = p_t * wi // (10000 * 2 ** h)

        ranked = sorted((a for a in members if wallets[a] < e and weight[a] > 0),
                        key=lambda a: (-weight[a], first[a], a))
        n = len(ranked)
        score, mult = {}, {}
        for a in members:
            if wallets[a] == e:
                score[a] = 15
                mult[a] = 100 if (bonus == "always" or weight[a] > 0) else 0
            elif weight[a] == 0:
                score[a], mult[a] = 0, 0
        for r, a in enumerate(ranked, start=1):
            if r == 1:
                score[a] = 15
            elif n < 71:
                score[a] = 8
            else:
                score[a] = section_score(70 - (r - 1) * 70 // n)
            mult[a] = MULT[score[a]]
        s = sum(mult[a] for a in members)
        reward = {a: 0 for a in members}
        distributed = 0
        if s > 0:
            for a in members:
                reward[a] = p_e * mult[a] // s
            left = p_e - sum(reward.values())
            order = sorted(members, key=lambda a: (-((p_e * mult[a]) % s), -mult[a], a))
            for a in order[:left]:
                reward[a] += 1
            distributed = p_e
        for a in members:
            arrays[a] += "0123456789ABCDEF"[score[a]]
        out_epochs.append(
            '{"epoch":%d,"wallet_index":%d,"halving":%d,"pool":"%d","distributed":"%d","active":%d,"ranked":%d,"wallets":{%s}}'
            % (e, wi, h, p_e, distributed, active, n, ",".join(
                '"0x%s":{"score":"%s","weight_bits":"%d","reward":"%d"}'
                % (a.hex(), "0123456789ABCDEF"[score[a]], weight[a], reward[a]) for a in members)))
        p_t -= distributed
    arr = ",".join('"0x%s":"%s"' % (a.hex(), arrays[a]) for a in sorted(arrays) if wallets[a] < n_epochs)
    sys.stdout.write('{"epochs":[%s],"arrays":{%s}}\n' % (",".join(out_epochs), arr))


if __name__ == "__main__":
    main()
