//! `flex-keeper merkle …`: OpenZeppelin standard-v1 dumps, proofs and verification.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use flex_merkle::hash::{parse_hash, to_hex};
use flex_merkle::input::{read_leaves, InputError};
use flex_merkle::value::parse_address;
use flex_merkle::Address;
use flex_merkle::{load_any, AnyTree, ClaimLeaf, Hash, Leaf, ScoreLeaf, StandardMerkleTree};
use serde_json::{json, Value};

#[derive(Args)]
pub struct MerkleArgs {
    #[command(subcommand)]
    command: MerkleCommand,
}

#[derive(Clone, Copy, ValueEnum)]
enum LeafKind {
    /// Monthly claim leaf (uint32 month_index, address wallet, uint128 amount).
    Claim,
    /// Epoch score leaf (uint64 epoch, address wallet, uint8 score, uint128 weight_bits, uint128 reward).
    Score,
}

#[derive(Subcommand)]
enum MerkleCommand {
    /// Build a tree from a JSON array of leaf objects and write OpenZeppelin's standard-v1 dump;
    /// or, with --store and --month, write a month's claim tree as a keeper's store holds it (the
    /// same bytes as the API's GET /v1/months/{month}/tree).
    Dump {
        #[arg(long, value_enum, required_unless_present = "store")]
        leaf: Option<LeafKind>,
        /// JSON array of objects: claims {"month_index","wallet","amount"}, scores
        /// {"epoch","wallet","score","weight_bits","reward"}; integers as numbers or decimal strings.
        #[arg(long, required_unless_present = "store", conflicts_with = "store")]
        input: Option<PathBuf>,
        /// A keeper's SQLite store (its `store.path`); every node and leaf is checked before
        /// anything is written.
        #[arg(long, requires = "month", conflicts_with = "leaf")]
        store: Option<PathBuf>,
        /// The month of --store: YYYY-MM (2026-01) or its index (24312).
        #[arg(long, requires = "store")]
        month: Option<flex_engine::calendar::Month>,
        /// Where to write the dump (written whole or not at all).
        #[arg(long)]
        output: PathBuf,
    },
    /// Print value, leaf hash, proof and root for every leaf of a wallet in a dump.
    Proof {
        #[arg(long)]
        dump: PathBuf,
        #[arg(long)]
        wallet: String,
    },
    /// Verify a proof against a root (exit 0 valid, 1 invalid), or with --dump validate a whole dump.
    Verify {
        /// Validate this dump (every leaf and node, as StandardMerkleTree.load does) instead.
        #[arg(long, conflicts_with_all = ["root", "leaf", "value", "proof"])]
        dump: Option<PathBuf>,
        /// The 0x-hex root.
        #[arg(long, required_unless_present = "dump")]
        root: Option<String>,
        #[arg(long, value_enum, required_unless_present = "dump")]
        leaf: Option<LeafKind>,
        /// The value as JSON: the dump's array form (["24311","0x…","123"]) or the input object form.
        #[arg(long, required_unless_present = "dump")]
        value: Option<String>,
        /// The proof as a JSON array of 0x-hex hashes (`[]` for a single-leaf tree).
        #[arg(long, required_unless_present = "dump")]
        proof: Option<String>,
    },
}

pub fn run(args: MerkleArgs) -> Result<()> {
    match args.command {
        MerkleCommand::Dump {
            store: Some(store),
            month: Some(month),
            output,
            ..
        } => dump_store(&store, month, &output),
        MerkleCommand::Dump {
            leaf: Some(leaf),
            input: Some(input),
            output,
            ..
        } => match leaf {
            LeafKind::Claim => dump::<ClaimLeaf>(&input, &output),
            LeafKind::Score => dump::<ScoreLeaf>(&input, &output),
        },
        MerkleCommand::Dump { .. } => {
            bail!("merkle dump needs --leaf and --input, or --store and --month")
        }
        MerkleCommand::Proof { dump, wallet } => proof(&dump, &wallet),
        MerkleCommand::Verify { dump: Some(dump), .. } => validate(&dump),
        MerkleCommand::Verify {
            root,
            leaf,
            value,
            proof,
            ..
        } => {
            let (Some(root), Some(leaf), Some(value), Some(proof)) = (root, leaf, value, proof) else {
                bail!("merkle verify needs --root, --leaf, --value and --proof (or --dump)");
            };
            match leaf {
                LeafKind::Claim => verify::<ClaimLeaf>(&root, &value, &proof),
                LeafKind::Score => verify::<ScoreLeaf>(&root, &value, &proof),
            }
        }
    }
}

fn dump<L: Leaf>(input: &Path, output: &Path) -> Result<()> {
    let file = File::open(input).with_context(|| format!("cannot open {}", input.display()))?;
    let values = read_leaves::<L>(file).map_err(|e| match e {
        InputError::Value(v) => anyhow::anyhow!("{}: {v}", input.display()),
        InputError::Json(j) => anyhow::anyhow!("{}: not a JSON array of leaf objects: {j}", input.display()),
    })?;
    let tree = StandardMerkleTree::of(values).with_context(|| format!("{}", input.display()))?;
    write_atomically(output, |w| tree.write_dump(w))?;
    println!(
        "{}",
        json!({"root": to_hex(&tree.root()), "leaves": tree.len(), "output": output.display().to_string()})
    );
    Ok(())
}

/// A month's claim tree from a keeper's store, checked, written as the API publishes it.
fn dump_store(path: &Path, month: flex_engine::calendar::Month, output: &Path) -> Result<()> {
    // Opening creates a missing database: refuse a path that is not one.
    if !path.is_file() {
        bail!("--store {}: no such database file", path.display());
    }
    let store = flex_store::SqliteStore::open(path).with_context(|| format!("--store {}", path.display()))?;
    let m = month.0;
    let Some((record, tree)) =
        flex_api::stored_claim_tree(&store, m).with_context(|| format!("--store {}", path.display()))?
    else {
        bail!(
            "--store {}: month {month} ({m}) has no claim tree there (not closed yet, before genesis, or no claims)",
            path.display()
        );
    };
    write_atomically(output, |w| tree.write_dump(w))?;
    println!(
        "{}",
        json!({"root": to_hex(&tree.root()), "leaves": tree.len(), "month": month.to_string(), "month_index": m,
               "phase": record.phase.as_str(), "output": output.display().to_string()})
    );
    Ok(())
}

/// Writes to a temporary file beside `path` and renames it into place, so a failure leaves
/// nothing (and no half-written dump) behind.
fn write_atomically(path: &Path, write: impl FnOnce(&mut File) -> io::Result<()>) -> Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| -> io::Result<()> {
        let mut f = File::create(&tmp)?;
        write(&mut f)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

fn load_dump(path: &Path) -> Result<AnyTree> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    load_any(file).with_context(|| format!("{}", path.display()))
}

fn value_json<L: Leaf>(v: &L) -> Result<Value> {
    let mut out = Vec::new();
    v.write_json(&mut out)?;
    Ok(serde_json::from_slice(&out)?)
}

fn wallet_proofs<L: Leaf>(t: &StandardMerkleTree<L>, wallet: &Address) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for (i, v) in t.values().iter().enumerate() {
        if v.wallet() == wallet {
            let proof: Vec<String> = t.get_proof(i)?.iter().map(to_hex).collect();
            out.push(json!({
                "value": value_json(v)?,
                "treeIndex": t.tree_index(i)?,
                "leaf": to_hex(&t.leaf_hash_at(i)?),
                "proof": proof,
            }));
        }
    }
    Ok(out)
}

fn proof(dump: &Path, wallet: &str) -> Result<()> {
    let w = parse_address(&Value::String(wallet.into())).map_err(|e| anyhow::anyhow!("--wallet: {e}"))?;
    let tree = load_dump(dump)?;
    let (encoding, proofs) = match &tree {
        AnyTree::Claim(t) => (ClaimLeaf::ENCODING, wallet_proofs(t, &w)?),
        AnyTree::Score(t) => (ScoreLeaf::ENCODING, wallet_proofs(t, &w)?),
    };
    if proofs.is_empty() {
        bail!("{}: wallet {w} has no leaf in this tree", dump.display());
    }
    let out = json!({
        "root": to_hex(&tree.root()),
        "leafEncoding": encoding,
        "wallet": w.to_string(),
        "proofs": proofs,
    });
    let mut stdout = io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &out)?;
    writeln!(stdout)?;
    Ok(())
}

fn validate(dump: &Path) -> Result<()> {
    let tree = load_dump(dump)?;
    let leaves = match &tree {
        AnyTree::Claim(t) => t.len(),
        AnyTree::Score(t) => t.len(),
    };
    println!(
        "{}",
        json!({"valid": true, "root": to_hex(&tree.root()), "leaves": leaves})
    );
    Ok(())
}

fn verify<L: Leaf>(root: &str, value: &str, proof: &str) -> Result<()> {
    let root = parse_hash(root).with_context(|| format!("--root: {root:?} is not a 32-byte hex hash"))?;
    let v: Value = serde_json::from_str(value).context("--value: not JSON")?;
    let leaf = if v.is_array() {
        L::from_json_array(&v, 0)
    } else {
        L::from_json_object(&v, 0)
    }
    .map_err(|e| anyhow::anyhow!("--value: field `{}`: {}", e.field, e.reason))?;
    let p: Vec<String> = serde_json::from_str(proof).context("--proof: not a JSON array of hex strings")?;
    let proof = p
        .iter()
        .enumerate()
        .map(|(i, s)| parse_hash(s).with_context(|| format!("--proof[{i}]: {s:?} is not a 32-byte hex hash")))
        .collect::<Result<Vec<Hash>>>()?;
    let leaf_hash = leaf.leaf_hash();
    let computed = flex_merkle::core::process_proof(&leaf_hash, &proof);
    if computed == root {
        println!(
            "{}",
            json!({"valid": true, "leaf": to_hex(&leaf_hash), "root": to_hex(&root)})
        );
        Ok(())
    } else {
        bail!(
            "invalid proof: leaf {} with this proof gives root {}, expected {}",
            to_hex(&leaf_hash),
            to_hex(&computed),
            to_hex(&root)
        )
    }
}
