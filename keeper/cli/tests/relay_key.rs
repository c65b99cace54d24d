//! The claim relay is opt-in and never spends the voting key: `flex-keeper run` relays only with
//! `FLEX_RELAYER_KEY`, refuses to start when that is the keeper's own key, and shows the
//! relayer's account in `/v1/info` (served while the chain is unreachable).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flex_e2e::{bundle_path, free_port, http_get};

fn write_config(dir: &Path, port: u16) -> std::path::PathBuf {
    std::fs::copy(bundle_path("flex_reward_pool"), dir.join("pool.contract")).unwrap();
    std::fs::write(dir.join("weights.toml"), "swap = 1\n").unwrap();
    flex_types::secret::write_secret_file(&dir.join("alice.key"), "//Alice").unwrap();
    let config = dir.join("keeper.toml");
    // Port 1 on loopback: no chain answers, the keeper retries and the API still serves.
    std::fs::write(
        &config,
        format!(
            "[chain]\nurl = \"ws://127.0.0.1:1\"\n\
             contract = \"0x1111111111111111111111111111111111111111111111111111111111111111\"\n\
             bundle = \"pool.contract\"\nkey_file = \"alice.key\"\n\
             [protocol]\nweights = \"weights.toml\"\ngenesis = 1769644800\n\
             [store]\npath = \"k.db\"\n[api]\nlisten = \"127.0.0.1:{port}\"\n"
        ),
    )
    .unwrap();
    config
}

fn start(config: &Path, relayer: Option<&str>) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flex-keeper"));
    cmd.args(["run", "--config"])
        .arg(config)
        .env_remove("FLEX_RELAYER_KEY")
        .env_remove("FLEX_KEEPER_KEY")
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(r) = relayer {
        cmd.env("FLEX_RELAYER_KEY", r);
    }
    cmd.spawn().expect("start flex-keeper run")
}

/// `/v1/info`'s `relayer`, once the API answers.
fn relayer_shown(port: u16, child: &mut Child) -> serde_json::Value {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some((200, v)) = http_get(port, "/v1/info") {
            return v["relayer"].clone();
        }
        assert!(child.try_wait().unwrap().is_none(), "the keeper stopped");
        assert!(Instant::now() < until, "the API did not answer");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_relay_is_opt_in_and_never_the_voting_key() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), port);

    // The voting key as the relay key: the start is refused, naming the account.
    let out = start(&config, Some("//Alice")).wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "FLEX_RELAYER_KEY is the keeper's voting key (5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY)"
        ),
        "{err}"
    );

    // No relay key: no relayer (the relay answers 503 no_relayer).
    let mut keeper = start(&config, None);
    assert_eq!(relayer_shown(port, &mut keeper), serde_json::Value::Null);
    keeper.kill().unwrap();
    keeper.wait().unwrap();

    // A key of its own: shown.
    let mut keeper = start(&config, Some("//Eve"));
    let shown = relayer_shown(port, &mut keeper);
    keeper.kill().unwrap();
    keeper.wait().unwrap();
    assert!(shown.as_str().is_some_and(|s| !s.is_empty()), "{shown}");
    assert_ne!(
        shown.as_str(),
        Some("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY")
    );
}
