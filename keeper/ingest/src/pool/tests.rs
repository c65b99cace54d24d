use super::*;
use crate::weights::{parse_weight_table, WeightFormat};
use flex_engine::{ConnectionBonus, Genesis, Replay, ReplayConfig};
use proptest::prelude::*;

fn table() -> WeightTable {
    parse_weight_table(r#"{"swap":"2.5","vote":"1"}"#, WeightFormat::Json).unwrap()
}

fn parse(text: &str) -> Result<ParsedPool, IngestError> {
    parse_pool(text.as_bytes(), "pool.json", &table())
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

const A: &str = "0xAAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

#[test]
fn parses_the_docs_shape() {
    let text = format!(
        r#"{{"version":3,"wallets":[
        {{"address":"{A}","connected_at":"2026-01-01T00:00:00Z","label":"x","actions":{{
            "onchain":[{{"action_id":"t1","kind":"swap","timestamp":1767225700,"source":"dex","side":"onchain"}}],
            "offchain":[{{"timestamp":"2026-01-01T05:00:00+01:00","kind":"vote","action_id":7}}]}}}},
        {{"connected_at":1767225600,"address":"{B}"}},
        {{"address":"0xcccccccccccccccccccccccccccccccccccccccc","connected_at":0,"actions":{{
            "offchain":[{{"action_id":"7","kind":"vote","timestamp":"2026-01-01T04:00:00Z"}}]}}}}
    ]}}"#
    );
    // "7" and 7 are the same id, but wallet 2's copy belongs to another wallet: conflict.
    let e = err(&text);
    assert!(e.contains("pool.json"), "{e}");
    assert!(e.contains("action_id \"7\""), "{e}");
    assert!(e.contains("different wallet"), "{e}");
    // Same id, same wallet, same content: counted once.
    let text = text.replace(
        r#"{"action_id":"7","kind":"vote","timestamp":"2026-01-01T04:00:00Z"}"#,
        r#"{"action_id":"8","kind":"vote","timestamp":"2026-01-01T04:00:00Z"}"#,
    );
    let text = text.replace(
        r#""onchain":[{"action_id":"t1""#,
        r#""onchain":[{"action_id":"t1","kind":"swap","timestamp":1767225700},{"action_id":"t1""#,
    );
    let p = parse(&text).unwrap();
    assert_eq!(p.wallets.len(), 3);
    assert_eq!(p.wallets[0].address.to_string(), A.to_lowercase());
    assert_eq!(p.wallets[0].connected_at, 1_767_225_600);
    assert_eq!(p.duplicate_actions, 1);
    assert_eq!(
        p.actions,
        vec![
            Action {
                wallet: 0,
                kind: 0,
                timestamp: 1_767_225_700
            },
            Action {
                wallet: 0,
                kind: 1,
                timestamp: 1_767_240_000
            },
            Action {
                wallet: 2,
                kind: 1,
                timestamp: 1_767_240_000
            },
        ]
    );
}

#[test]
fn errors_name_file_wallet_action_and_field() {
    let w = |actions: &str| {
        format!(r#"{{"wallets":[{{"connected_at":0,"actions":{{"onchain":[{actions}]}},"address":"{A}"}}]}}"#)
    };
    let a = A.to_lowercase();
    let cases: Vec<(String, Vec<String>)> = vec![
        (
            // The id and the address come after the bad field: still named.
            w(r#"{"timestamp":"yesterday","kind":"swap","action_id":"x1"}"#),
            vec![
                format!("pool.json: wallet {a} (wallets[0])"),
                "actions.onchain[0] (action_id \"x1\")".into(),
                "field \"timestamp\"".into(),
                "\"yesterday\"".into(),
            ],
        ),
        (
            w(
                r#"{"action_id":"x1","kind":"swap","timestamp":1},{"action_id":"x2","kind":"mint","timestamp":1}"#,
            ),
            vec![
                format!("wallet {a}"),
                "actions.onchain[1] (action_id \"x2\")".into(),
                "field \"kind\"".into(),
                "unknown kind \"mint\"".into(),
            ],
        ),
        (
            w(r#"{"action_id":"x1","kind":"swap"}"#),
            vec!["field \"timestamp\": missing field".into()],
        ),
        (
            // Ids of the chain followers and of attesters are not a file's to take.
            w(r#"{"action_id":"off:0xaa:x","kind":"swap","timestamp":1}"#),
            vec![
                "actions.onchain[0]".into(),
                "field \"action_id\"".into(),
                "ids starting with \"off:\" are reserved for signed off-chain batches".into(),
            ],
        ),
        (
            w(r#"{"action_id":"evm:1:0xab:0","kind":"swap","timestamp":1}"#),
            vec!["ids starting with \"evm:\" are reserved for the EVM follower".into()],
        ),
        (
            w(r#"{"action_id":"sub:0x45:7:1","kind":"swap","timestamp":1}"#),
            vec!["ids starting with \"sub:\" are reserved for the Substrate follower".into()],
        ),
        (
            w(r#"{"action_id":"x1","kind":"swap","timestamp":1.5}"#),
            vec!["non-integer number 1.5".into()],
        ),
        (
            w(r#"{"action_id":"x1","kind":["swap"],"timestamp":1}"#),
            vec!["found an array".into()],
        ),
        (
            w(r#"{"action_id":null,"kind":"swap","timestamp":1}"#),
            vec!["field \"action_id\"".into(), "null".into()],
        ),
        (
            w(
                r#"{"action_id":"x1","kind":"swap","timestamp":1},{"action_id":"x1","kind":"swap","timestamp":2}"#,
            ),
            vec![
                "actions.onchain[1] (action_id \"x1\")".into(),
                "field \"timestamp\"".into(),
                "different timestamp".into(),
                "actions.onchain[0]".into(),
            ],
        ),
        (
            r#"{"wallets":[{"address":"0x12","connected_at":0}]}"#.into(),
            vec![
                "wallet wallets[0], field \"address\"".into(),
                "not an address".into(),
            ],
        ),
        (
            format!(
                r#"{{"wallets":[{{"address":"{A}","connected_at":0}},{{"address":"{}","connected_at":1}}]}}"#,
                a
            ),
            vec![format!(
                "wallet {a} (wallets[1]), field \"address\": wallet listed twice (also at wallets[0])"
            )],
        ),
        (
            format!(r#"{{"wallets":[{{"address":"{A}"}}]}}"#),
            vec!["field \"connected_at\": missing field".into()],
        ),
        (
            r#"{"wallet":[]}"#.into(),
            vec!["pool.json: field \"wallets\": missing field".into()],
        ),
        (
            // Truncated file: the syntax error says where, and the context so far.
            format!(
                r#"{{"wallets":[{{"address":"{A}","connected_at":0,"actions":{{"onchain":[{{"action_id":"q","#
            ),
            vec![
                format!("wallet {a} (wallets[0])"),
                "actions.onchain[0] (action_id \"q\")".into(),
                "line 1".into(),
            ],
        ),
        (
            r#"[1,2]"#.into(),
            vec!["pool.json: top level: invalid type".into()],
        ),
    ];
    for (text, needles) in cases {
        let e = err(&text);
        for n in needles {
            assert!(e.contains(&n), "missing {n:?} in: {e}");
        }
    }
}

#[test]
fn nothing_half_applied_on_a_late_error() {
    // A valid wallet, then a broken one: the whole parse fails.
    let text = format!(
        r#"{{"wallets":[{{"address":"{A}","connected_at":0}},{{"address":"{B}","connected_at":"x"}}]}}"#
    );
    assert!(parse(&text).is_err());
}

/// A pool as data, to be written as JSON in any order.
/// (action id, onchain, kind, seconds after genesis)
type GenAction = (u32, bool, u8, i64);

#[derive(Debug, Clone)]
struct Gen {
    wallets: Vec<(u8, i64, Vec<GenAction>)>, // (address byte, connection day, actions)
}

fn gen() -> impl Strategy<Value = Gen> {
    prop::collection::vec(
        (
            any::<u8>(),
            -1i64..4,
            prop::collection::vec((0u32..1000, any::<bool>(), 0u8..2, 0i64..(5 * 86_400)), 0..8),
        ),
        0..25,
    )
    .prop_map(|mut w| {
        w.sort_by_key(|x| x.0);
        w.dedup_by_key(|x| x.0);
        // Make ids unique per wallet: id = wallet byte * 1000 + id.
        for (b, _, acts) in &mut w {
            for a in acts.iter_mut() {
                a.0 += u32::from(*b) * 1000;
            }
            acts.sort_by_key(|a| a.0);
            acts.dedup_by_key(|a| a.0);
        }
        Gen { wallets: w }
    })
}

const G: i64 = 1_767_225_600;

fn to_json(g: &Gen, seed: u64) -> String {
    let mut rng = seed | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut wallets: Vec<String> = Vec::new();
    for (b, day, acts) in &g.wallets {
        let mut on: Vec<String> = Vec::new();
        let mut off: Vec<String> = Vec::new();
        for &(id, onchain, kind, ts) in acts {
            let kind = ["swap", "vote"][usize::from(kind)];
            // Alternate the timestamp's form; duplicate some actions.
            let t = if next() % 2 == 0 {
                (G + ts).to_string()
            } else {
                format!("\"{}\"", rfc(G + ts))
            };
            let one = format!(r#"{{"kind":"{kind}","action_id":"{id}","timestamp":{t}}}"#);
            let list = if onchain { &mut on } else { &mut off };
            if next() % 4 == 0 {
                list.push(one.clone());
            }
            list.push(one);
        }
        shuffle(&mut on, &mut next);
        shuffle(&mut off, &mut next);
        let addr = if next() % 2 == 0 {
            format!("0x{:040x}", b)
        } else {
            format!("0x{:040X}", b)
        };
        wallets.push(format!(
            r#"{{"actions":{{"offchain":[{}],"onchain":[{}]}},"address":"{addr}","connected_at":{}}}"#,
            off.join(","),
            on.join(","),
            G + day * 86_400 + 3
        ));
    }
    shuffle(&mut wallets, &mut next);
    format!(r#"{{"wallets":[{}]}}"#, wallets.join(","))
}

fn shuffle<T>(v: &mut [T], next: &mut impl FnMut() -> u64) {
    for i in (1..v.len()).rev() {
        v.swap(i, (next() % (i as u64 + 1)) as usize);
    }
}

fn rfc(ts: i64) -> String {
    let (days, secs) = (ts.div_euclid(86_400), ts.rem_euclid(86_400));
    // 2026-01-01 is day 20454; the generator stays within January 2026.
    let day_of_month = days - 20_454 + 1;
    format!(
        "2026-01-{day_of_month:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn replay(p: &ParsedPool) -> Vec<flex_engine::EpochReport> {
    let cfg = ReplayConfig {
        genesis: Genesis::new(G).unwrap(),
        balance: 10u128.pow(24),
        bonus: ConnectionBonus::Active,
        epochs: None,
    };
    let mut r = Replay::new(&p.wallets, &p.actions, &table(), cfg).unwrap();
    std::iter::from_fn(|| r.next_epoch()).collect()
}

proptest! {
    /// Any order of wallets and actions, any address case, either timestamp form, repeated
    /// actions: the same replay.
    #[test]
    fn file_order_does_not_matter(g in gen(), s1 in any::<u64>(), s2 in any::<u64>()) {
        let a = parse(&to_json(&g, s1)).unwrap();
        let b = parse(&to_json(&g, s2)).unwrap();
        prop_assert_eq!(a.actions.len(), b.actions.len());
        prop_assert_eq!(replay(&a), replay(&b));
    }
}

#[test]
fn unix_seconds_may_be_written_as_a_string_of_digits() {
    let as_string = format!(
        r#"{{"wallets":[{{"address":"{A}","connected_at":"1767225600","actions":{{
            "onchain":[{{"action_id":"s","kind":"swap","timestamp":"1767229200"}}]}}}}]}}"#
    );
    let as_number = format!(
        r#"{{"wallets":[{{"address":"{A}","connected_at":1767225600,"actions":{{
            "onchain":[{{"action_id":"s","kind":"swap","timestamp":1767229200}}]}}}}]}}"#
    );
    let (s, n) = (parse(&as_string).unwrap(), parse(&as_number).unwrap());
    assert_eq!(s.wallets, n.wallets);
    assert_eq!(s.actions, n.actions);
    // Not digits and not RFC 3339: still an error naming the field.
    let bad = as_string.replace("\"1767229200\"", "\"1767229200s\"");
    assert!(err(&bad).contains("\"timestamp\""), "{}", err(&bad));
}
