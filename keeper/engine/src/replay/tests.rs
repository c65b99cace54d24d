use super::*;
use crate::score::F;
use proptest::prelude::*;

const DAY: i64 = 86_400;
const G: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn addr(n: u8) -> Address {
    let mut a = [0u8; 20];
    a[19] = n;
    a[0] = n.wrapping_mul(37); // scramble the byte order against the numbering
    Address(a)
}

fn table() -> WeightTable {
    let mut t = WeightTable::new();
    t.insert_str("swap", "2.5").unwrap(); // kind 0
    t.insert_str("vote", "1").unwrap(); // kind 1
    t
}

fn config(balance: u128, epochs: Option<u64>) -> ReplayConfig {
    ReplayConfig {
        genesis: Genesis::new(G).unwrap(),
        balance,
        bonus: ConnectionBonus::Active,
        epochs,
    }
}

fn run(
    wallets: &[Wallet],
    actions: &[Action],
    cfg: ReplayConfig,
) -> (Vec<EpochReport>, Vec<(Address, String)>) {
    let mut r = Replay::new(wallets, actions, &table(), cfg).unwrap();
    let mut reports = Vec::new();
    while let Some(e) = r.next_epoch() {
        reports.push(e);
    }
    let arrays = r
        .score_arrays()
        .map(|(a, s)| (a, s.iter().map(|&x| crate::score::score_char(x)).collect()))
        .collect();
    (reports, arrays)
}

#[test]
fn small_replay_by_hand() {
    // Wallet A connects before genesis (-> epoch 0), B in epoch 0, C in epoch 1.
    let wallets = [
        Wallet {
            address: addr(3),
            connected_at: G - 5 * DAY,
        },
        Wallet {
            address: addr(1),
            connected_at: G + 10,
        },
        Wallet {
            address: addr(2),
            connected_at: G + DAY + 7,
        },
    ];
    let actions = [
        Action {
            wallet: 0,
            kind: 0,
            timestamp: G - 1,
        }, // before genesis: ignored
        Action {
            wallet: 0,
            kind: 0,
            timestamp: G + 100,
        }, // A e0: 2.5
        Action {
            wallet: 1,
            kind: 1,
            timestamp: G + 50,
        }, // B e0: 1 (connection epoch counts)
        Action {
            wallet: 2,
            kind: 0,
            timestamp: G + 3,
        }, // C before its connection: ignored
        Action {
            wallet: 0,
            kind: 1,
            timestamp: G + DAY + 5,
        }, // A e1: 1
        Action {
            wallet: 1,
            kind: 0,
            timestamp: G + DAY + 9,
        }, // B e1: 2.5
        Action {
            wallet: 1,
            kind: 1,
            timestamp: G + DAY + 99,
        }, // B e1: +1 = 3.5
        Action {
            wallet: 2,
            kind: 1,
            timestamp: G + 2 * DAY,
        }, // C e2: 1
    ];
    let (r, arrays) = run(&wallets, &actions, config(1_000_000, None));
    assert_eq!(r.len(), 3);
    // Epoch 0: A and B both connect in epoch 0 -> F, not ranked; both active -> both earn 100.
    // Wi = 0 at epoch 0 -> pool 0.
    assert_eq!(
        (r[0].wallet_index, r[0].pool, r[0].active, r[0].ranked),
        (0, 0, 2, 0)
    );
    assert_eq!(r[0].wallets, vec![addr(1), addr(3)]); // sorted by bytes: addr(1)[0]=37 < addr(3)[0]=111
    assert_eq!(r[0].scores, vec![F, F]);
    // Epoch 1: A (1.0) and B (3.5) ranked, C connects (F, inactive -> multiplier 0). Active 2, not
    // above epoch 0's 2 -> Wi stays 0 -> pool 0.
    assert_eq!(
        (r[1].wallet_index, r[1].pool, r[1].active, r[1].ranked),
        (0, 0, 2, 2)
    );
    assert_eq!(r[1].wallets, vec![addr(1), addr(2), addr(3)]);
    assert_eq!(r[1].scores, vec![F, F, 8]);
    assert_eq!(r[1].weights, vec![7 << 63, 0, 1 << 64]);
    // Epoch 2: only C active (1 active, not a new high) -> Wi 0.
    assert_eq!((r[2].wallet_index, r[2].active, r[2].ranked), (0, 1, 1));
    assert_eq!(r[2].scores, vec![0, F, 0]);
    assert_eq!(
        arrays,
        vec![
            (addr(1), "FF0".to_string()),
            (addr(2), "FF".to_string()),
            (addr(3), "F80".to_string())
        ]
    );
    // --epochs 1 truncates; C is not connected yet and has no array.
    let (r, arrays) = run(&wallets, &actions, config(1_000_000, Some(1)));
    assert_eq!(r.len(), 1);
    assert_eq!(arrays.len(), 2);
}

#[test]
fn duplicate_wallet_is_an_error() {
    let w = Wallet {
        address: addr(9),
        connected_at: G,
    };
    let e = Replay::new(&[w, w], &[], &table(), config(0, None)).unwrap_err();
    assert_eq!(e, EngineError::DuplicateWallet(addr(9)));
}

#[test]
fn empty_pool_has_no_epochs() {
    let (r, a) = run(&[], &[], config(5, None));
    assert!(r.is_empty() && a.is_empty());
}

/// 150 wallets connected at genesis; wallet k is active in every epoch e >= k, so the active count
/// is min(e + 1, 150): a new high in every epoch up to 149, then flat. Wi = min(e, 100).
#[test]
fn wallet_index_cap_and_halving_boundary() {
    let wallets: Vec<Wallet> = (0..150u8)
        .map(|k| Wallet {
            address: addr(k),
            connected_at: G,
        })
        .collect();
    let mut actions = Vec::new();
    for e in 0..367i64 {
        for k in 0..150u32 {
            if i64::from(k) <= e {
                actions.push(Action {
                    wallet: k,
                    kind: 1,
                    timestamp: G + e * DAY + i64::from(k),
                });
            }
        }
    }
    let balance = 10u128.pow(30);
    let (r, _) = run(&wallets, &actions, config(balance, None));
    assert_eq!(r.len(), 367);
    for (e, rep) in r.iter().enumerate() {
        assert_eq!(u64::from(rep.wallet_index), (e as u64).min(100), "epoch {e}");
        assert_eq!(rep.active, (e as u64 + 1).min(150));
        assert_eq!(rep.distributed, rep.pool);
        if e > 0 {
            assert_eq!(rep.balance, r[e - 1].balance - r[e - 1].distributed);
        }
    }
    // Epoch 100: Wi reaches the cap 100 (1%): P = floor(balance / 100).
    assert_eq!(r[100].pool, r[100].balance / 100);
    // Epoch 364: H = 0 -> 1% of the snapshot; epoch 365: H = 1 -> 0.5%.
    assert_eq!(r[364].halving, 0);
    assert_eq!(r[364].pool, r[364].balance / 100);
    assert_eq!(r[365].halving, 1);
    assert_eq!(r[365].pool, r[365].balance / 200);
    // Epoch 1: Wi = 1 -> 0.01% of 10^30 = 10^26 exactly.
    assert_eq!(r[1].pool, 10u128.pow(26));
    assert_eq!(r[1].balance, balance);
}

fn arb_pool() -> impl Strategy<Value = (Vec<Wallet>, Vec<Action>)> {
    (1usize..40).prop_flat_map(|n| {
        let wallets = prop::collection::vec(-2i64..5, n).prop_map(|days| {
            days.into_iter()
                .enumerate()
                .map(|(i, d)| Wallet {
                    address: addr(i as u8),
                    connected_at: G + d * DAY + 11,
                })
                .collect::<Vec<_>>()
        });
        let actions =
            prop::collection::vec((0..n as u32, 0u16..2, -1i64..6, 0i64..3), 0..200).prop_map(|v| {
                v.into_iter()
                    .map(|(w, k, d, s)| Action {
                        wallet: w,
                        kind: k,
                        timestamp: G + d * DAY + s * 1000,
                    })
                    .collect::<Vec<_>>()
            });
        (wallets, actions)
    })
}

proptest! {
    /// The same wallets and actions in any order give identical results.
    #[test]
    fn order_does_not_matter((wallets, actions) in arb_pool(), seed in any::<u64>(), always in any::<bool>()) {
        let mut cfg = config(987_654_321_012_345, None);
        if always { cfg.bonus = ConnectionBonus::Always; }
        let base = run(&wallets, &actions, cfg);
        // Shuffle wallets (remapping the actions' wallet indices) and actions.
        let mut rng = seed | 1;
        let mut next = move || { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; rng };
        let mut perm: Vec<usize> = (0..wallets.len()).collect();
        for i in (1..perm.len()).rev() { perm.swap(i, (next() % (i as u64 + 1)) as usize); }
        let mut inv = vec![0u32; perm.len()];
        for (new, &old) in perm.iter().enumerate() { inv[old] = new as u32; }
        let w2: Vec<Wallet> = perm.iter().map(|&old| wallets[old]).collect();
        let mut a2: Vec<Action> = actions.iter().map(|a| Action { wallet: inv[a.wallet as usize], ..*a }).collect();
        for i in (1..a2.len()).rev() { a2.swap(i, (next() % (i as u64 + 1)) as usize); }
        let shuffled = run(&w2, &a2, cfg);
        prop_assert_eq!(&base, &shuffled);
        // Invariants on every epoch.
        for rep in &base.0 {
            prop_assert_eq!(rep.rewards.iter().sum::<u128>(), rep.distributed);
            prop_assert!(rep.distributed == rep.pool || rep.distributed == 0);
            prop_assert!(rep.wallets.windows(2).all(|w| w[0] < w[1]));
        }
        for (_, a) in &base.1 { prop_assert!(a.starts_with('F')); }
    }
}
