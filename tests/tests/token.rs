//! The PSP22 token on a real local chain: deploy from the `.contract` bundle, transfer, approve,
//! transfer_from, balances read back through contract queries, events, and a failing transfer.

use flex_chain::{ChainError, ContractEvent};
use flex_e2e::deploy::{self, TokenSpec};
use flex_e2e::{account, bundle, call_data, dev, AccountId32, Decode, Devnet, Encode};
use flex_pool::Psp22Error;

#[derive(Debug, PartialEq, Eq, Decode)]
struct Transfer {
    from: Option<AccountId32>,
    to: Option<AccountId32>,
    value: u128,
}

#[derive(Debug, PartialEq, Eq, Decode)]
struct Approval {
    owner: AccountId32,
    spender: AccountId32,
    amount: u128,
}

struct Token {
    chain: flex_chain::Chain,
    bundle: flex_chain::ContractBundle,
    address: AccountId32,
}

impl Token {
    fn data(&self, message: &str, args: impl Encode) -> Vec<u8> {
        call_data(self.bundle.message(message).expect("message in metadata"), args)
    }

    async fn balance_of(&self, who: &AccountId32) -> u128 {
        let data = self.data("PSP22::balance_of", who);
        self.chain
            .query(who, &self.address, &data)
            .await
            .expect("balance_of")
    }

    async fn allowance(&self, owner: &AccountId32, spender: &AccountId32) -> u128 {
        let data = self.data("PSP22::allowance", (owner, spender));
        self.chain
            .query(owner, &self.address, &data)
            .await
            .expect("allowance")
    }

    /// Decodes the events of one kind this token emitted, checking their signature topic.
    fn events<E: Decode>(&self, events: &[ContractEvent], label: &str) -> Vec<E> {
        let topic = self.bundle.event_topic(label).expect("event in metadata");
        events
            .iter()
            .filter(|e| e.contract == self.address && e.topics.first() == Some(&topic))
            .map(|e| E::decode(&mut &e.data[..]).expect("event data decodes"))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn psp22_token_on_the_devnet() {
    let devnet = Devnet::start();
    let chain = devnet.connect().await;
    let (alice, bob, charlie, dave) = (dev("alice"), dev("bob"), dev("charlie"), dev("dave"));
    let (a, b, c, d) = (account(&alice), account(&bob), account(&charlie), account(&dave));

    // Deploy from the bundle: Alice gets the initial supply, and a Transfer from None says so.
    let spec = TokenSpec {
        supply: 1_000_000,
        name: "Flex Reward".into(),
        symbol: "FLEXE".into(),
        decimals: 12,
    };
    let deployed = deploy::token(&chain, &alice, &bundle("flex_token"), &spec, b"token-e2e")
        .await
        .expect("instantiate");
    let token = Token {
        chain: chain.clone(),
        bundle: deployed.contract.bundle,
        address: deployed.contract.address,
    };
    assert_eq!(
        token.events::<Transfer>(&deployed.events, "Transfer"),
        vec![Transfer {
            from: None,
            to: Some(a.clone()),
            value: 1_000_000
        }]
    );

    // Metadata and supply through queries.
    let q = |m: &str| token.data(m, ());
    assert_eq!(
        chain
            .query::<u128>(&a, &token.address, &q("PSP22::total_supply"))
            .await
            .unwrap(),
        1_000_000
    );
    assert_eq!(
        chain
            .query::<Option<String>>(&a, &token.address, &q("PSP22Metadata::token_name"))
            .await
            .unwrap(),
        Some("Flex Reward".to_string())
    );
    assert_eq!(
        chain
            .query::<Option<String>>(&a, &token.address, &q("PSP22Metadata::token_symbol"))
            .await
            .unwrap(),
        Some("FLEXE".to_string())
    );
    assert_eq!(
        chain
            .query::<u8>(&a, &token.address, &q("PSP22Metadata::token_decimals"))
            .await
            .unwrap(),
        12
    );
    assert_eq!(token.balance_of(&a).await, 1_000_000);

    // transfer: Alice -> Bob 1000.
    let out = chain
        .call(
            &alice,
            &token.address,
            0,
            &token.data("PSP22::transfer", (&b, 1000u128, Vec::<u8>::new())),
        )
        .await
        .expect("transfer");
    assert_eq!(
        token.events::<Transfer>(&out.events, "Transfer"),
        vec![Transfer {
            from: Some(a.clone()),
            to: Some(b.clone()),
            value: 1000
        }]
    );
    assert_eq!(token.balance_of(&a).await, 999_000);
    assert_eq!(token.balance_of(&b).await, 1000);

    // approve: Bob lets Charlie spend 400.
    let out = chain
        .call(
            &bob,
            &token.address,
            0,
            &token.data("PSP22::approve", (&c, 400u128)),
        )
        .await
        .expect("approve");
    assert_eq!(
        token.events::<Approval>(&out.events, "Approval"),
        vec![Approval {
            owner: b.clone(),
            spender: c.clone(),
            amount: 400
        }]
    );
    assert_eq!(token.allowance(&b, &c).await, 400);

    // transfer_from: Charlie moves 300 of Bob's to Dave; the allowance drops to 100.
    let out = chain
        .call(
            &charlie,
            &token.address,
            0,
            &token.data("PSP22::transfer_from", (&b, &d, 300u128, Vec::<u8>::new())),
        )
        .await
        .expect("transfer_from");
    assert_eq!(
        token.events::<Transfer>(&out.events, "Transfer"),
        vec![Transfer {
            from: Some(b.clone()),
            to: Some(d.clone()),
            value: 300
        }]
    );
    assert_eq!(
        token.events::<Approval>(&out.events, "Approval"),
        vec![Approval {
            owner: b.clone(),
            spender: c.clone(),
            amount: 100
        }]
    );
    assert_eq!(token.balance_of(&b).await, 700);
    assert_eq!(token.balance_of(&d).await, 300);
    assert_eq!(token.allowance(&b, &c).await, 100);

    // Failure: Dave has 300 and sends 1000. The dry run returns the typed error...
    let overdraw = token.data("PSP22::transfer", (&a, 1000u128, Vec::<u8>::new()));
    let err = chain
        .call(&dave, &token.address, 0, &overdraw)
        .await
        .expect_err("overdraw must fail");
    let ChainError::Reverted { output, .. } = err else {
        panic!("expected a revert, got {err}")
    };
    let result: Result<(), Psp22Error> = flex_chain::decode_message_output(&output).expect("typed error");
    assert_eq!(result, Err(Psp22Error::InsufficientBalance));

    // ...and forcing it on chain anyway fails the extrinsic and changes nothing.
    let dry = chain
        .dry_run_call(&d, &token.address, 0, &overdraw)
        .await
        .expect("dry run");
    let forced = chain
        .submit_call(&dave, &token.address, 0, &overdraw, dry.gas_required, None)
        .await;
    let err = forced.expect_err("the chain must reject the overdraw");
    assert!(
        err.to_string().contains("ContractReverted"),
        "unexpected error: {err}"
    );
    // A failure in the block, told apart from an unreachable chain (a keeper re-reads the state
    // instead of reconnecting).
    assert!(
        matches!(err, ChainError::Dispatch { .. }),
        "not a dispatch error: {err:?}"
    );
    assert_eq!(token.balance_of(&d).await, 300);
    assert_eq!(token.balance_of(&a).await, 999_000);

    // Transfer-from beyond the allowance is refused the same way.
    let over_allowance = token.data("PSP22::transfer_from", (&b, &d, 101u128, Vec::<u8>::new()));
    let err = chain
        .call(&charlie, &token.address, 0, &over_allowance)
        .await
        .expect_err("beyond allowance");
    let ChainError::Reverted { output, .. } = err else {
        panic!("expected a revert, got {err}")
    };
    let result: Result<(), Psp22Error> = flex_chain::decode_message_output(&output).expect("typed error");
    assert_eq!(result, Err(Psp22Error::InsufficientAllowance));
}

#[tokio::test(flavor = "multi_thread")]
async fn chain_time_moves_with_dev_rpcs() {
    let devnet = Devnet::start();
    let chain = devnet.connect().await;
    let before = chain.timestamp_ms().await.unwrap();
    // chopsticks starts the chain at wall-clock time; jump 40 days ahead of wherever it is.
    let target = before + 40 * 86_400_000;
    flex_chain::dev::time_travel(chain.rpc(), target).await.unwrap();
    flex_chain::dev::new_blocks(chain.rpc(), 1).await.unwrap();
    let after = chain.timestamp_ms().await.unwrap();
    assert!(after >= target, "timestamp {after} did not reach {target}");
    assert!(after < target + 60_000, "timestamp {after} overshot {target}");
}
